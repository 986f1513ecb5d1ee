"""Batch files: input lines (plain or gzip, or stdin), deterministic chunks, and output written
atomically with what `--resume` needs.

**Output and resume.** Records for `OUT` are written to `OUT.partial` in the same folder, next to
`OUT.partial.json` (what the run was: policy digest, `--now`, format, input name and size). On
success the partial file is flushed, fsynced and renamed to `OUT`, and the folder fsynced; the
manifest is removed. A killed or failed run leaves both, and nothing under `OUT`. `--resume`
reads the manifest (it must describe the same run), keeps the partial file up to its last
complete line — for gzip, its last complete gzip member: each chunk is one member — and
continues with the next input line. Chunks are cut from the start of the input by size alone
(each ends at the first line end at least CHUNK_BYTES after its start), so the resumed file is
byte for byte the file an uninterrupted run writes, and a worker process can be handed a chunk
as a byte range of the input file (`ranges`, `read_range`) instead of its lines.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import mmap
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from engine.adapters.batch.direct import DirectFile, fsync_folder
from engine.core.diagnostics import Diagnostic, Location
from engine.ops.jsonl import MAX_LINE_BYTES

CHUNK_BYTES = 256 << 10
PARTIAL, MANIFEST = ".partial", ".partial.json"
_READ = 1 << 16


class BatchIOError(Exception):
    """An input or output file failed; `diagnostic` says which and why."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic

    def __reduce__(self) -> tuple:   # raised in a worker process, re-raised in the parent
        return BatchIOError, (self.diagnostic,)


def io_problem(code: str, verb: str, name: str, exc: BaseException,
               hint: str | None = None) -> BatchIOError:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return BatchIOError(Diagnostic(code, f"cannot {verb} `{name}`: {reason[:1].lower()}"
                                   f"{reason[1:]}", location=Location(file=name), hint=hint))


def is_gzip(name: str) -> bool:
    return name.endswith(".gz")


# --------------------------------------------------------------------------- input


class Input:
    """An input file (gzip by its `.gz` name) or `-` (stdin), read as lines of bytes."""

    def __init__(self, name: str):
        self.name = "<stdin>" if name == "-" else name
        try:
            self.raw: BinaryIO = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
        except OSError as exc:
            raise io_problem("input_unreadable", "read", name, exc) from None
        self.size = _size(self.raw)
        self.stream: IO[bytes] | gzip.GzipFile = (
            gzip.GzipFile(fileobj=self.raw, mode="rb") if is_gzip(name) else self.raw)

    def position(self) -> int:
        """Bytes of the file read so far (compressed bytes for gzip)."""
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return 0

    @property
    def plain_file(self) -> bool:
        """A regular file, not compressed: workers can read their chunks of it themselves."""
        return self.size is not None and self.stream is self.raw and \
            self.raw is not sys.stdin.buffer

    def lines(self) -> Iterator[bytes]:
        """Each line without its newline; a line longer than MAX_LINE_BYTES is cut to
        MAX_LINE_BYTES + 1 bytes (it is reported) and the rest skipped unread into memory."""
        try:
            yield from _read_lines(self.stream.readline)
        except (OSError, EOFError, zlib.error) as exc:
            raise io_problem("input_unreadable", "read", self.name, exc) from None

    def close(self) -> None:
        if self.stream is not self.raw:
            self.stream.close()
        if self.raw is not sys.stdin.buffer:
            self.raw.close()


def _size(f: BinaryIO) -> int | None:
    try:
        st = os.fstat(f.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    import stat

    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _read_lines(readline: Callable[[int], bytes], stop: int | None = None) -> Iterator[bytes]:
    """Lines from `readline` (see `Input.lines`), until `stop` bytes are consumed."""
    limit = MAX_LINE_BYTES + 1
    used = 0
    while stop is None or used < stop:
        line = readline(limit)
        if not line:
            return
        used += len(line)
        if line.endswith(b"\n"):
            yield line[:-1]
            continue
        if len(line) >= limit:  # too long: skip to the end of the line
            rest = line
            while rest and not rest.endswith(b"\n"):
                rest = readline(_READ)
                used += len(rest)
        yield line


def chunks(lines: Iterator[bytes]) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, lines): each chunk ends at the first line end CHUNK_BYTES or more
    after its start, cut from the start of the input by size only (so a resumed run cuts the
    same chunks, and `ranges` cuts the same from the file's bytes)."""
    first, batch, size = 1, [], 0
    for line in lines:
        batch.append(line)
        size += len(line) + 1
        if size >= CHUNK_BYTES:  # a cut long line counts MAX_LINE_BYTES + 2 > CHUNK_BYTES
            yield first, batch
            first, batch, size = first + len(batch), [], 0
    if batch:
        yield first, batch


def ranges(path: str) -> Iterator[tuple[int, int, int, int]]:
    """(start, end, first line, lines) of each chunk of a plain file: the byte ranges of the
    chunks `chunks` cuts from its lines (read by the workers themselves: `read_range`)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if not size:
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            start, first = 0, 1
            while start < size:
                nl = mm.find(b"\n", start + CHUNK_BYTES - 1)
                end = size if nl < 0 else nl + 1
                count = sum(mm[at:min(end, at + (4 << 20))].count(b"\n")
                            for at in range(start, end, 4 << 20))
                count += mm[end - 1] != 10  # the last line, without its newline
                yield start, end, first, count
                start, first = end, first + count


def read_range(path: str, start: int, end: int) -> list[bytes]:
    """The lines of bytes `start` to `end` of a plain file (a chunk `ranges` gave), as
    `Input.lines` reads them."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            return list(_read_lines(f.readline, end - start))
    except OSError as exc:
        raise io_problem("input_unreadable", "read", path, exc) from None


def empty_output(csv: bool, compress: bool) -> bytes:
    """What an empty input gives: nothing, or the CSV header; a gzip file holds that."""
    from engine.ops.batch import csv_header

    data = csv_header() if csv else b""
    if compress:
        from engine.adapters.batch.worker import GZIP_LEVEL

        data = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    return data


# --------------------------------------------------------------------------- output


@dataclass(frozen=True)
class Resumed:
    """What a partial file already holds."""

    lines: int          # complete records (not counting a CSV header)
    decided: int
    rejected: int


class Output:
    """Records written to `OUT.partial`, renamed to `OUT` by `commit`; or to stdout (`-`)."""

    def __init__(self, name: str | None, manifest: dict, *, resume: bool, csv: bool):
        self.name = name
        self.stdout = name is None or name == "-"
        self.gzip = name is not None and not self.stdout and is_gzip(name)
        self.csv = csv
        self.resumed = Resumed(0, 0, 0)
        self.run: str = manifest.get("run", "")   # the run's id: a resumed run keeps its own
        self.file: IO[bytes] = sys.stdout.buffer
        self.sink: DirectFile | None = None   # a regular file's (its partial file)
        if name is None or self.stdout:
            return
        if _special(name):  # /dev/null, a pipe: written as it is, never replaced
            if resume:
                raise BatchIOError(Diagnostic(
                    "bad_resume", f"`{name}` is not a regular file: it cannot be resumed",
                    location=Location(file="--resume")))
            try:
                self.file = open(name, "wb", buffering=0)  # noqa: SIM115
            except OSError as exc:
                raise io_problem("output_unwritable", "write", name, exc) from None
            self.stdout = True
            return
        self.final = Path(name)
        self.partial = self.final.with_name(self.final.name + PARTIAL)
        self.manifest = self.final.with_name(self.final.name + MANIFEST)
        try:
            if resume and self.partial.exists():
                self.resumed, self.run = self._recover(manifest)
                self.sink = DirectFile(self.partial, append=True)
            else:   # chunks are written whole, with direct I/O where the file system has it
                self.sink = DirectFile(self.partial)
            self.manifest.write_text(json.dumps({**manifest, "run": self.run}, indent=1,
                                                sort_keys=True) + "\n", "utf-8")
        except OSError as exc:
            raise io_problem("output_unwritable", "write", str(self.partial), exc) from None

    @property
    def writing(self) -> str:
        if self.stdout:
            return self.name if self.name not in (None, "-") else "<stdout>"
        return str(self.partial)

    def write(self, data: bytes) -> None:
        try:
            if self.sink is not None:
                self.sink.write(data)
                return
            view = memoryview(data)
            while view:   # an unbuffered file may take part of it
                view = view[self.file.write(view) or 0:]
        except OSError as exc:
            raise self._failed(exc) from None

    def append_file(self, path: Path) -> None:
        """Append the bytes of the file at `path` (a chunk a worker wrote): read into the
        partial file's stage, or to stdout or a special file copied by the kernel where it
        can."""
        try:
            if self.sink is not None:
                self.sink.append_file(path)
                return
            self.file.flush()
            with open(path, "rb") as src:
                size, offset = os.fstat(src.fileno()).st_size, 0
                try:
                    while offset < size:
                        sent = os.sendfile(self.file.fileno(), src.fileno(), offset,
                                           size - offset)
                        if not sent:
                            raise OSError(errno.EIO, "the chunk file ended early")
                        offset += sent
                except OSError as exc:
                    if not isinstance(exc, io.UnsupportedOperation) and exc.errno not in (
                            errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                        raise
                    src.seek(offset)
                    while block := src.read(_READ * 16):
                        self.write(block)
        except OSError as exc:
            raise self._failed(exc) from None

    def commit(self) -> None:
        """Make the output whole: flush, fsync, rename over `OUT`, fsync the folder."""
        try:
            if self.sink is None:
                self.file.flush()
                return
            self.sink.sync()
            self.sink.close()
            os.replace(self.partial, self.final)
            fsync_folder(self.final.parent)
            self.manifest.unlink(missing_ok=True)
        except OSError as exc:
            raise self._failed(exc) from None

    def close(self) -> None:
        """Leave the partial file as it is (for `--resume`)."""
        if self.sink is not None:
            self.sink.close()
            return
        if self.file is sys.stdout.buffer:
            return
        try:
            self.file.close()
        except OSError:
            pass

    def _failed(self, exc: OSError) -> BatchIOError:
        hint = None if self.stdout else (f"the lines written so far are kept in "
                                         f"`{self.partial}`; rerun with --resume to continue")
        return io_problem("output_unwritable", "write", self.writing, exc, hint)

    # ---- resume -----------------------------------------------------------------------
    def _recover(self, manifest: dict) -> tuple[Resumed, str]:
        """What the partial file holds (truncated to its last complete record) and the id of
        the run that wrote it."""
        try:
            before = json.loads(self.manifest.read_text("utf-8"))
        except (OSError, ValueError):
            before = None
        run = before.get("run") if isinstance(before, dict) else None
        if isinstance(before, dict):   # the run's id is the one thing a resumed run keeps
            before = {k: v for k, v in before.items() if k != "run"}
        manifest = {k: v for k, v in manifest.items() if k != "run"}
        if before != manifest:
            changed = sorted(k for k in manifest if not isinstance(before, dict)
                             or before.get(k) != manifest[k])
            raise BatchIOError(Diagnostic(
                "resume_mismatch", f"`{self.partial}` was written by another run (it differs "
                f"in: {', '.join(changed) or 'its manifest'})",
                location=Location(file=str(self.manifest)),
                hint="run without --resume to start over"))
        tally = _Tally(self.csv)
        keep = _gzip_members(self.partial, tally) if self.gzip else _lines(self.partial, tally)
        if not tally.lines:
            keep = 0
        with open(self.partial, "r+b") as f:
            f.truncate(keep)
        return (Resumed(tally.lines, tally.lines - tally.rejected, tally.rejected),
                run if isinstance(run, str) else self.run)


class _Tally:
    """Counts the records and the rejected ones in output text fed in pieces."""

    def __init__(self, csv: bool):
        self.csv = csv
        self.lines = self.rejected = 0
        self._rest = b""
        self._header = csv

    def feed(self, data: bytes) -> None:
        *complete, self._rest = (self._rest + data).split(b"\n")
        for line in complete:
            if self._header:
                self._header = False
                continue
            self.lines += 1
            self.rejected += self._is_rejected(line)

    def _is_rejected(self, line: bytes) -> bool:
        if not self.csv:
            return line.startswith(b'{"line":')
        import csv

        row = next(csv.reader([line.decode("utf-8", "replace")]), [])
        return len(row) > 6 and row[6] == "rejected"

    def state(self) -> tuple[int, int, bool]:
        return self.lines, self.rejected, self._header


def _lines(path: Path, tally: _Tally) -> int:
    """Feed the complete lines of a plain partial file; the offset after its last newline."""
    keep = 0
    with open(path, "rb") as f:
        offset = 0
        while block := f.read(_READ * 16):
            end = block.rfind(b"\n")
            if end >= 0:
                keep = offset + end + 1
            offset += len(block)
    with open(path, "rb") as f:
        left = keep
        while left and (block := f.read(min(left, _READ * 16))):
            tally.feed(block)
            left -= len(block)
    if tally.csv and tally._header:   # not even the header is complete
        return 0
    return keep


def _gzip_members(path: Path, tally: _Tally) -> int:
    """Feed the text of the complete gzip members of a partial file (each ends with a whole
    line); the offset after the last complete member."""
    keep = 0
    with open(path, "rb") as f:
        member, text, pending, offset = zlib.decompressobj(wbits=31), [], b"", 0
        while True:
            block = pending or f.read(_READ * 16)
            pending = b""
            if not block:
                break
            try:
                text.append(member.decompress(block))
            except zlib.error:
                break
            if member.eof:
                used = len(block) - len(member.unused_data)
                offset += used
                keep = offset
                for piece in text:
                    tally.feed(piece)
                pending, member, text = member.unused_data, zlib.decompressobj(wbits=31), []
            else:
                offset += len(block)
                if sum(map(len, text)) > CHUNK_BYTES * 64:  # a member far larger than a chunk
                    break
    return keep


def same_file(a: str, b: str) -> bool:
    """Whether paths `a` and `b` name one file: `os.path.samefile` when both exist (links,
    hard links), else their resolved paths."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def _special(name: str) -> bool:
    """An existing output that is not a regular file (a device, a pipe) or is a folder."""
    import stat

    try:
        mode = os.stat(name).st_mode
    except OSError:
        return False
    if stat.S_ISDIR(mode):
        raise BatchIOError(Diagnostic("output_unwritable", f"`{name}` is a folder",
                                      location=Location(file=name),
                                      hint="-o names the output file"))
    return not stat.S_ISREG(mode)
