"""Batch on a Dask cluster: `--dask tcp://scheduler:8786` (an existing cluster) or `--dask local`
(a `distributed.LocalCluster` of `--workers` processes, one thread each).

The input is cut into blocks of whole lines (`dask.bytes.read_bytes`, one block for gzip
input); a first pass counts each block's lines, so every partition knows its first line number;
then a `dask.bag` of one partition per block runs the same `decide_chunk` (and so
`run_batch` and `Evaluator.evaluate_many`) as a local run, writing `part-NNNNN` files whose
concatenation, in order, is the local run's output (for `.gz` parts: its text). The policy (or
each of its effective-dated versions) is scattered to the workers as its source text and
digest, compiled once per worker process and the digest checked. Input and output paths must
mean the same files on every worker (a shared file system); the cluster's workers need
ticket-policy installed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from itertools import accumulate
from pathlib import Path

from engine.adapters.batch import files
from engine.adapters.batch.direct import DirectFile
from engine.adapters.batch.worker import ChunkOptions, MappingSource, Shipped, decide_chunk
from engine.core.diagnostics import Diagnostic, Location
from engine.ops.batch import BatchResult
from engine.ops.summary import Summary

#: Most input bytes per partition (uncompressed input; gzip input is one partition).
BLOCK_BYTES = 64 << 20


def part_pattern(output: str, fmt: str) -> str:
    """`-o` as a part-file pattern: `out/part-*.jsonl` as given; `out` -> `out/part-*.jsonl`.
    One `*`, in the file name."""
    if "*" not in output:
        return str(Path(output) / f"part-*.{fmt}")
    if output.count("*") != 1 or "*" not in Path(output).name:
        raise files.BatchIOError(Diagnostic(
            "bad_output", f"`{output}`: one `*` in the file name stands for the partition",
            location=Location(file="-o"), hint="e.g. -o 'out/part-*.jsonl'"))
    return output


def run_dask(job, source: Shipped, now: datetime | None,
             mapping: MappingSource | None = None) -> BatchResult:
    """Decide `job.input` on the cluster; the counts (and summary) of every partition."""
    try:
        import dask
        import dask.bag as db
        from dask.bytes import read_bytes
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise files.BatchIOError(Diagnostic(
            "dask_unavailable", f"dask is not installed ({exc})", location=Location(
                file="--dask"), hint="pip install 'ticket-policy[dask]'")) from None
    if job.resume:
        raise files.BatchIOError(Diagnostic(
            "bad_resume", "--resume does not apply to --dask (each part is written whole)",
            location=Location(file="--resume"), hint="rerun without --resume"))
    from engine.adapters.batch.job import parse_size

    pattern = part_pattern(job.output, job.fmt)
    if "://" not in job.input:  # a local path: say it is missing before a cluster starts
        try:
            open(job.input, "rb").close()
        except OSError as exc:
            raise files.io_problem("input_unreadable", "read", job.input, exc) from None
    gz = files.is_gzip(job.input)
    options = ChunkOptions(now=now, fmt=job.fmt, summary=job.summary,
                           source_name=job.input, gzip=files.is_gzip(pattern),
                           thread="dedicated", mapping=mapping)
    with _client(job, Client, LocalCluster) as client:
        workers = len(client.scheduler_info().get("workers", {})) or 1
        block_bytes = parse_size(job.partition_size) if job.partition_size else \
            _block_size(job.input, workers)
        try:
            _, blocks = read_bytes(job.input, delimiter=b"\n", sample=False,
                                   blocksize=None if gz else block_bytes,
                                   compression="gzip" if gz else None)
        except (OSError, ValueError) as exc:
            raise files.io_problem("input_unreadable", "read", job.input, exc) from None
        blocks = blocks[0]
        _clear(pattern)
        counts = dask.compute(*[dask.delayed(count_lines)(b) for b in blocks])
        firsts = [1 + before for before in accumulate((0, *counts[:-1]))] if counts else []
        shipped = client.scatter(source, broadcast=True)
        parts = db.from_delayed([
            dask.delayed(decide_partition)(block, first, part_name(pattern, i, len(blocks)),
                                           shipped, options)
            for i, (block, first) in enumerate(zip(blocks, firsts, strict=True))])
        future = client.compute(parts)
        if job.progress if job.progress is not None else sys.stderr.isatty():
            from distributed import progress

            with contextlib.redirect_stdout(sys.stderr):
                progress(future)
        try:
            results = future.result()
        except OSError as exc:  # a worker could not write its part
            raise files.io_problem("output_unwritable", "write", pattern, exc) from None
    total = BatchResult(summary=Summary() if job.summary else None)
    for r in results:
        total.merge(r)
    return total


def _block_size(path: str, workers: int) -> int:
    """The block size that makes `dask.bytes.read_bytes` cut the file into partitions of at
    most BLOCK_BYTES (and at least 1 MiB), at least four per worker and as many for each
    worker, so none waits at the end: read_bytes makes `size // blocksize` blocks, so 201 MB
    in blocks of a ceiling eighth made 7 partitions, the last one decided alone (~4 s of a
    20 s run on one core of two)."""
    try:
        size = os.path.getsize(path)
    except OSError:  # a URL: dask reads it
        return BLOCK_BYTES
    parts = max(4 * workers, -(-size // BLOCK_BYTES))
    parts = -(-parts // workers) * workers
    return max(1 << 20, size // parts)


@contextlib.contextmanager
def _client(job, client_cls, cluster_cls):
    if job.dask == "local":
        import dask

        with dask.config.set(_local_environ()):
            cluster = cluster_cls(n_workers=job.workers or 2, threads_per_worker=1,
                                  processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR)
        with cluster, client_cls(cluster) as client:
            yield client
        return
    try:
        client = client_cls(job.dask, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise files.BatchIOError(Diagnostic(
            "dask_unreachable", f"cannot reach the dask scheduler `{job.dask}`: {exc}",
            location=Location(file="--dask"),
            hint="a scheduler address such as tcp://host:8786, or `local`")) from None
    with client:
        yield client


#: What Dask's nannies put in a new worker's environment that a local run leaves out.
#: `MALLOC_TRIM_THRESHOLD_` (Dask sets 65,536, to give memory back sooner) makes glibc drop its
#: dynamic mmap threshold: every buffer of a chunk's size (a chunk's output is ~7.6 MB) is then
#: mapped and unmapped anew, its pages faulted in each time. 800,000 cloudtalk lines on 2 local
#: workers, in turns: system CPU 3.6 -> 1.1 s, wall 13.9 -> 12.5 s (2026-12-03). A worker's
#: memory stays bounded by its partition either way.
LOCAL_ENVIRON_DROPPED = ("MALLOC_TRIM_THRESHOLD_",)


def _local_environ() -> dict:
    """The dask config for a `--dask local` cluster: Dask's pre-spawn environment for workers,
    without LOCAL_ENVIRON_DROPPED."""
    import dask

    key = "distributed.nanny.pre-spawn-environ"
    env = {k: v for k, v in (dask.config.get(key, default=None) or {}).items()
           if k not in LOCAL_ENVIRON_DROPPED}
    return {key: env}


def part_name(pattern: str, index: int, parts: int) -> str:
    return pattern.replace("*", f"{index:05d}")


def _clear(pattern: str) -> None:
    """Parts of an earlier run under the same pattern go (they would be concatenated): the
    regular files whose name is the pattern with five digits for `*`."""
    folder = Path(pattern).parent
    head, _, tail = Path(pattern).name.partition("*")
    ours = re.compile(re.escape(head) + r"[0-9]{5}" + re.escape(tail))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if ours.fullmatch(old.name) and old.is_file() and not old.is_symlink():
                old.unlink()
    except OSError as exc:
        raise files.io_problem("output_unwritable", "write", str(folder), exc) from None


# ---- on the workers -----------------------------------------------------------------------


def count_lines(block: bytes) -> int:
    """Lines in a block of whole lines (the last may lack its newline)."""
    return block.count(b"\n") + (1 if block and not block.endswith(b"\n") else 0)


def decide_partition(block: bytes, first: int, path: str, source: Shipped,
                     options: ChunkOptions) -> list[BatchResult]:
    """Decide one block's lines chunk by chunk into `path` (written to `path.partial`, then
    renamed); the partition's counts as a one-element list."""
    lines = block.split(b"\n")
    if not block or block.endswith(b"\n"):
        lines.pop()
    total = BatchResult(summary=Summary() if options.summary else None)
    partial = path + files.PARTIAL
    out = DirectFile(partial)   # direct I/O where the file system has it, as a local run's output
    # written by a thread of its own: a direct write waits for the device (~4 ms a chunk here),
    # which the next chunk's deciding need not (the write releases the GIL)
    writer = ThreadPoolExecutor(1, thread_name_prefix="part-writer")
    pending: deque[Future] = deque()
    try:
        for at, chunk in files.chunks(iter(lines)):
            data, result, _ = decide_chunk(source, options, first + at - 1, chunk)
            pending.append(writer.submit(out.write, data))
            while len(pending) > 1:
                pending.popleft().result()
            total.merge(result)
        if not lines:  # an empty input: a CSV header, a valid gzip file
            pending.append(writer.submit(out.write, files.empty_output(
                options.fmt == "csv" and first == 1, options.gzip)))
        while pending:
            pending.popleft().result()
        out.sync()
    finally:
        writer.shutdown(wait=True)
        out.close()
    os.replace(partial, path)
    return [total]
