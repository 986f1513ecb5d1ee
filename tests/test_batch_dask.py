"""Dask: a LocalCluster of process workers decides the same lines as a local run — the parts,
concatenated in order, are the local run's output line for line; the policy travels as its
source and digest."""

from __future__ import annotations

import gzip

import pytest
from batch_corpus import golden_corpus
from click.testing import CliRunner

from cli import main
from engine import load_policy
from engine.adapters.batch.cluster import (
    BLOCK_BYTES,
    _block_size,
    count_lines,
    decide_partition,
    part_pattern,
)
from engine.adapters.batch.worker import ChunkOptions, PolicySource, prepare_policy
from engine.core.diagnostics import DiagnosticError

pytest.importorskip("distributed")


def corpus(tmp_path, n=2500):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(x + b"\n" for x in golden_corpus(load_policy("credenti"), n)))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_local_cluster_equals_the_local_run(tmp_path, fmt):
    src = corpus(tmp_path)
    local = tmp_path / f"local.{fmt}"
    args = ["batch", "-p", "credenti", "--now", "2026-07-01T12:00:00Z", "--format", fmt,
            "--summary", "--summary-format", "json", str(src)]
    here = CliRunner().invoke(main, [*args, "-o", str(local), "--workers", "1"])
    ext = fmt + (".gz" if fmt == "jsonl" else "")
    there = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "parts" / f"part-*.{ext}"),
                                      "--dask", "local", "--workers", "2",
                                      "--partition-size", "100kB"])
    assert there.exit_code == here.exit_code == 1, there.stderr
    parts = sorted((tmp_path / "parts").iterdir())
    assert len(parts) > 3
    text = b"".join(gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else
                    p.read_bytes() for p in parts)
    assert text.splitlines() == local.read_bytes().splitlines()
    assert text == local.read_bytes()
    assert there.stdout == here.stdout                      # the summary
    assert there.stderr.split(",")[:2] == here.stderr.split(",")[:2]


def test_a_partition_is_the_local_output_of_its_lines(tmp_path):
    """The partition function alone (what each Dask task runs), without a cluster."""
    src = corpus(tmp_path, 300)
    block = src.read_bytes()
    _, source, _ = prepare_policy("credenti")
    head, tail = block[:block.index(b"\n", len(block) // 2) + 1], \
        block[block.index(b"\n", len(block) // 2) + 1:]
    a, b = tmp_path / "part-00000.jsonl", tmp_path / "part-00001.jsonl"
    options = ChunkOptions(thread="dedicated", source_name=str(src))
    ra = decide_partition(head, 1, str(a), source, options)
    rb = decide_partition(tail, 1 + count_lines(head), str(b), source, options)
    local = tmp_path / "local.jsonl"
    CliRunner().invoke(main, ["batch", "-p", "credenti", str(src), "-o", str(local),
                              "--workers", "1"])
    joined = a.read_bytes() + b.read_bytes()
    assert joined.count(b"\n") == 300
    assert joined == local.read_bytes()
    assert ra[0].lines + rb[0].lines == 300


def test_the_digest_is_checked():
    _, source, _ = prepare_policy("credenti")
    forged = PolicySource(source.text, source.file, "sha256:" + "0" * 64)
    with pytest.raises(DiagnosticError) as exc:
        forged.compile()
    assert exc.value.diagnostics[0].code == "policy_digest_mismatch"


def test_count_lines():
    assert [count_lines(b) for b in (b"", b"a", b"a\n", b"a\nb", b"\n\n")] == [0, 1, 1, 2, 2]


@pytest.mark.parametrize("size", [201_044_215, 64 << 20, 5 << 30, (64 << 20) * 9 + 5])
@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_partitions_come_in_an_equal_number_per_worker(tmp_path, size, workers):
    """The block size given to dask's read_bytes makes at least four partitions per worker,
    as many for each (a 201 MB corpus in blocks of a ceiling eighth made 7: the last one was
    decided alone), none over BLOCK_BYTES. A sparse file: read_bytes only looks at its size."""
    from dask.bytes import read_bytes

    path = tmp_path / "in.jsonl"
    with open(path, "wb") as f:
        f.truncate(size)
    _, blocks = read_bytes(str(path), delimiter=b"\n", sample=False,
                           blocksize=_block_size(str(path), workers))
    parts = len(blocks[0])
    assert parts >= 4 * workers and parts % workers == 0
    assert -(-size // parts) <= BLOCK_BYTES + 1


@pytest.mark.parametrize(("given", "pattern"), [
    ("out", "out/part-*.jsonl"), ("out/part-*.jsonl.gz", "out/part-*.jsonl.gz")])
def test_part_pattern(given, pattern):
    assert part_pattern(given, "jsonl") == pattern


@pytest.mark.slow
def test_unreachable_scheduler(tmp_path):
    src = corpus(tmp_path, 10)
    r = CliRunner().invoke(main, ["batch", "-p", "credenti", str(src), "-o",
                                  str(tmp_path / "parts"), "--dask", "tcp://127.0.0.1:9"])
    assert r.exit_code == 2 and "error[dask_unreachable]" in r.stderr


def test_a_local_cluster_keeps_glibcs_own_malloc_tuning(monkeypatch):
    """Dask's nannies give workers MALLOC_TRIM_THRESHOLD_, which turns off glibc's dynamic mmap
    threshold (each chunk-sized buffer mapped and faulted in anew); a `--dask local` cluster
    leaves it out and keeps the rest of Dask's worker environment."""
    import dask

    from engine.adapters.batch.cluster import LOCAL_ENVIRON_DROPPED, _local_environ

    key = "distributed.nanny.pre-spawn-environ"
    with dask.config.set({key: {"MALLOC_TRIM_THRESHOLD_": 65536, "OMP_NUM_THREADS": 1}}):
        assert _local_environ() == {key: {"OMP_NUM_THREADS": 1}}
    assert "MALLOC_TRIM_THRESHOLD_" in LOCAL_ENVIRON_DROPPED


@pytest.mark.slow
def test_local_cluster_workers_lack_the_trim_threshold():
    import os
    from types import SimpleNamespace

    from distributed import Client, LocalCluster

    from engine.adapters.batch.cluster import _client

    with _client(SimpleNamespace(dask="local", workers=1), Client, LocalCluster) as client:
        seen = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                                   os.environ.get("OMP_NUM_THREADS")))
    assert list(seen.values()) == [(None, "1")]
