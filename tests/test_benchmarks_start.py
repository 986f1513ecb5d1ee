"""Every benchmark script starts: its imports resolve and its options parse (`--help`).

Benchmarks are not tests (their figures depend on the machine), but one that no longer starts —
an import of a name the engine dropped — goes unnoticed until someone needs its figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))

_RUN_ALL = """
import contextlib, io, runpy, sys
failed = []
for path in sys.argv[1:]:
    sys.argv = [path, "--help"]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (0, None):
            failed.append(f"{path}: exit {exc.code}")
        elif "usage" not in out.getvalue():
            failed.append(f"{path}: --help printed no usage")
    except BaseException as exc:
        failed.append(f"{path}: {type(exc).__name__}: {exc}")
    else:
        failed.append(f"{path}: ran instead of printing its --help")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_benchmark_starts():
    assert len(SCRIPTS) >= 9
    p = subprocess.run([sys.executable, "-c", _RUN_ALL, *map(str, SCRIPTS)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
