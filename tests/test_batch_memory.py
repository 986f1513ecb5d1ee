"""A batch worker keeps chunk-sized buffers in glibc's heap (engine/adapters/batch/memory.py):
the thresholds are set where glibc is, once, and a worker pool sets them in its workers."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from engine.core.paths import ROOT

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_the_thresholds_are_set_once_in_a_fresh_process():
    code = ("from engine.adapters.batch import memory as m; "
            "print(m.keep_buffers(), m.keep_buffers(), m._done)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "True"], out.stderr


def test_a_pool_worker_sets_them_when_it_starts(monkeypatch):
    from engine.adapters.batch import worker
    from engine.adapters.batch.worker import ChunkOptions, init_worker, prepare_policy

    calls = []
    monkeypatch.setattr(worker, "keep_buffers", lambda: calls.append(1))
    _, source, _ = prepare_policy("cloudtalk")
    init_worker(source, ChunkOptions(source_name="x"))
    assert calls == [1]


def test_elsewhere_nothing_happens(monkeypatch):
    from engine.adapters.batch import memory

    monkeypatch.setattr(memory, "_done", False)
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert memory.keep_buffers() is False and memory._done is False
