"""Chunks decided on this machine: in this process (`--workers 1`) or by a pool of worker
processes, each compiling the policy once; results written in input order.

At most two chunks per worker are in flight, so memory stays the same whatever the input size.
Workers start from a fork server that has imported the engine (spawned where there is none).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from engine.adapters.batch.worker import ChunkOptions, PolicySource, decide_chunk, init_worker
from engine.ops.batch import BatchResult
from engine.ops.log.records import Prepared

#: (first line, lines, whether its output is written: False replays lines already written)
Item = tuple[int, list[bytes], bool]
#: (output bytes, counts, log records, whether to write them)
Emit = Callable[[bytes, BatchResult, list[Prepared], bool], None]
IN_FLIGHT_PER_WORKER = 2


class WorkerFailed(Exception):
    """A worker process died (e.g. killed, or the engine crashed)."""


def run_local(items: Iterable[Item], emit: Emit, source: PolicySource, options: ChunkOptions,
              workers: int) -> None:
    """Decide every item and `emit` its output in order."""
    if workers <= 1:
        for first, lines, write in items:
            emit(*decide_chunk(source, options, first, lines), write)
        return
    pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init,
                               initargs=(source, options))
    inflight: deque[tuple[Future, bool]] = deque()
    try:
        for first, lines, write in items:
            inflight.append((pool.submit(_decide, first, lines), write))
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
    emit(*future.result(), write)


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["engine.adapters.batch.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


# ---- in each worker process ---------------------------------------------------------------
_job: tuple[PolicySource, ChunkOptions] | None = None


def _init(source: PolicySource, options: ChunkOptions) -> None:
    global _job
    _job = source, options
    init_worker(source, options)


def _decide(first: int, lines: list[bytes]) -> tuple[bytes, BatchResult, list[Prepared]]:
    assert _job is not None, "the worker was not initialised"
    source, options = _job
    return decide_chunk(source, options, first, lines)
