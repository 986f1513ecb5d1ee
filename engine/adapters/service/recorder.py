"""A worker's group committer: requests hand their records to one writer thread, which commits
everything waiting in one transaction (one fsync) and wakes each request once its records are
durable. The event loop never blocks on the disk, and the group grows with the load (a thread
pool would cap it at its size)."""

from __future__ import annotations

import asyncio
import threading

from engine.ops.log import DecisionLog, Entry, LogError, Receipt
from engine.ops.log.records import Prepared

_Waiter = tuple[list[Prepared], asyncio.Future, asyncio.AbstractEventLoop]


class Recorder:
    """Appends to `log` from coroutines; `close()` commits what is waiting, then stops."""

    def __init__(self, log: DecisionLog):
        self.log = log
        self._cv = threading.Condition()
        self._waiting: list[_Waiter] = []
        self._closed = False
        self._thread: threading.Thread | None = None
        self.groups = 0    # transactions committed (for the benchmark and tests)

    async def append(self, entries: list[Entry]) -> list[Receipt]:
        """Log `entries` (serialised here, on the caller's thread); returns once durable, in
        one transaction with whatever else is waiting. LogError if it cannot be written."""
        items = [self.log.prepare(e.decision, policy=e.policy, ticket=e.ticket,
                                  request_id=e.request_id) for e in entries]
        if not items:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        with self._cv:
            if self._closed:
                raise LogError("log_closed", "the decision log is closed: the service is "
                               "stopping", self.log.path, "retry on another worker")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="decision-log",
                                                daemon=True)
                self._thread.start()
            self._waiting.append((items, future, loop))
            self._cv.notify()
        return await future

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._waiting and not self._closed:
                    self._cv.wait()
                group, self._waiting = self._waiting, []
            if not group:
                return
            self._commit(group)

    def _commit(self, group: list[_Waiter]) -> None:
        outcomes: list[tuple[asyncio.Future, list[Receipt] | None, BaseException | None]] = []
        try:
            receipts = self.log.append_prepared([i for items, _, _ in group for i in items])
        except BaseException as exc:   # noqa: BLE001 - handed to every waiting request
            outcomes = [(future, None, exc) for _, future, _ in group]
        else:
            self.groups += 1
            at = 0
            for items, future, _ in group:
                outcomes.append((future, receipts[at:at + len(items)], None))
                at += len(items)
        loops: dict[asyncio.AbstractEventLoop, list] = {}
        for (_, _, loop), outcome in zip(group, outcomes, strict=True):
            loops.setdefault(loop, []).append(outcome)
        for loop, settled in loops.items():   # one wake-up of each loop per group
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:   # that loop was closed meanwhile: nobody waits
                pass

    def close(self) -> None:
        """Commit what is waiting and stop the writer thread (the log stays open)."""
        with self._cv:
            self._closed = True
            self._cv.notify()
            thread = self._thread
        if thread is not None:
            thread.join()


def _settle(settled: list[tuple[asyncio.Future, list[Receipt] | None,
                               BaseException | None]]) -> None:
    for future, result, error in settled:
        if future.done():   # the request timed out or its client went away meanwhile
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
