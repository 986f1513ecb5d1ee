"""Worker processes read their own chunks of a plain input file: the byte ranges `ranges` cuts
are the chunks `chunks` cuts from the lines (so outputs and resumes agree whichever path ran);
a run with workers writes the bytes a one-process run writes, resumed mid-chunk too."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from batch_corpus import golden_corpus
from click.testing import CliRunner
from conftest import campaign
from test_batch_faults import kill_and_resume

from cli import main
from engine import load_policy
from engine.adapters.batch import files
from engine.ops.jsonl import MAX_LINE_BYTES


def sample(tmp_path, ending: bytes, long_line: bool):
    rnd = random.Random(len(ending) + long_line)
    lines = [b"x" * rnd.randrange(0, 3000) for _ in range(600)]
    if long_line:
        lines[300] = b"y" * (MAX_LINE_BYTES + 10)
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + ending)
    return path


@pytest.mark.parametrize("ending", [b"\n", b""])
@pytest.mark.parametrize("long_line", [False, True])
def test_ranges_cut_the_chunks_chunks_cuts(tmp_path, ending, long_line):
    path = sample(tmp_path, ending, long_line)
    source = files.Input(str(path))
    expected = list(files.chunks(source.lines()))
    source.close()
    got = [(first, files.read_range(str(path), start, end))
           for start, end, first, count in files.ranges(str(path))]
    assert len(got) > 3
    assert got == expected
    assert [c for *_, c in files.ranges(str(path))] == [len(x) for _, x in expected]


def test_an_empty_file_has_no_ranges(tmp_path):
    (tmp_path / "e.jsonl").write_bytes(b"")
    assert list(files.ranges(str(tmp_path / "e.jsonl"))) == []


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_workers_write_what_one_process_writes(tmp_path, fmt):
    src = tmp_path / "in.jsonl"
    lines = campaign(1500, 3000)                  # two chunks, or four where the slow tests run
    src.write_bytes(b"".join(x + b"\n" for x in golden_corpus(load_policy("credenti"), lines)))
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out-{workers}.{fmt}"
        r = CliRunner().invoke(main, ["batch", "-p", "credenti", "--now", "2026-07-01T12:00:00Z",
                                      "--format", fmt, str(src), "-o", str(out), "--workers",
                                      workers, "--summary", "--summary-format", "json"])
        assert r.exit_code == 1, r.stderr
        outs.append((out.read_bytes(), r.stdout))
        tag = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]
        assert not (Path("/dev/shm") / f".ticket-policy-batch-{tag}.chunks").exists()
    assert outs[0] == outs[1]
    assert not list(tmp_path.glob(".*.chunks"))        # the spool folder is gone


@pytest.mark.slow
def test_killed_runs_with_workers_resume_to_the_same_bytes(tmp_path):
    kill_and_resume(tmp_path, 6000, 2, "out.jsonl", "2", seed=3)


@pytest.mark.slow
def test_a_resumed_run_with_workers_summarises_the_whole_input(tmp_path):
    import subprocess

    from test_batch_faults import command, run_until, write_corpus

    src = write_corpus(tmp_path / "in.jsonl", 6000)
    clean, out = tmp_path / "clean.jsonl", tmp_path / "out.jsonl"
    extra = ("--workers", "2", "--summary", "--summary-format", "json")
    expected = subprocess.run(command(src, clean, *extra), capture_output=True, text=True)
    assert run_until(command(src, out, *extra), out.with_name("out.jsonl.partial"), 300_000)
    resumed = subprocess.run(command(src, out, *extra, "--resume"), capture_output=True,
                             text=True)
    assert resumed.returncode == expected.returncode == 1, resumed.stderr
    assert out.read_bytes() == clean.read_bytes()
    assert resumed.stdout == expected.stdout
