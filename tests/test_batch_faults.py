"""Faults: a run killed (SIGKILL) at random points and resumed writes the file an uninterrupted
run writes, byte for byte; a truncated last line is an error record; a full disk or a failed
write exits non-zero with a clear message and leaves nothing under the final name."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_corpus import golden_corpus
from click.testing import CliRunner
from conftest import ROOT

from cli import main
from engine import load_policy

NOW = "2026-07-01T12:00:00Z"


def write_corpus(path: Path, n: int, policy: str = "zmanda", seed: int = 5) -> Path:
    cp = load_policy(policy)
    with open(path, "wb") as f:
        for start in range(0, n, 5000):
            f.writelines(x + b"\n" for x in golden_corpus(cp, min(5000, n - start),
                                                         seed + start))
    return path


def command(src: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "cli.py"), "batch", "-p", "zmanda", "--now", NOW,
            str(src), "-o", str(out), *extra]


def run_until(args: list[str], partial: Path, size: int, timeout: float = 300) -> bool:
    """Start a run; SIGKILL its process group once `partial` holds `size` bytes. True if it
    was killed, False if it finished first."""
    p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while p.poll() is None:
            try:
                grown = partial.stat().st_size >= size
            except FileNotFoundError:
                grown = size == 0
            if grown:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(30)
                return True
            if time.monotonic() > deadline:
                raise TimeoutError(args)
            time.sleep(0.005)
        return False
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(30)


def kill_and_resume(tmp_path: Path, lines: int, kills: int, name: str, workers: str,
                    seed: int) -> None:
    src = write_corpus(tmp_path / "in.jsonl", lines)
    clean = tmp_path / f"clean-{name}"
    subprocess.run(command(src, clean, "--workers", workers), cwd=ROOT, check=False,
                   capture_output=True, timeout=600)
    expected = clean.read_bytes()
    out = tmp_path / name
    partial = out.with_name(out.name + ".partial")
    rnd = random.Random(seed)
    points = sorted(rnd.randrange(len(expected)) for _ in range(kills))
    killed = 0
    for point in points:
        killed += run_until(command(src, out, "--workers", workers, "--resume"), partial, point)
    p = subprocess.run(command(src, out, "--workers", workers, "--resume"), cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 1, p.stderr                  # the corpus has rejected lines
    assert killed >= kills // 2, "the runs were too fast to be killed"
    assert out.read_bytes() == expected
    assert not partial.exists()
    counts = p.stderr.strip().splitlines()[-1].split(",")[:2]
    rejected = sum(1 for x in (gzip.decompress(expected) if name.endswith(".gz")
                               else expected).splitlines() if x.startswith(b'{"line":'))
    assert counts[1].strip() == f"{rejected} rejected"


def test_killed_runs_resume_to_the_same_bytes(tmp_path):
    kill_and_resume(tmp_path, 3000, 2, "out.jsonl", "1", seed=1)


@pytest.mark.slow
def test_killed_gzip_runs_resume_to_the_same_bytes(tmp_path):
    kill_and_resume(tmp_path, 3000, 2, "out.jsonl.gz", "2", seed=2)


@pytest.mark.slow
def test_twenty_kills_during_a_long_run(tmp_path):
    """The issue's figure: SIGKILL at 20 random points of a 200k-line run, each resumed."""
    kill_and_resume(tmp_path, 200_000, 20, "out.jsonl", "2", seed=20)


def test_resume_continues_after_the_last_complete_line(tmp_path):
    src = write_corpus(tmp_path / "in.jsonl", 400)
    out = tmp_path / "out.jsonl"
    args = ["batch", "-p", "zmanda", str(src), "-o", str(out), "--workers", "1", "--summary"]
    first = CliRunner().invoke(main, args)
    whole = out.read_bytes()
    assert not (tmp_path / "out.jsonl.partial.json").exists()     # removed on success
    # what a kill leaves: a prefix of the output, cut mid-line, and the run's manifest
    out.unlink()
    (tmp_path / "out.jsonl.partial").write_bytes(whole[:whole.index(b"\n", len(whole) // 2)
                                                       + 18])
    (tmp_path / "out.jsonl.partial.json").write_text(_manifest_of(src, out))
    r = CliRunner().invoke(main, [*args, "--resume"])
    assert r.exit_code == 1, r.stderr
    assert out.read_bytes() == whole
    assert r.stdout == first.stdout                       # the summary covers every line
    assert r.stderr.split(",")[:2] == first.stderr.split(",")[:2]


def _manifest_of(src: Path, out: Path) -> str:
    from engine.adapters.batch.job import BatchJob, manifest
    from engine.adapters.batch.worker import prepare_policy

    _, source, _ = prepare_policy("zmanda")
    job = BatchJob(policy="zmanda", input=str(src), output=str(out))
    return json.dumps(manifest(job, source, None, src.stat().st_size, str(src)), indent=1,
                      sort_keys=True) + "\n"


def test_resume_refuses_a_partial_file_of_another_run(tmp_path):
    src = write_corpus(tmp_path / "in.jsonl", 50)
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").write_bytes(b'{"line":1}\n')
    (tmp_path / "out.jsonl.partial.json").write_text(_manifest_of(src, out))
    r = CliRunner().invoke(main, ["batch", "-p", "zmanda", str(src), "-o", str(out),
                                  "--resume", "--now", NOW])
    assert r.exit_code == 2 and "error[resume_mismatch]" in r.stderr and "now" in r.stderr
    assert not out.exists() and (tmp_path / "out.jsonl.partial").exists()


def test_a_truncated_last_line_is_an_error_record(tmp_path):
    src = tmp_path / "in.jsonl"
    good = json.dumps({"id": "Z-1", "submitted_at": "2026-03-02T10:00:00+01:00"})
    src.write_text(good + "\n" + good[:25])
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(main, ["batch", "-p", "zmanda", str(src), "-o", str(out)])
    assert r.exit_code == 1
    last = json.loads(out.read_bytes().splitlines()[-1])
    assert last["line"] == 2 and last["problems"][0]["code"] == "json_syntax"
    assert r.stderr.startswith("1 decided, 1 rejected")


def test_a_line_too_long_is_reported_without_holding_it(tmp_path):
    from engine.ops.jsonl import MAX_LINE_BYTES

    src = tmp_path / "in.jsonl"
    good = json.dumps({"id": "Z-1", "submitted_at": "2026-03-02T10:00:00+01:00"})
    with open(src, "w") as f:
        f.write(good + "\n" + '{"id": "' + "x" * (MAX_LINE_BYTES + 10) + '"}\n' + good + "\n")
    r = CliRunner().invoke(main, ["batch", "-p", "zmanda", str(src)])
    records = [json.loads(x) for x in r.stdout.splitlines()]
    assert [r.get("line") for r in records] == [None, 2, None]
    assert records[1]["problems"][0]["code"] == "line_too_long"


def test_a_write_error_leaves_nothing_under_the_final_name(tmp_path):
    """The partial file is a real file object that fails with ENOSPC (/dev/full)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    src = write_corpus(tmp_path / "in.jsonl", 200)
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    partial.symlink_to("/dev/full")
    try:
        r = CliRunner().invoke(main, ["batch", "-p", "zmanda", str(src), "-o", str(out)])
    finally:
        partial.unlink()
    assert r.exit_code == 2
    assert "error[output_unwritable]" in r.stderr and "no space left on device" in r.stderr
    assert "--resume" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs (needs root and mount; skipped elsewhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                                            str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


def test_a_full_disk(tmp_path, small_disk):
    src = write_corpus(tmp_path / "in.jsonl", 300)
    out = small_disk / "out.jsonl"
    p = subprocess.run(command(src, out, "--workers", "2"), cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 2, p.stderr
    assert "error[output_unwritable]" in p.stderr and "no space left on device" in p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists()
    assert (small_disk / "out.jsonl.partial").exists()   # kept for --resume


def _default_sigint() -> None:
    """A shell's background job starts with SIGINT ignored, and Python keeps an ignored SIGINT
    ignored (as it should): the child of a test run in the background must be given Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_interrupt_keeps_the_partial_file(tmp_path):
    src = write_corpus(tmp_path / "in.jsonl", 30_000)  # ample work left after the first chunks
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    p = subprocess.Popen(command(src, out, "--workers", "1"), cwd=ROOT,
                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=_default_sigint)
    try:
        while not partial.exists() or partial.stat().st_size < 100_000:
            assert p.poll() is None, "finished before it could be interrupted"
            time.sleep(0.005)
        os.killpg(p.pid, signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130 and "rerun with --resume" in err and "Traceback" not in err
    assert partial.exists() and not out.exists()
