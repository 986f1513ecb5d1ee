"""The one file reader: bytes -> text for policies, tickets and policy test files.

A file is read as bytes, strict UTF-8 (a leading BOM is kept: the loaders drop one, and only
one).
A file that cannot be read, or is not UTF-8, gives one ``file_unreadable`` diagnostic (for
bad UTF-8 at the line and column of the first bad byte). No size limit is applied here.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from engine.core.diagnostics import Diagnostic, Location
from engine.load.document import Document, show
from engine.load.json_scan import load_json
from engine.load.yaml_events import load_yaml

__all__ = ["decode_text", "load_json_file", "load_yaml_file", "read_text"]


def read_text(source: str | Path | bytes | BinaryIO,
              name: str | None = None) -> tuple[str | None, list[Diagnostic]]:
    """The text of a file (a path), of bytes read elsewhere (a request body) or of a binary
    stream (stdin), or ``(None, [file_unreadable])`` citing `name` (default: the path, else
    `<input>`)."""
    if name is None:
        name = str(source) if isinstance(source, str | Path) else "<input>"
    try:
        if isinstance(source, bytes | bytearray):
            raw = bytes(source)
        elif isinstance(source, str | Path):
            raw = Path(source).read_bytes()
        else:
            raw = source.read()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return None, [Diagnostic("file_unreadable", f"cannot read `{show(name, 80)}`: "
                                 f"{reason[:1].lower()}{reason[1:]}", location=Location(file=name))]
    return decode_text(raw, name)


def decode_text(raw: bytes, name: str) -> tuple[str | None, list[Diagnostic]]:
    """`raw` (the bytes of file `name`) as text without a BOM, or ``(None, [file_unreadable])``."""
    try:  # a BOM stays in the text: load_json / load_yaml drop one (and only one)
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        good = raw[: exc.start].decode("utf-8", errors="replace")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        return None, [Diagnostic(
            "file_unreadable",
            f"file is not valid utf-8 (byte `0x{raw[exc.start]:02x}` at offset {exc.start})",
            location=Location(file=name, line=line, column=column),
            hint="save the file as utf-8",
        )]


def load_yaml_file(path: str | Path) -> tuple[Document | None, list[Diagnostic]]:
    """Read and load a YAML policy file; unreadable or non-utf-8 files give ``file_unreadable``."""
    text, diags = read_text(path)
    if text is None:
        return None, diags
    return load_yaml(text, str(path))


def load_json_file(path: str | Path) -> tuple[Document | None, list[Diagnostic]]:
    """Read and load a JSON file; unreadable or non-utf-8 files give ``file_unreadable``."""
    text, diags = read_text(path)
    if text is None:
        return None, diags
    return load_json(text, str(path))
