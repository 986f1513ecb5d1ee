"""Decided chunks committed and written in input order by a thread of its own: each chunk's log
records are committed (one transaction: durable when it returns), then its lines written — so
a line is in the output only once its record is durable, while the next chunks are decided
meanwhile (SQLite syncing and the kernel copying do not hold up deciding). The transaction also
notes the run and the input line its records reach, so a resumed run does not log again a chunk
that was committed but not written when the run died.

At most `depth` chunks wait, so memory stays bounded; the first failure stops the writing and
is raised by the next `put` or by `close`.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from engine.adapters.batch.files import Output
from engine.adapters.batch.slots import SlotChunk
from engine.core.diagnostics import Diagnostic
from engine.ops.log import DecisionLog
from engine.ops.log.records import Prepared

_DONE = None


class ChunkWriter:
    """`put(records, data, through)` each chunk in input order; `close()` waits for all of
    them. The log keeps, with each chunk's records, the run (`run`) and the input line they
    reach (`through`), so a resumed run does not log them again."""

    def __init__(self, out: Output, log: DecisionLog | None, depth: int = 2,
                 threaded: bool = True, run: str = ""):
        self.out, self.log, self.run = out, log, run
        self.error: BaseException | None = None
        self.warnings: dict[str, Diagnostic] = {}   # the receipts' (version_not_bumped), once
        self._queue: queue.Queue[tuple[list[Prepared], bytes | Path | SlotChunk, int] | None] = \
            queue.Queue(depth)
        self._thread = threading.Thread(target=self._run, name="batch-writer", daemon=True)
        self.threaded = threaded   # False: each chunk is committed and written in `put`
        if threaded:
            self._thread.start()

    def put(self, records: list[Prepared], data: bytes | Path | SlotChunk,
            through: int = 0) -> None:
        """Queue one chunk: its records (committed first; a slot's are read from it here, by
        the writer), its output bytes, file or slot, and the input line it ends at."""
        if self.error is not None:
            raise self.error
        if not self.threaded:
            self._write(records, data, through)
            return
        self._queue.put((records, data, through))

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Wait until every chunk put is committed and written; raise the first failure."""
        self.stop()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Let the chunks put be written, and end the thread (raising nothing)."""
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not _DONE:
            if self.error is not None:
                continue   # failed: drain, so `put` never blocks
            try:
                self._write(*item)
            except BaseException as exc:  # noqa: BLE001 — raised in the caller's thread
                self.error = exc

    def _write(self, records: list[Prepared], data: bytes | Path | SlotChunk, through: int) -> None:
        if isinstance(data, SlotChunk):
            records = data.records()   # here, not in the thread that hands chunks over
        if self.log is not None:
            for receipt in self.log.append_prepared(records, (self.run, through)):
                for w in receipt.warnings:
                    self.warnings.setdefault(w.message, w)
        if isinstance(data, SlotChunk):
            data.write_to(self.out)
        elif isinstance(data, Path):
            self.out.append_file(data)
            data.unlink()
        else:
            self.out.write(data)
