"""Input read no further than a size limit: a ticket of 19 MiB is refused after 1 MiB + 1 byte,
before anything parses it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO


def read_bounded(source: str | bytes | BinaryIO | Path, limit: int
                 ) -> tuple[str | bytes | BinaryIO | Path, int | None]:
    """(what to read the input from, None) when it holds at most `limit` bytes — a stream or
    file comes back as the bytes read —, else (source, its size: -1 for a stream of unknown
    size). A str counts its UTF-8 bytes. An unreadable file comes back as it is, for the
    reader to report."""
    if isinstance(source, str):
        if len(source) * 4 > limit:  # a character is at most 4 bytes of UTF-8
            n = len(source.encode("utf-8", "surrogatepass"))
            return source, (n if n > limit else None)
        return source, None
    if isinstance(source, bytes | bytearray):
        return source, (len(source) if len(source) > limit else None)
    try:
        if isinstance(source, Path):
            with source.open("rb") as stream:
                raw, total = stream.read(limit + 1), os.fstat(stream.fileno()).st_size
        else:
            raw, total = source.read(limit + 1), 0
    except OSError:
        return source, None
    if len(raw) <= limit:
        return raw, None
    return source, (total if total > limit else -1)
