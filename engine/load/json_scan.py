"""Ticket JSON read by a position-tracking scanner whose values equal ``json.loads`` results.

Every value and object key gets a JSON-pointer mark (computed lazily from offsets); duplicate
keys, ``NaN``/``Infinity``, numbers overflowing to infinity and nesting beyond ``MAX_DEPTH``
are reported as diagnostics, syntax errors with the standard library's message and position.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, cast

from engine.core.diagnostics import Diagnostic, Location, pointer_join
from engine.load.document import MAX_DEPTH, Document, show

if TYPE_CHECKING:  # typeshed's json.decoder omits scanstring; it is _json's (or its fallback)
    from _json import scanstring as _scanstring
else:
    from json.decoder import scanstring as _scanstring

__all__ = ["load_json"]

_WS_RE = re.compile(r"[ \t\n\r]*")
# `_WS_RE` matches (possibly empty) at every position, so its match is never None
_skip_ws = cast("Callable[[str, int], re.Match[str]]", _WS_RE.match)
_NUMBER_RE = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_NUMBER_START = frozenset("-0123456789")


class _LineIndex:
    """Offset -> 1-based (line, column), counting ``\\n`` like ``json.JSONDecodeError``."""

    __slots__ = ("_newlines",)

    def __init__(self, text: str):
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def line_col(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_left(self._newlines, offset)
        start = self._newlines[index - 1] + 1 if index else 0
        return index + 1, offset - start + 1


class _OffsetMarks(Mapping[str, Location]):
    """Read-only pointer -> Location map built lazily from character offsets."""

    __slots__ = ("_offsets", "_file", "_text", "_index")

    def __init__(self, offsets: dict[str, int], file: str, text: str,
                 index: _LineIndex | None = None):
        self._offsets = offsets
        self._file = file
        self._text = text
        self._index = index

    def _line_index(self) -> _LineIndex:
        if self._index is None:
            self._index = _LineIndex(self._text)
        return self._index

    def __getitem__(self, pointer: str) -> Location:
        line, column = self._line_index().line_col(self._offsets[pointer])
        return Location(file=self._file, line=line, column=column, pointer=pointer)

    def __contains__(self, pointer: object) -> bool:
        return pointer in self._offsets

    def __iter__(self) -> Iterator[str]:
        return iter(self._offsets)

    def __len__(self) -> int:
        return len(self._offsets)


# (kind, offset, pointer, text, offset of the previous occurrence for duplicates)
_Finding = tuple[str, int, str, str, int]


class _JsonSyntax(Exception):
    def __init__(self, pos: int, message: str, pointer: str):
        super().__init__(message)
        self.pos, self.message, self.pointer = pos, message, pointer


class _JsonTooDeep(Exception):
    def __init__(self, pos: int, pointer: str):
        super().__init__(pointer)
        self.pos, self.pointer = pos, pointer


def _scan_json(s: str, offsets: dict[str, int], key_offsets: dict[str, int],
               found: list[_Finding]) -> object:
    """Parse ``s`` exactly like ``json.loads``, recording value offsets and findings.

    Raises _JsonSyntax / _JsonTooDeep; findings gathered so far stay in ``found``.
    """
    ws = _skip_ws
    number = _NUMBER_RE.match
    scanstring = _scanstring
    # The innermost open container: an object's dict (`members`) or an array's list (`items`),
    # the other None; its pointer; an object's key whose value is being read. Opening a
    # container saves the enclosing state (none at the root), closing one restores it.
    members: dict[str, object] | None = None
    items: list[object] | None = None
    parent = key = ""
    saved: list[tuple[dict[str, object] | None, list[object] | None, str, str]] = []
    ptr = ""
    pos = ws(s, 0).end()
    value: object
    while True:
        # ---- one value starts at pos; its pointer is ptr
        offsets[ptr] = pos
        c = s[pos:pos + 1]
        if c == '"':
            try:
                value, pos = scanstring(s, pos + 1, True)
            except json.JSONDecodeError as exc:
                raise _JsonSyntax(exc.pos, exc.msg, ptr) from None
        elif c in _NUMBER_START and (match := number(s, pos)) is not None:
            integer, frac, exp = match.groups()
            try:
                if frac is None and exp is None:
                    value = int(integer)
                else:
                    value = float(match.group())
                    if value in (math.inf, -math.inf):
                        found.append(("overflow", pos, ptr, match.group(), 0))
            except ValueError:
                raise _JsonSyntax(pos, "Number is too long", ptr) from None
            pos = match.end()
        elif c == "{" or c == "[":
            if len(saved) >= MAX_DEPTH:
                raise _JsonTooDeep(pos, ptr)
            is_object = c == "{"
            pos = ws(s, pos + 1).end()
            if s[pos:pos + 1] == ("}" if is_object else "]"):
                value = {} if is_object else []
                pos += 1
            elif is_object:
                saved.append((members, items, parent, key))
                members, items, parent = {}, None, ptr
                pos, ptr, key = _json_key(s, pos, members, parent, key_offsets, found)
                continue
            else:
                saved.append((members, items, parent, key))
                members, items, parent = None, [], ptr
                ptr += "/0"
                continue
        elif c == "n" and s.startswith("null", pos):
            value, pos = None, pos + 4
        elif c == "t" and s.startswith("true", pos):
            value, pos = True, pos + 4
        elif c == "f" and s.startswith("false", pos):
            value, pos = False, pos + 5
        elif c == "N" and s.startswith("NaN", pos):
            value, pos = math.nan, pos + 3
            found.append(("non_finite", pos - 3, ptr, "NaN", 0))
        elif c == "I" and s.startswith("Infinity", pos):
            value, pos = math.inf, pos + 8
            found.append(("non_finite", pos - 8, ptr, "Infinity", 0))
        elif c == "-" and s.startswith("-Infinity", pos):
            value, pos = -math.inf, pos + 9
            found.append(("non_finite", pos - 9, ptr, "-Infinity", 0))
        else:
            raise _JsonSyntax(pos, "Expecting value", ptr)
        # ---- value complete: hand it to its container(s)
        while True:
            if not saved:
                pos = ws(s, pos).end()
                if pos != len(s):
                    raise _JsonSyntax(pos, "Extra data", "")
                return value
            if pos < len(s) and s[pos] in " \t\n\r":
                pos = ws(s, pos).end()
            c = s[pos:pos + 1]
            if members is not None:
                members[key] = value
                if c == ",":
                    pos, ptr, key = _json_key(s, ws(s, pos + 1).end(), members, parent,
                                              key_offsets, found)
                    break
                if c != "}":
                    raise _JsonSyntax(pos, "Expecting ',' delimiter", parent)
                value = members
            else:
                assert items is not None  # a container is open and it is not an object
                items.append(value)
                if c == ",":
                    pos += 1
                    if s[pos:pos + 1] in " \t\n\r":
                        pos = ws(s, pos).end()
                    ptr = f"{parent}/{len(items)}"
                    break
                if c != "]":
                    raise _JsonSyntax(pos, "Expecting ',' delimiter", parent)
                value = items
            pos += 1   # the container is complete: it is the value of the enclosing one
            members, items, parent, key = saved.pop()


def _json_key(s: str, pos: int, members: dict[str, object], parent: str,
              key_offsets: dict[str, int], found: list[_Finding]) -> tuple[int, str, str]:
    """Read `"key" :` at pos for the object `members` at pointer `parent`.

    Returns (value position, value pointer, key).
    """
    if s[pos:pos + 1] != '"':
        raise _JsonSyntax(pos, "Expecting property name enclosed in double quotes", parent)
    try:
        key, end = _scanstring(s, pos + 1, True)
    except json.JSONDecodeError as exc:
        raise _JsonSyntax(exc.pos, exc.msg, parent) from None
    end = _skip_ws(s, end).end()
    if s[end:end + 1] != ":":
        raise _JsonSyntax(end, "Expecting ':' delimiter", parent)
    pointer = f"{parent}/{key}" if "~" not in key and "/" not in key \
        else pointer_join(parent, key)
    if key in members:
        found.append(("duplicate", pos, pointer, key, key_offsets[pointer]))
    key_offsets[pointer] = pos
    return _skip_ws(s, end + 1).end(), pointer, key


def load_json(text: str, file: str) -> tuple[Document | None, list[Diagnostic]]:
    """Parse ticket JSON (values as ``json.loads`` gives them) with marks for every value.

    Reports ``json_syntax`` (and then returns ``(None, diags)``), ``json_duplicate_key`` and
    ``json_non_finite``. A leading UTF-8 BOM is ignored (columns count from after it).
    """
    if text.startswith("\ufeff"):
        text = text[1:]
        if text.startswith("\ufeff"):
            return None, [Diagnostic("json_syntax", "the input starts with two byte-order marks",
                                     location=Location(file=file, line=1, column=1),
                                     hint="save it as utf-8 with one byte-order mark or none")]
    offsets: dict[str, int] = {}
    key_offsets: dict[str, int] = {}
    found: list[_Finding] = []
    index: _LineIndex | None = None

    def location(pos: int, pointer: str) -> Location:
        nonlocal index
        if index is None:
            index = _LineIndex(text)
        line, column = index.line_col(pos)
        return Location(file=file, line=line, column=column, pointer=pointer)

    data: object = None
    failure: Diagnostic | None = None
    try:
        data = _scan_json(text, offsets, key_offsets, found)
    except _JsonTooDeep as exc:
        failure = Diagnostic("json_too_deep", f"nesting deeper than {MAX_DEPTH} levels is not "
                             "allowed", location=location(exc.pos, exc.pointer))
    except _JsonSyntax as exc:
        failure = _json_syntax_diag(text, file, exc, location(exc.pos, exc.pointer))

    diags: list[Diagnostic] = []
    for kind, pos, pointer, shown, previous in found:
        if kind == "non_finite":
            diags.append(Diagnostic("json_non_finite", f"`{shown}` is not a valid json number",
                                    location=location(pos, pointer),
                                    hint="use a finite number or null"))
        elif kind == "overflow":
            diags.append(Diagnostic("json_non_finite", f"number `{show(shown)}` is too large "
                                    "(it overflows to infinity)", location=location(pos, pointer)))
        else:
            parent = pointer[: pointer.rfind("/")]
            where = f"object `{parent}`" if parent else "the root object"
            before = location(previous, pointer)
            diags.append(Diagnostic(
                "json_duplicate_key",
                f"duplicate key `{show(shown)}` in {where} (previously at line {before.line}, "
                f"column {before.column})",
                location=location(pos, pointer),
                hint="a json object must not repeat a key; the last value would silently win"))
    diags.sort(key=lambda d: (d.location.line or 0, d.location.column or 0))
    if failure is not None:
        diags.append(failure)
        return None, diags
    return Document(data, file, _OffsetMarks(offsets, file, text, index),
                    _OffsetMarks(key_offsets, file, text, index)), diags


def _json_syntax_diag(text: str, file: str, exc: _JsonSyntax, fallback: Location) -> Diagnostic:
    """Prefer the standard library's own error (message and position) for a syntax error."""
    message, location = exc.message, fallback
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        message = err.msg
        location = Location(file=file, line=err.lineno, column=err.colno, pointer=exc.pointer)
    except (ValueError, RecursionError):
        pass
    # the standard library appends " at <position>" outside msg; drop the dangling words
    message = message.removesuffix(" at").removesuffix(" starting")
    hint = None
    if not text.strip():
        hint = "the input is empty"
    elif message.startswith("Expecting property name"):
        hint = "keys must be double-quoted strings, and a trailing comma is not allowed"
    elif message.startswith("Invalid control character"):
        hint = "control characters in strings must be escaped, e.g. \\n or \\t"
    return Diagnostic("json_syntax", message[:1].lower() + message[1:], location=location,
                      hint=hint)
