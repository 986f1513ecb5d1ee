"""Run CLI commands in a real process: its real standard streams, encoding and hash seed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEPARATOR = "\n=== exit {} ===\n"
# several commands in one process: each exit code, and what each wrote, split by a marker
COMMANDS_SCRIPT = """
import json, sys
from cli import main
for args in json.loads(sys.argv[1]):
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code or 0
    for stream in (sys.stdout, sys.stderr):
        stream.write(SEPARATOR.format(code))
        stream.flush()
""".replace("SEPARATOR", repr(SEPARATOR))


def cli_many(commands: list[list[str]], encoding: str = "utf-8", hash_seed: str = "0",
             timeout: float = 300) -> list[tuple[int, bytes, bytes]]:
    """(exit code, stdout, stderr) of each command, run one after the other in one process
    whose standard streams use `encoding` (PYTHONIOENCODING). The process itself must exit
    normally: an exception escaping a command (a traceback) or a signal fails the call."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": encoding,
           "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", COMMANDS_SCRIPT, json.dumps(commands)],
                          capture_output=True, cwd=ROOT, env=env, timeout=timeout)
    assert done.returncode == 0, (done.returncode, done.stderr[-3000:])
    pattern = re.escape(SEPARATOR).replace(r"\{\}", r"(\d+)").encode()
    outs, errs = re.split(pattern, done.stdout), re.split(pattern, done.stderr)
    assert len(outs) == len(errs) == 2 * len(commands) + 1, done.stderr[-3000:]
    return [(int(outs[2 * i + 1]), outs[2 * i], errs[2 * i]) for i in range(len(commands))]
