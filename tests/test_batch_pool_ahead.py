"""The workers' fork server starts before the policy is compiled exactly when the run will
decide in worker processes (`job._pooled_ahead` agrees with what `_run_here` decides later)."""

from __future__ import annotations

import pytest

from engine.adapters.batch import job as job_mod
from engine.adapters.batch.files import Input
from engine.adapters.batch.job import SMALL_INPUT, BatchJob


@pytest.fixture
def files(tmp_path):
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    small.write_bytes(b"{}\n" * 10)
    with open(big, "wb") as f:
        f.truncate(SMALL_INPUT + 1)
    return str(small), str(big)


@pytest.mark.parametrize("which, workers, log, cores", [
    ("small", None, None, 2), ("small", 1, None, 2), ("small", 2, None, 2),
    ("small", None, "d.db", 2), ("small", 1, "d.db", 2),
    ("big", None, None, 2), ("big", None, None, 1), ("big", 1, None, 2),
    ("big", 1, "d.db", 2), ("big", None, "d.db", 1)])
def test_ahead_agrees_with_the_run(files, monkeypatch, which, workers, log, cores):
    monkeypatch.setattr(job_mod, "default_workers", lambda: cores)
    path = files[0] if which == "small" else files[1]
    job = BatchJob(policy="cloudtalk", input=path, workers=workers, log=log)
    source_in = Input(path)
    try:
        later = job_mod._workers(job, source_in.size, source_in.name) > 1 or \
            job_mod._log_beside(job, source_in.size)
    finally:
        source_in.close()
    assert job_mod._pooled_ahead(job) == later


def test_a_missing_input_starts_nothing(tmp_path):
    assert not job_mod._pooled_ahead(BatchJob(policy="cloudtalk", input=str(tmp_path / "no"),
                                              workers=2))
