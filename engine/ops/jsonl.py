"""JSON lines: a ticket parsed from one line, canonical JSON bytes for one record.

Lines are parsed with msgspec, which keeps integers exact as `json.loads` does; whatever its
result cannot vouch for (a syntax error, `NaN`, invalid UTF-8, a BOM, a duplicate key, nesting
deeper than the loader allows) is parsed again by `read_text` + `load_json`, so a line is
judged exactly as `ticket-policy evaluate` judges a file, with the same diagnostics.

Records are written as canonical JSON (sorted keys, no whitespace, UTF-8): the bytes of
`engine.core.decision.canonical_json` — identical for every value a batch writes; text UTF-8
cannot carry (a lone surrogate, in an error record) is written as a `\\u` escape instead.
`DecisionEncoder` produces `decision.canonical()` for each decision with
`Decision.to_json_bytes()`, re-using the bytes of the parts a cached outcome shares between
tickets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import msgspec

from engine.core.decision import Decision
from engine.core.diagnostics import Diagnostic, Location
from engine.load import MAX_DEPTH, Document, load_json, read_text

#: Longest input line read (bytes); a longer line is reported, not held in memory.
MAX_LINE_BYTES = 4 * 1024 * 1024

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder(order="sorted").encode
# every string of a JSON text in order, with the `:` that makes it a key
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"[ \t\n\r]*(:?)', re.DOTALL)


def encode(value: object) -> bytes:
    """Canonical JSON bytes of JSON data (see the module docstring)."""
    try:
        return _encode(value)
    except UnicodeEncodeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=True).encode("ascii")


# --------------------------------------------------------------------------- parsing


def parse_line(raw: bytes, name: str, line: int) -> tuple[object, tuple[Diagnostic, ...]]:
    """The JSON value of one input line (without its newline), or the problems that prevent
    reading it, located at `name:line:column`."""
    if len(raw) > MAX_LINE_BYTES:
        return None, (Diagnostic(
            "line_too_long", f"line is longer than {MAX_LINE_BYTES:,} bytes",
            location=Location(file=name, line=line, column=1),
            hint="one ticket per line; is the input json lines?"),)
    try:
        data = _decode(raw)
    except (msgspec.DecodeError, RecursionError):
        data = _decode  # a marker: read it the slow way
    else:
        if isinstance(data, dict | list) and not _plain(raw, data):
            data = _decode
    if data is not _decode:
        return data, ()
    doc, problems = document(raw, name, line)
    return (doc.data if doc is not None else None), problems


def document(raw: bytes, name: str, line: int
             ) -> tuple[Document | None, tuple[Diagnostic, ...]]:
    """The line read as `evaluate` reads a ticket file: its document with marks, or every
    problem, placed on `line` of `name`."""
    text, diags = read_text(raw, name)
    if text is not None:
        doc, diags = load_json(text, name)
        if doc is not None and not any(d.severity == "error" for d in diags):
            return doc, ()
    return None, tuple(_on_line(d, line, d.location) for d in diags)


def locate(raw: bytes, name: str, line: int,
           diagnostics: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Ticket diagnostics (JSON pointers) placed at `name:line:column` of the input."""
    doc, _ = document(raw, name, line)
    out = []
    for d in diagnostics:
        pointer = d.location.pointer
        if doc is None or pointer is None:
            out.append(d)
            continue
        out.append(_on_line(d, line, doc.locate(pointer)))
    return tuple(out)


def _on_line(d: Diagnostic, line: int, where: Location) -> Diagnostic:
    loc = Location(where.file, line, where.column or 1, where.pointer)
    message = d.message
    if d.code == "json_duplicate_key":  # the loader saw the line as a file of one line
        message = message.replace("(previously at line 1, ", f"(previously at line {line}, ")
    return Diagnostic(d.code, message, d.severity, loc, d.rule, d.hint)


def _plain(raw: bytes, data: dict | list) -> bool:
    """No key repeats and no nesting deeper than the loader allows: what the fast parse does
    not check.

    Without a backslash in the line, every colon of the text is a key's or one inside a string,
    and the data re-encoded holds one colon per distinct key and the same colons inside its
    strings — minus those of a value a repeated key overwrote. So the two counts are equal
    exactly when no key repeats. With escapes, the keys of the text are counted one by one.
    """
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _depth(data, 1) > MAX_DEPTH:
        return False
    if b"\\" not in raw:
        return raw.count(b":") == _encode(data).count(b":")
    return _keys(data) == _STRING.findall(raw).count(b":")


def _depth(value: dict | list, depth: int) -> int:
    """How deep `value` nests (stops counting past MAX_DEPTH)."""
    if depth > MAX_DEPTH:
        return depth
    items = value.values() if isinstance(value, dict) else value
    deepest = depth
    for v in items:
        if v.__class__ is dict or v.__class__ is list:
            deepest = max(deepest, _depth(v, depth + 1))
    return deepest


def _keys(value: object) -> int:
    """How many keys the objects in `value` have."""
    if value.__class__ is dict:
        return len(value) + sum(_keys(v) for v in value.values())
    if value.__class__ is list:
        return sum(_keys(v) for v in value)
    return 0


# --------------------------------------------------------------------------- decisions

class DecisionEncoder:
    """`decision.canonical()` as bytes: `Decision.to_json_bytes()`, which re-uses the encoded
    parts of an outcome shared by the tickets of a cache entry; text UTF-8 cannot carry is
    written as a `\\u` escape instead (as `encode` does). Kept per policy by the batch workers."""

    def encode(self, d: Decision, end: bytes = b"") -> bytes:
        """The canonical JSON bytes of `d.to_json()`, then `end` (e.g. a newline)."""
        try:
            return d.to_json_bytes() + end
        except UnicodeEncodeError:
            return encode(d.to_json()) + end

