"""`batch --log`: every decided line's record is in the decision log, in input order (with
worker processes too), and `log verify` and `replay` reproduce every decision; a line reaches
the output only once its record is durable (a killed run's output holds no line the log lacks),
and a resumed run logs no line twice (not the chunk a kill caught committed but unwritten);
a log that cannot be written exits 4 and leaves nothing under the final name."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from batch_corpus import golden_corpus
from click.testing import CliRunner
from conftest import ROOT, campaign
from test_batch_faults import run_until, write_corpus
from test_log_cli import _readonly_prefix

from cli import main
from engine import load_policy
from engine.adapters.batch.direct import DirectFile
from engine.adapters.batch.local import LOG_WORKER_NICENESS
from engine.adapters.batch.slots import SlotPool
from engine.ops.log.query import LogReader

NOW = "2027-01-15T12:00:00+00:00"


def _ids(log) -> list[str]:
    """The logged records' ticket ids in log order."""
    conn = sqlite3.connect(f"file:{log}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT ticket_id FROM records ORDER BY seq")]
    finally:
        conn.close()


def decided_ids(out) -> list[str]:
    """The ticket ids of the decided lines (of the complete lines: a killed run's last line
    may be cut)."""
    data = out.read_bytes()
    return [json.loads(x)["ticket_id"] for x in data[:data.rfind(b"\n") + 1].splitlines()
            if not x.startswith(b'{"line":')]


def cli(*args: str):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("workers", ["1", pytest.param("2", marks=pytest.mark.slow)])
def test_every_decided_line_is_logged_in_order_and_replays(tmp_path, workers):
    src, out, log = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "d.db"
    lines = campaign(1500, 2500)                  # 1,500 lines are two chunks, 2,500 three
    src.write_bytes(b"".join(x + b"\n" for x in golden_corpus(load_policy("cloudtalk"), lines)))
    r = CliRunner().invoke(main, ["batch", "-p", "cloudtalk", "--now", NOW, str(src), "-o",
                                  str(out), "--log", str(log), "--workers", workers])
    assert r.exit_code == 1, r.stderr                       # the corpus has rejected lines
    decided = decided_ids(out)
    assert 0 < len(decided) < lines
    assert _ids(log) == decided
    verify = cli("log", "verify", str(log))
    assert verify.returncode == 0 and f"{len(decided)} record(s)" in verify.stdout
    replay = cli("replay", str(log))
    assert replay.returncode == 0, replay.stdout
    assert f"{len(decided)} reproduced, 0 differ" in replay.stdout


def test_the_logged_decisions_are_the_written_ones(tmp_path):
    src, out, log = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "d.db"
    src.write_bytes(b"".join(x + b"\n" for x in golden_corpus(load_policy("zmanda"), 300)))
    r = CliRunner().invoke(main, ["batch", "-p", "zmanda", str(src), "-o", str(out), "--log",
                                  str(log), "--workers", "1"])
    assert r.exit_code == 1
    written = [json.loads(x) for x in out.read_bytes().splitlines()
               if not x.startswith(b'{"line":')]
    with LogReader(str(log)) as reader:
        for seq, decision in enumerate(written, 1):
            assert reader.get(str(seq)).decision_json == decision


@pytest.mark.slow
def test_a_killed_run_writes_no_line_the_log_lacks_and_resumes(tmp_path):
    src = write_corpus(tmp_path / "in.jsonl", 6000, policy="zmanda")
    out, log = tmp_path / "out.jsonl", tmp_path / "d.db"
    partial = tmp_path / "out.jsonl.partial"
    args = [sys.executable, str(ROOT / "cli.py"), "batch", "-p", "zmanda", "--now",
            "2026-07-01T12:00:00Z", str(src), "-o", str(out), "--log", str(log),
            "--workers", "2"]
    assert run_until(args, partial, 200_000), "the run was too fast to be killed"
    written = decided_ids(partial)
    logged = _ids(log)
    assert written and logged[:len(written)] == written      # durable before written
    done = subprocess.run([*args, "--resume"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 1, done.stderr
    assert cli("log", "verify", str(log)).returncode == 0
    assert _ids(log) == decided_ids(out)        # each decided line logged once, in order


@pytest.mark.parametrize("workers, writes", [
    ((), "write"),                           # decided in this process
    pytest.param(("--workers", "2"), "write",  # by workers, output through shared-memory slots
                 marks=pytest.mark.slow),
    pytest.param(("--workers", "2"), "append_file",  # by workers, output through chunk files
                 marks=pytest.mark.slow)])
def test_a_chunk_committed_but_not_written_is_not_logged_again_on_resume(
        tmp_path, monkeypatch, workers, writes):
    """The window a kill can hit: a chunk's records committed, its lines not yet written. The
    resumed run writes those lines without logging them again: each decided line once."""
    if workers and writes == "append_file":
        monkeypatch.setattr(SlotPool, "create", classmethod(lambda cls, *a, **k: None))
    src, out, log = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "d.db"
    src.write_bytes(b"".join(x + b"\n" for x in golden_corpus(load_policy("cloudtalk"), 2500)))
    args = ["batch", "-p", "cloudtalk", "--now", NOW, str(src), "-o", str(out), "--log",
            str(log), *workers]
    real, calls = getattr(DirectFile, writes), []   # the partial file's writer

    def second_fails(self, data):
        calls.append(data)
        if len(calls) == 2:   # chunk 2: its records are committed by now
            raise OSError(errno.EIO, "injected: the machine died here")
        return real(self, data)

    with monkeypatch.context() as m:
        m.setattr(DirectFile, writes, second_fails)
        failed = CliRunner().invoke(main, args)
    assert failed.exit_code not in (0, 1) and "output_unwritable" in failed.stderr, failed.stderr
    partial = tmp_path / "out.jsonl.partial"
    assert 0 < len(decided_ids(partial)) < len(_ids(log))   # chunk 2 is logged, not written
    done = CliRunner().invoke(main, [*args, "--resume"])
    assert done.exit_code == 1, done.stderr
    assert _ids(log) == decided_ids(out)                     # each decided line once, in order
    clean = tmp_path / "clean.jsonl"
    CliRunner().invoke(main, ["batch", "-p", "cloudtalk", "--now", NOW, str(src), "-o",
                              str(clean), *workers])
    assert out.read_bytes() == clean.read_bytes()
    assert cli("log", "verify", str(log)).returncode == 0


@pytest.mark.slow
def test_a_read_only_log_exits_4_with_nothing_under_the_final_name(tmp_path):
    src, out, log = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "d.db"
    src.write_bytes(b"".join(x + b"\n" for x in golden_corpus(load_policy("zmanda"), 50)))
    first = cli("batch", "-p", "zmanda", str(src), "-o", str(tmp_path / "first.jsonl"), "--log",
                str(log), "--workers", "1")
    assert first.returncode == 1, first.stderr
    before = _ids(log)
    prefix = _readonly_prefix(str(log))
    p = subprocess.run([*prefix, sys.executable, str(ROOT / "cli.py"), "batch", "-p", "zmanda",
                        str(src), "-o", str(out), "--log", str(log), "--workers", "2"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 4, p.stderr
    assert "error[log_" in p.stderr and "Traceback" not in p.stderr
    assert not out.exists()
    os.chmod(log, 0o644)
    assert _ids(log) == before


@pytest.mark.parametrize(("extra", "code"), [
    (["--log", "{tmp}"], 4),                                     # a folder
    (["--log", "{tmp}/d.db", "--dask", "local", "-o", "{tmp}/p/part-*.jsonl"], 2),
])
def test_unusable_log_options(tmp_path, extra, code):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(x + b"\n" for x in golden_corpus(load_policy("zmanda"), 5)))
    r = CliRunner().invoke(main, ["batch", "-p", "zmanda", str(src),
                                  *(x.format(tmp=tmp_path) for x in extra)])
    assert r.exit_code == code, r.output
    assert r.stdout == "" and "error[" in r.stderr and len(r.stderr.strip().splitlines()) <= 2


def test_with_a_log_the_workers_yield_the_cores_to_the_committing_command(tmp_path):
    """A pool worker of a --log run lowers its priority (the command's writer thread commits
    every chunk: it should not wait behind the workers for a core); one without a log does
    not."""
    script = (   # one process, initialised as a worker without a log, then with one
        "import os, sys\n"
        "from engine.adapters.batch import local\n"
        "from engine.adapters.batch.worker import ChunkOptions, prepare_policy\n"
        "_, source, _ = prepare_policy('cloudtalk')\n"
        "for log in (None, sys.argv[1]):\n"
        "    before = os.nice(0)\n"
        "    local._init(source, ChunkOptions(log=log))\n"
        "    print(os.nice(0) - before)\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "d.db")], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    lowest = min(LOG_WORKER_NICENESS, 19 - os.nice(0))   # nice levels stop at 19
    assert [int(n) for n in out.split()] == [0, lowest]
