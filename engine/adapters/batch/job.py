"""`ticket-policy batch` as a use case over files: options checked, the policy prepared, input
read in chunks, chunks decided here, by a process pool or on a Dask cluster, output committed.

Returns a `JobResult` (status, diagnostics, counts, seconds); never prints but the progress bar.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from engine import app
from engine.adapters.batch import files
from engine.adapters.batch.local import (
    IN_FLIGHT_PER_WORKER,
    Item,
    WorkerFailed,
    run_local,
    run_ranges,
    start_fork_server,
    tasks,
)
from engine.adapters.batch.slots import SlotChunk, SlotPool
from engine.adapters.batch.worker import (
    ChunkLogError,
    ChunkOptions,
    Deciding,
    MappingSource,
    PolicySource,
    Shipped,
    chosen,
    prepare_mapping,
    prepare_policy,
)
from engine.adapters.batch.writer import ChunkWriter
from engine.check.tickets import parse_timestamp
from engine.core.diagnostics import Diagnostic, DiagnosticError, Location
from engine.ops.batch import FORMATS, BatchResult
from engine.ops.log import DecisionLog, LogError
from engine.ops.log.ids import uuid7
from engine.ops.log.query import batch_progress
from engine.ops.log.records import Prepared
from engine.ops.summary import Summary

#: Uncompressed input up to this size is decided in this process unless --workers is given
#: (starting worker processes takes about as long as deciding it).
SMALL_INPUT = 4 << 20
SHARED_MEMORY = Path("/dev/shm")   # the spool folder's home where there is one (tmpfs)
WRITER_DEPTH = 2                   # decided chunks waiting for the writer thread


@dataclass(frozen=True)
class BatchJob:
    """What `ticket-policy batch` was asked to do."""

    policy: str
    input: str = "-"
    output: str | None = None          # None or "-": stdout
    now: str | None = None
    fmt: str = "jsonl"
    workers: int | None = None         # None: the machine's cores
    resume: bool = False
    summary: bool = False
    mapping: str | None = None
    log: str | None = None             # a decision log: each decided line's record appended
    dask: str | None = None            # "local" or a scheduler address
    partition_size: str | None = None  # --dask: input per partition, e.g. "64MiB"
    progress: bool | None = None       # None: when stderr is a terminal


@dataclass
class JobResult:
    status: app.Status
    diagnostics: tuple[Diagnostic, ...] = ()
    result: BatchResult = field(default_factory=BatchResult)
    seconds: float = 0.0
    resumed_lines: int = 0

    @property
    def ok(self) -> bool:
        return self.status == app.Status.OK


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_job(job: BatchJob) -> JobResult:
    """Run a batch job; the result says what happened (see `engine.app.Status`)."""
    started = time.perf_counter()
    problems = _option_problems(job)
    now = None
    if job.now is not None:
        try:
            now = parse_timestamp(job.now)
        except ValueError as exc:
            problems.append(Diagnostic("bad_now", str(exc), location=Location(file="--now")))
    if problems:
        return JobResult(app.Status.INPUT_ERROR, tuple(problems))
    if job.dask is None and _pooled_ahead(job):
        start_fork_server()   # it imports the engine while this process compiles the policy
    deciding, source, diags = prepare_policy(job.policy)
    if deciding is None or source is None:
        return JobResult(app.Status.POLICY_ERROR, diags)
    mapping = None
    if job.mapping is not None:  # checked against the latest (or named) version, as `evaluate`
        mapping, diags = prepare_mapping(job.mapping, chosen(deciding))
        if mapping is None:
            return JobResult(app.Status.INPUT_ERROR, diags)
    warnings: tuple[Diagnostic, ...] = ()   # --dask takes no --log
    try:
        if job.dask is not None:
            from engine.adapters.batch.cluster import run_dask

            result = run_dask(job, source, now, mapping)
            resumed = 0
        else:
            result, resumed, warnings = _run_here(job, deciding, source, now, mapping)
    except files.BatchIOError as exc:
        return JobResult(app.Status.INPUT_ERROR, (exc.diagnostic,),
                         seconds=time.perf_counter() - started)
    except (LogError, ChunkLogError) as exc:
        return JobResult(app.Status.LOG_ERROR, (exc.diagnostic,),
                         seconds=time.perf_counter() - started)
    except DiagnosticError as exc:  # e.g. a Dask worker compiled another digest
        return JobResult(app.Status.FAILED, tuple(exc.diagnostics),
                         seconds=time.perf_counter() - started)
    except WorkerFailed as exc:
        return JobResult(app.Status.FAILED, (Diagnostic(
            "batch_worker_failed", f"a worker process failed: {exc}",
            hint="the lines written so far are kept; rerun with --resume to continue"),),
            seconds=time.perf_counter() - started)
    return JobResult(app.Status.OK, warnings, result, time.perf_counter() - started, resumed)


def _option_problems(job: BatchJob) -> list[Diagnostic]:
    problems = []
    if job.fmt not in FORMATS:
        problems.append(Diagnostic("bad_format", f"`{job.fmt}` is not a batch format",
                                   location=Location(file="--format"),
                                   hint=f"one of {', '.join(FORMATS)}"))
    to_stdout = job.output in (None, "-")
    if job.resume and to_stdout:
        problems.append(Diagnostic("bad_resume", "--resume needs an output file",
                                   location=Location(file="--resume"),
                                   hint="write with -o OUT; standard output cannot be resumed"))
    if job.dask is not None and job.log is not None:
        problems.append(Diagnostic("bad_log", "--log is written from this machine: not with "
                                   "--dask", location=Location(file="--log"),
                                   hint="run with --workers N, or log from a local run"))
    if not to_stdout and job.input != "-" and job.output is not None and \
            "*" not in job.output and files.same_file(job.input, job.output):
        problems.append(Diagnostic("bad_output", f"`{job.output}` is the input: the output "
                                   "would replace it", location=Location(file="-o"),
                                   hint="write the output to another file"))
    if job.dask is not None and to_stdout:
        problems.append(Diagnostic("bad_output", "--dask writes partitioned output: give -o",
                                   location=Location(file="-o"),
                                   hint="e.g. -o 'out/part-*.jsonl' (`*` is the partition)"))
    if job.partition_size is not None and parse_size(job.partition_size) is None:
        problems.append(Diagnostic("bad_size", f"`{job.partition_size}` is not a size",
                                   location=Location(file="--partition-size"),
                                   hint="bytes, or a number with kB, MB, GB, KiB, MiB, GiB"))
    if job.workers is not None and job.workers < 1:
        problems.append(Diagnostic("bad_workers", f"--workers must be at least 1, not "
                                   f"`{job.workers}`", location=Location(file="--workers")))
    return problems


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 1 << 10,
          "mib": 1 << 20, "gib": 1 << 30}


def parse_size(text: str) -> int | None:
    """`64MiB`, `100 kB`, `4096` as bytes (at least 1), or None."""
    m = re.fullmatch(r"\s*([0-9]+)\s*([A-Za-z]*)\s*", text)
    if m is None or m.group(2).lower() not in _UNITS or int(m.group(1)) < 1:
        return None
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def manifest(job: BatchJob, source: Shipped, now: datetime | None, size: int | None,
             name: str, mapping: MappingSource | None = None) -> dict:
    """What a partial output's manifest records: a resumed run must match it (of several
    versions: every version's file and digest, and the one named)."""
    mapped = None if mapping is None else {
        "file": mapping.file, "sha256": hashlib.sha256(mapping.text.encode()).hexdigest()}
    policy = {"file": source.file, "digest": source.digest} \
        if isinstance(source, PolicySource) else {
            "id": source.id, "named": source.named, "versions": [
                {"file": s.file, "digest": s.digest} for s in source.versions]}
    return {"manifest": 1, "policy": policy,
            "mapping": mapped,
            "now": now.isoformat() if now is not None else None, "format": job.fmt,
            "input": {"name": name, "size": size},
            "chunks": files.CHUNK_BYTES}


def _run_here(job: BatchJob, deciding: Deciding, source: Shipped, now: datetime | None,
              mapping: MappingSource | None
              ) -> tuple[BatchResult, int, tuple[Diagnostic, ...]]:
    """The run's counts, the lines a resumed run found written, and the log's warnings."""
    log = DecisionLog.open(job.log) if job.log is not None else None
    try:
        source_in = files.Input(job.input)
    except files.BatchIOError:
        if log is not None:
            log.close()
        raise
    try:
        out = files.Output(job.output, {**manifest(job, source, now, source_in.size,
                                                   source_in.name, mapping), "run": uuid7()},
                           resume=job.resume, csv=job.fmt == "csv")
    except files.BatchIOError:
        source_in.close()
        if log is not None:
            log.close()
        raise
    try:   # a resumed run's lines whose records a killed run committed but did not write
        logged = batch_progress(job.log, out.run) if job.log is not None and job.resume else 0
    except LogError:
        for opened in (out, source_in, log):
            if opened is not None:
                opened.close()
        raise
    options = ChunkOptions(now=now, fmt=job.fmt, summary=job.summary,
                           source_name=source_in.name, gzip=out.gzip, mapping=mapping,
                           log=job.log, logged_through=logged)
    done = out.resumed
    total = BatchResult(summary=Summary() if job.summary else None)
    if not job.summary:  # the counts of the lines already written; with --summary, replayed
        total.decided, total.rejected = done.decided, done.rejected
    bar = _progress(job, source_in)
    wrote = False

    def emit(data: bytes | Path | SlotChunk, result: BatchResult, records: list[Prepared],
             write: bool, at: int | None) -> None:
        nonlocal wrote
        if write:  # committed to the log, then written (one commit a chunk)
            writer.put(records, data, total.lines + result.lines)
            wrote = True
        total.merge(result)
        if bar is not None:
            at = at if at is not None else source_in.position()
            bar.update(at - bar.n if source_in.size else result.lines)
            bar.set_postfix_str(f"{total.lines:,} lines, {total.rejected:,} rejected",
                                refresh=False)

    workers = _workers(job, source_in.size, source_in.name)
    pooled = workers > 1 or _log_beside(job, source_in.size)
    spool = _spool(out) if pooled and source_in.plain_file else None
    slots = SlotPool.create(spool, IN_FLIGHT_PER_WORKER * workers + WRITER_DEPTH + 1) \
        if spool is not None and spool.parent == SHARED_MEMORY else None
    writer = ChunkWriter(out, log, depth=WRITER_DEPTH, run=out.run)
    try:
        if spool is not None:
            run_ranges(source_in.name, tasks(source_in.name, done.lines, job.summary), emit,
                       source, options, workers, spool, slots)
        else:
            items = _items(files.chunks(source_in.lines()), done.lines, job.summary)
            run_local(items, emit, source, options, workers, pooled)
        writer.close()
        if not wrote and not done.lines:  # an empty input: a CSV header, a valid gzip file
            out.write(files.empty_output(job.fmt == "csv", out.gzip))
        out.commit()
    finally:
        if writer.running:
            writer.stop()
        if bar is not None:
            bar.close()
        out.close()
        source_in.close()
        if log is not None:
            log.close()
        if slots is not None:
            slots.close()
        if spool is not None:
            shutil.rmtree(spool, ignore_errors=True)
    return total, done.lines, tuple(writer.warnings.values())


def _spool(out: files.Output) -> Path:
    """A folder for the workers' chunk files: in shared memory (/dev/shm) where there is one,
    so chunks are not written to disk twice (a few chunks are there at a time); else beside
    the output. Named after the output, so a resumed run clears what a killed one left."""
    base = SHARED_MEMORY
    if not (base.is_dir() and os.access(base, os.W_OK)):
        base = out.final.parent if not out.stdout else Path(tempfile.gettempdir())
    if out.stdout:
        return Path(tempfile.mkdtemp(prefix="ticket-policy-batch-", dir=base))
    tag = hashlib.sha256(str(out.final.resolve()).encode()).hexdigest()[:16]
    spool = base / f".ticket-policy-batch-{tag}.chunks"
    shutil.rmtree(spool, ignore_errors=True)   # a killed run's
    try:
        spool.mkdir()
    except OSError as exc:
        raise files.io_problem("output_unwritable", "write", str(spool), exc) from None
    return spool


def _workers(job: BatchJob, size: int | None, name: str) -> int:
    """--workers, or the cores; a small file (`size` bytes; None: unknown) is decided here
    (starting workers costs more)."""
    if job.workers is not None:
        return job.workers
    if size is not None and size <= SMALL_INPUT and not files.is_gzip(name):
        return 1
    return default_workers()


def _pooled_ahead(job: BatchJob) -> bool:
    """Whether a local run on `job.input` will decide in worker processes, known before the
    input is opened (standard input: of unknown size; a missing file: no)."""
    try:
        st = os.stat(job.input) if job.input != "-" else None
    except OSError:
        return False
    size = st.st_size if st is not None and stat.S_ISREG(st.st_mode) else None
    return _workers(job, size, job.input) > 1 or _log_beside(job, size)


def _log_beside(job: BatchJob, size: int | None) -> bool:
    """One worker process decides while this one commits the log (the commit's SQLite work and
    the deciding run side by side, not taking turns on one GIL: with --log, 0.48 -> 0.54-0.57
    of the lines/s without, bench_batch.py), unless the input is small (starting a process
    costs more) and --workers is not given."""
    return job.log is not None and (size is None or size > SMALL_INPUT
                                    or job.workers is not None)


def _items(chunks: Iterator[tuple[int, list[bytes]]], skip: int, replay: bool
           ) -> Iterator[Item]:
    """Chunks to decide: the lines after the `skip` already written; with `replay` (a summary
    covers the whole input) also those, decided again but not written."""
    for first, lines in chunks:
        last = first + len(lines) - 1
        if replay and first <= skip:
            yield first, lines[:min(last, skip) - first + 1], False
        if last > skip:
            if first <= skip:
                lines, first = lines[skip - first + 1:], skip + 1
            yield first, lines, True


def _progress(job: BatchJob, source_in: files.Input):
    show = job.progress if job.progress is not None else sys.stderr.isatty()
    if not show:
        return None
    from tqdm import tqdm  # type: ignore[import-untyped]

    if source_in.size:
        return tqdm(total=source_in.size, unit="B", unit_scale=True, file=sys.stderr,
                    desc="batch", dynamic_ncols=True)
    return tqdm(unit=" lines", unit_scale=True, file=sys.stderr, desc="batch",
                dynamic_ncols=True)
