"""Shared-memory slots for the workers' chunk output, where the spool folder is in tmpfs.

A worker used to write each chunk's output (~7 MB for 1,000 lines of decision records) to a
file of its own in the spool folder, which the parent read into its output and deleted: the
file's pages made, copied twice and freed for every chunk — 9.5 ms of CPU per 7.6 MB chunk,
~7 µs per line, measured on this project's machine (2026-12-03). A slot is a file of the spool
folder made once per run (its pages reserved with `posix_fallocate`, so a full tmpfs is an
error when it is made, never a SIGBUS while a worker writes into it), which the parent and the
workers map: a worker copies the chunk's bytes into the slot the parent gave its task, the
parent's writer copies them out to the output and hands the slot back — 1.9–2.6 ms per chunk.
With `--log`, the chunk's log records (pickled) follow its output in the slot, rather than
through the pool's pipe, and are read back by the writer's thread that commits them (the thread
that hands chunks over does not hold the GIL for them).

A task without a free slot, or whose output does not fit its slot, falls back to a chunk file.
The slots live in the spool folder, so what a killed run leaves is cleared by the next run on
the same output (`job._spool`), as its chunk files are.
"""

from __future__ import annotations

import mmap
import os
import pickle
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from engine.ops.log.records import Prepared

#: bytes a slot holds: a 256 KiB input chunk makes ~7.6 MB of decision records
SLOT_BYTES = 16 << 20


class InSlot(NamedTuple):
    """A worker's answer: the chunk's output is the first `length` bytes of slot `slot`, and
    its log records, pickled, the `records` bytes after them (0: none, or sent as usual)."""

    slot: int
    length: int
    records: int = 0


def _name(folder: Path | str, index: int) -> Path:
    return Path(folder) / f"slot-{index:03d}"


class SlotPool:
    """The parent's slots: `take` one for a task (None when all are in use), `chunk` the
    output a worker put in it, `release` it once written; `close` when no one writes."""

    def __init__(self, folder: Path, maps: list[mmap.mmap]):
        self.folder = folder
        self._maps = maps
        self._free = list(range(len(maps)))[::-1]
        self._lock = threading.Lock()

    @classmethod
    def create(cls, folder: Path, count: int, size: int = SLOT_BYTES) -> SlotPool | None:
        """`count` slots of `size` bytes in `folder`, taking at most half the file system's
        free space (the rest is for chunk files, should tasks need them: a container's 64 MB
        /dev/shm gets two slots); None when not even one fits, or their pages cannot be
        reserved."""
        try:
            free = os.statvfs(folder)
            count = min(count, free.f_bavail * free.f_frsize // (2 * size))
        except OSError:
            return None
        maps = []
        for index in range(count):
            try:
                fd = os.open(_name(folder, index), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                break
            try:
                os.posix_fallocate(fd, 0, size)
                maps.append(mmap.mmap(fd, size))
            except (OSError, ValueError, AttributeError):  # no room, or no fallocate here
                os.close(fd)
                os.unlink(_name(folder, index))
                break
            os.close(fd)
        return cls(folder, maps) if maps else None

    def take(self) -> int | None:
        with self._lock:
            return self._free.pop() if self._free else None

    def release(self, index: int) -> None:
        with self._lock:
            self._free.append(index)

    def chunk(self, filled: InSlot) -> SlotChunk:
        return SlotChunk(self, filled.slot, filled.length, filled.records)

    @contextmanager
    def view(self, slot: int, start: int, end: int) -> Iterator[memoryview]:
        """Bytes `start:end` of `slot`, viewed (released on leaving, so `close` can unmap)."""
        with memoryview(self._maps[slot]) as whole, whole[start:end] as part:
            yield part

    def close(self) -> None:
        """Unmap the slots (their files go with the spool folder). A slot still viewed — by the
        traceback of a failed write — is unmapped when the view is freed."""
        for m in self._maps:
            try:
                m.close()
            except BufferError:
                pass
        self._maps = []


class SlotChunk:
    """A chunk's output in a slot, handed to the writer: its log records (`records()`, read
    by the writer's thread, which commits them), then `write_to(out)`, and the slot is free
    for another task (also when writing fails)."""

    __slots__ = ("pool", "index", "length", "records_length")

    def __init__(self, pool: SlotPool, index: int, length: int, records_length: int = 0):
        self.pool, self.index, self.length = pool, index, length
        self.records_length = records_length

    def records(self) -> list[Prepared]:
        """The log records the worker put in the slot after the output (`pack_records`; none
        when it put none there)."""
        if not self.records_length:
            return []
        with self.pool.view(self.index, self.length, self.length + self.records_length) as view:
            return unpack_records(view)

    def write_to(self, out) -> None:
        try:
            with self.pool.view(self.index, 0, self.length) as view:
                out.write(view)
        finally:
            self.pool.release(self.index)


def pack_records(records: list[Prepared]) -> bytes:
    """Log records pickled as plain tuples (half the time of pickling the named tuples, which
    pickle calls a function for one by one)."""
    return pickle.dumps([tuple(r) for r in records], protocol=pickle.HIGHEST_PROTOCOL)


def unpack_records(data: bytes | memoryview) -> list[Prepared]:
    """The records `pack_records` packed."""
    make = Prepared._make
    return [make(r) for r in pickle.loads(data)]  # noqa: S301 — this run's own workers'


# ---- in each worker process ---------------------------------------------------------------
_mapped: dict[tuple[Path, int], mmap.mmap] = {}


def fill(folder: str, index: int, data: bytes, records: bytes = b"") -> InSlot | None:
    """Copy `data`, then `records` (log records, `pack_records`), into slot `index` of the
    pool in `folder` (mapped once per process and file: a slot file made again by a later run
    is mapped again); None when they do not fit."""
    path = _name(folder, index)
    key = path, os.stat(path).st_ino
    m = _mapped.get(key)
    if m is None:
        with open(path, "r+b") as f:
            m = _mapped[key] = mmap.mmap(f.fileno(), 0)
    end = len(data) + len(records)
    if end > len(m):
        return None
    m[:len(data)] = data
    m[len(data):end] = records
    return InSlot(index, len(data), len(records))
