"""Decisions are the same bytes from any working directory and from an installed wheel.

The wheel test builds the project's wheel, installs it (no dependencies) into a fresh virtual
environment that borrows this environment's dependencies, and decides every example there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
NOW = "2026-11-21T12:00:00+00:00"
DECIDE = """
import json, sys
from pathlib import Path
from engine import bundled, evaluate, load_policy
from engine.check.tickets import parse_timestamp
ids = sorted(bundled(), key=len, reverse=True)
out = {}
for path in sys.argv[2:]:
    name = Path(path).stem
    pid = next(p for p in ids if name.startswith(p + "-"))
    ticket = json.loads(Path(path).read_text())
    now = parse_timestamp(sys.argv[1])
    d = evaluate(load_policy(pid), ticket,
                 now=now if parse_timestamp(ticket["submitted_at"]) <= now else None)
    out[name] = d.canonical()
print(json.dumps(out))
"""


def decide_in(python: str, cwd: Path, env: dict | None = None) -> dict[str, str]:
    done = subprocess.run([python, "-c", DECIDE, NOW, *map(str, EXAMPLES)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_decisions_do_not_depend_on_the_working_directory(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    here = decide_in(sys.executable, ROOT, env)
    elsewhere = decide_in(sys.executable, tmp_path, env)
    assert here == elsewhere and len(here) == len(EXAMPLES)
    assert all('"path":"policy.yaml"' in d for d in here.values())


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")  # `pip wheel ROOT` builds in ROOT/build: one at a time
def test_decisions_from_an_installed_wheel_are_identical(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(wheels), str(ROOT)], check=True, timeout=300,
                   capture_output=True)
    wheel = next(wheels.glob("ticket_policy-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies (durable-rules builds from source) come from this environment
    Path(site, "borrowed-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # --ignore-installed: without it pip first uninstalls this environment's own (editable)
    # ticket-policy, and the developer's `ticket-policy` command is gone after the suite
    console = Path(sys.executable).parent / "ticket-policy"
    had_console = console.exists()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                    "--prefix", str(venv), str(wheel)], check=True, timeout=300,
                   capture_output=True)
    assert console.exists() == had_console, "installing the wheel elsewhere removed this one"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    installed = decide_in(python, tmp_path, env)
    where = subprocess.run([python, "-c", "import engine; print(engine.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(venv)), where  # really the installed copy
    checkout = decide_in(sys.executable, ROOT, {**os.environ, "PYTHONPATH": str(ROOT)})
    assert installed == checkout
