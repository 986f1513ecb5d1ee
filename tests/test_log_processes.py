"""Several writer processes on one log lose nothing and keep one chain; a writer SIGKILLed at a
random moment loses nothing it acknowledged (a record id is printed only after `append`
returned), and the next writer continues the chain on the same file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import ROOT

from engine.ops.log.chain import verify
from engine.ops.log.query import LogReader

WRITER = textwrap.dedent("""
    import sys
    from log_helpers import tickets
    from engine import Evaluator, load_policy
    from engine.ops.log import DecisionLog, Entry

    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cp = load_policy("zmanda")
    batch = tickets(cp, 200, seed=hash(name) % 1000, prefix=name)
    ev = Evaluator()
    decisions = [ev.evaluate(cp, t) for t in batch]
    print("ready", flush=True)
    with DecisionLog.open(path) as log:
        i = 0
        while count < 0 or i < count:
            k = i % len(batch)
            if i % 4 == 3:   # a group commit of three
                group = [Entry(decisions[(k + j) % 200], cp, batch[(k + j) % 200])
                         for j in range(3)]
                receipts = log.append_many(group)
            else:
                receipts = [log.append(decisions[k], policy=cp, ticket=batch[k], request_id=name)]
            for r in receipts:   # acknowledged: durable before this line is written
                print(r.decision_id, flush=True)
            i += 1
""")


def _start(path, name: str, count: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _logged(path) -> set[str]:
    with LogReader(path) as reader:
        return {rec.record["decision_id"] for rec in reader._rows()}


@pytest.mark.parametrize(("writers", "count"), [
    (2, 20), pytest.param(3, 80, marks=pytest.mark.slow),
    pytest.param(4, 60, marks=pytest.mark.slow)])
def test_concurrent_writer_processes_lose_nothing(tmp_path, writers, count):
    path = tmp_path / "log.db"
    procs = [_start(path, f"w{i}", count) for i in range(writers)]
    acknowledged = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        acknowledged += out.split()
    assert len(acknowledged) == writers * (count - count // 4 + count // 4 * 3)
    report = verify(path)
    assert report.ok, report.problems
    assert report.records == len(acknowledged) and _logged(path) == set(acknowledged)


@pytest.mark.slow
def test_a_killed_writer_loses_nothing_it_acknowledged(tmp_path):
    path = tmp_path / "log.db"
    rnd = random.Random(7)
    acknowledged: list[str] = []
    for _ in range(10):
        procs = [_start(path, f"k{i}", -1) for i in range(2)]   # two writers, as two workers
        time.sleep(rnd.uniform(0.05, 1.5))
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
        for proc in procs:
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == -signal.SIGKILL
            acknowledged += [line for line in out.split("\n") if len(line) == 36]
        report = verify(path)   # the chain verifies after every crash ...
        assert report.ok, report.problems
        missing = set(acknowledged) - _logged(path)
        assert not missing, f"{len(missing)} acknowledged records lost"   # ... nothing lost
    assert len(acknowledged) > 10
