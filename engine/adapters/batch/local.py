"""Chunks decided on this machine: in this process (`--workers 1`) or by a pool of worker
processes, each compiling the policy once; results written in input order.

A plain input file is handed to the workers as byte ranges (`run_ranges`): each worker reads its
chunk's lines itself and puts the chunk's output (and with `--log` its serialised records) in a
shared-memory slot (`slots`; or a file of its own in a spool folder), and the parent appends
those to the output in input order — nothing per line crosses the pool's pipes. Other input
(stdin, gzip) is read by the parent and sent as lines (`run_local`). A worker that dies breaks
the pool: the run stops with `WorkerFailed` (the lines written so far are kept for --resume).

At most two chunks per worker are in flight, so memory stays the same whatever the input size.
Workers start from a fork server that has imported the engine (spawned where there is none).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from engine.adapters.batch import files
from engine.adapters.batch.slots import InSlot, SlotChunk, SlotPool, fill, pack_records
from engine.adapters.batch.worker import ChunkOptions, Shipped, decide_chunk, init_worker
from engine.ops.batch import BatchResult
from engine.ops.log.records import Prepared
from engine.ops.summary import Summary

#: (first line, lines, whether its output is written: False replays lines already written)
Item = tuple[int, list[bytes], bool]
#: A chunk as a byte range of the input: (start, end, first line, lines, first line written —
#: those before it are already in the output: replayed for the summary, or skipped)
Task = tuple[int, int, int, int, int]
#: (output bytes, the chunk file or slot holding them, counts, log records — a slot's are in
#: its SlotChunk, read by the writer —, whether to write them, input bytes decided so far when
#: known)
Emit = Callable[[bytes | Path | SlotChunk, BatchResult, list[Prepared], bool, int | None], None]
IN_FLIGHT_PER_WORKER = 2
#: With `--log`, the workers run this many nice levels below the command: its writer thread
#: commits every chunk's records — the run's one serial stage — and should not wait behind the
#: workers for a core (with the writer reading the records from the slots, 2 workers on 2 cores,
#: 1,000,000 tickets in turns with the tree before: 20,756-21,285 -> 25,151-25,266 lines/s).
LOG_WORKER_NICENESS = 10


class WorkerFailed(Exception):
    """A worker process died (e.g. killed, or the engine crashed)."""


def run_local(items: Iterable[Item], emit: Emit, source: Shipped, options: ChunkOptions,
              workers: int, pooled: bool = False) -> None:
    """Decide every item and `emit` its output in order: in this process, or with `pooled` or
    more than one worker, in worker processes."""
    if workers <= 1 and not pooled:
        for first, lines, write in items:
            emit(*decide_chunk(source, options, first, lines), write, None)
        return
    _pooled(((_decide, (first, lines), write) for first, lines, write in items), emit,
            source, options, workers)


def tasks(path: str, skip: int, replay: bool) -> Iterator[Task]:
    """The chunks of a plain input file after the `skip` lines already written (with
    `replay`, those too: decided again for the summary, not written)."""
    for start, end, first, count in files.ranges(path):
        if first + count - 1 > skip or replay:
            yield start, end, first, count, max(first, skip + 1)


def run_ranges(path: str, chunks: Iterable[Task], emit: Emit, source: Shipped,
               options: ChunkOptions, workers: int, spool: Path,
               slots: SlotPool | None = None) -> None:
    """Decide the chunks of the plain file at `path` in `workers` processes, each reading its
    chunks' lines and writing their output to one of the `slots` (`emit` gets a SlotChunk,
    which frees its slot once written) or to a file in `spool`; `emit` each in order."""
    taken: deque[int | None] = deque()   # each task's slot, in the order they are emitted

    def calls() -> Iterator[tuple[Callable, tuple, bool]]:
        for task in chunks:
            slot = slots.take() if slots is not None else None
            taken.append(slot)
            yield _decide_range, (path, task, str(spool), slot), \
                task[4] <= task[2] + task[3] - 1

    def received(data: bytes | Path | InSlot, result: BatchResult, records: list[Prepared],
                 write: bool, at: int | None) -> None:
        slot = taken.popleft()
        if isinstance(data, InSlot):   # (only ever the task's own slot, for lines to write)
            assert slots is not None and slot == data.slot
            emit(slots.chunk(data), result, records, write, at)   # records: read by the writer
            return
        if slot is not None and slots is not None:
            slots.release(slot)   # not used: the output is in a file, or nothing
        emit(data, result, records, write, at)

    _pooled(calls(), received, source, options, workers)   # type: ignore[arg-type]


def _pooled(calls: Iterable[tuple[Callable, tuple, bool]], emit: Emit, source: Shipped,
            options: ChunkOptions, workers: int) -> None:
    pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init,
                               initargs=(source, options))
    inflight: deque[tuple[Future, bool]] = deque()
    try:
        for fn, args, write in calls:
            inflight.append((pool.submit(fn, *args), write))
            while len(inflight) >= IN_FLIGHT_PER_WORKER * workers:
                _emit_next(inflight, emit)
        while inflight:
            _emit_next(inflight, emit)
    except BrokenProcessPool as exc:
        raise WorkerFailed(str(exc) or "a worker process ended abruptly") from None
    finally:
        for future, _ in inflight:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _emit_next(inflight: deque[tuple[Future, bool]], emit: Emit) -> None:
    future, write = inflight.popleft()
    data, result, records, *end = future.result()
    emit(Path(data) if isinstance(data, str) else data, result, records, write,
         end[0] if end else None)


def start_fork_server() -> None:
    """Start the workers' fork server now, where there is one: it imports the engine while
    the caller goes on (compiling the policy), instead of when the pool starts."""
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["engine.adapters.batch.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


# ---- in each worker process ---------------------------------------------------------------
_job: tuple[Shipped, ChunkOptions] | None = None


def _init(source: Shipped, options: ChunkOptions) -> None:
    global _job
    _job = source, options
    if options.log is not None:
        _lower_priority(LOG_WORKER_NICENESS)
    init_worker(source, options)


def _lower_priority(by: int) -> None:
    """Run this process `by` nice levels below its parent's priority (where the system lets
    it: never an error)."""
    try:
        os.nice(by)
    except (OSError, AttributeError):
        pass


def _decide(first: int, lines: list[bytes]) -> tuple[bytes, BatchResult, list[Prepared]]:
    assert _job is not None, "the worker was not initialised"
    source, options = _job
    return decide_chunk(source, options, first, lines)


def _decide_range(path: str, task: Task, spool: str, slot: int | None = None
                  ) -> tuple[str | bytes | InSlot, BatchResult, list[Prepared], int]:
    """Read one chunk of the input, decide it, put its output in `slot` (if given and it fits)
    or a file in `spool`: (where it is, or b"" when nothing is written; the counts; the log
    records; the chunk's end)."""
    assert _job is not None, "the worker was not initialised"
    source, options = _job
    start, end, first, count, write_from = task
    lines = files.read_range(path, start, end)
    if len(lines) != count:
        raise files.io_problem("input_unreadable", "read", path, OSError(
            "the file changed while it was read"), "batch a file no one is writing to")
    skip = write_from - first
    total = BatchResult(summary=Summary() if options.summary else None)
    if skip > 0 and options.summary:   # already written: decided again for the summary only
        total.merge(decide_chunk(source, dataclasses.replace(options, log=None), first,
                                 lines[:skip])[1])
    if skip >= count:
        return b"", total, [], end
    data, result, records = decide_chunk(source, options, first + max(skip, 0),
                                         lines[max(skip, 0):])
    if slot is not None:
        blob = pack_records(records) if records else b""
        filled = fill(spool, slot, data, blob)
        if filled is not None:
            return filled, total.merge(result), [] if blob else records, end
    chunk = Path(spool) / f"chunk-{first:012d}"
    try:
        with open(chunk, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise files.io_problem("output_unwritable", "write", str(chunk), exc) from None
    return str(chunk), total.merge(result), records, end
