"""Load policy YAML and ticket JSON into plain Python data with source locations.

YAML is read from PyYAML *events* (never through its constructors) with YAML 1.2 core-schema
resolution; YAML 1.1 coercions a human would not intend, tags, anchors/aliases and duplicate
keys are reported as diagnostics. JSON is read by a position-tracking scanner whose values equal
``json.loads`` results. Both record an RFC 6901 JSON pointer -> ``Location`` map for every value.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from json.decoder import scanstring as _scanstring
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

import yaml

from engine.core.diagnostics import Diagnostic, Location, pointer_join

__all__ = [
    "MAX_DEPTH",
    "Document",
    "load_json",
    "load_json_file",
    "load_yaml",
    "load_yaml_file",
    "pointer_join",
    "read_text",
]

#: Deepest container nesting accepted in either format (deeper input is rejected, not parsed).
MAX_DEPTH = 200


def _no_marks() -> Mapping[str, Location]:
    return MappingProxyType({})


# --------------------------------------------------------------------------- document & pointers


@dataclass(frozen=True)
class Document:
    """Parsed data plus where each value (``marks``) and each mapping key (``key_marks``) sits."""

    data: object
    file: str
    marks: Mapping[str, Location] = field(default_factory=_no_marks, repr=False)
    key_marks: Mapping[str, Location] = field(default_factory=_no_marks, repr=False)

    def locate(self, pointer: str, *, key: bool = False) -> Location:
        """Location of ``pointer`` (of its key with ``key=True``), else of its nearest ancestor.

        A location borrowed from an ancestor carries the requested ``pointer``. Never raises.
        """
        if not isinstance(pointer, str):
            pointer = str(pointer)
        try:
            if key:
                found = self.key_marks.get(pointer)
                if found is not None:
                    return found
            current = pointer
            while True:
                found = self.marks.get(current)
                if found is not None:
                    return found if current == pointer else replace(found, pointer=pointer)
                if not current:
                    break
                cut = current.rfind("/")
                current = current[:cut] if cut > 0 else ""
        except Exception:  # locate is used while reporting errors: it must never fail
            pass
        return Location(file=self.file, pointer=pointer)


def _show(text: str, limit: int = 40) -> str:
    """Value as shown inside backticks in a message: one line, shortened."""
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- files


def read_text(source: str | Path | bytes | BinaryIO,
              name: str | None = None) -> tuple[str | None, list[Diagnostic]]:
    """Text for load_yaml / load_json from a file (a path), bytes read elsewhere (a request
    body) or a binary stream (stdin), called `name` in diagnostics (default: the path, else
    `<input>`). Strict utf-8 (a leading BOM is kept for the loaders to drop); problems are
    ``file_unreadable``."""
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
        return None, [Diagnostic("file_unreadable", f"cannot read `{_show(name, 80)}`: "
                                 f"{reason[:1].lower()}{reason[1:]}", location=Location(file=name))]
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


# --------------------------------------------------------------------------- YAML

_Loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
_IS_C_LOADER = _Loader is not yaml.SafeLoader

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True,
          "false": False, "False": False, "FALSE": False}
_AMBIGUOUS_BOOLS = frozenset({"yes", "no", "on", "off", "y", "n"})
_INT_RE = re.compile(r"[-+]?[0-9]+")
_LEADING_ZERO_RE = re.compile(r"[-+]?0[0-9]+")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SEXAGESIMAL_RE = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_NON_FINITE_RE = re.compile(r"[-+]?\.(?:inf|nan)", re.IGNORECASE)
_RADIX_RE = re.compile(r"[-+]?0(?:x[0-9a-fA-F_]+|o[0-7_]+|b[01_]+)")
_UNDERSCORE_NUM_RE = re.compile(r"[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?")
_RADIX_NAMES = {"x": "a hexadecimal", "o": "an octal", "b": "a binary"}
_BREAK_RE = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _plain_hazard(value: str) -> tuple[str, str, str | None] | None:
    """(code, message, hint) when a plain scalar means something else to YAML 1.1 tools."""
    shown = _show(value)
    quote = f"quote it: {_quote(value)}" if len(value) <= 40 else "quote it"
    if value.lower() in _AMBIGUOUS_BOOLS:
        return ("yaml_ambiguous_bool",
                f"`{shown}` would be read as a boolean by YAML 1.1 tools; {quote}",
                "write true or false for a boolean")
    if _SEXAGESIMAL_RE.fullmatch(value):
        return ("yaml_sexagesimal",
                f"`{shown}` would be read as a number by YAML 1.1 tools; {quote}", None)
    if _LEADING_ZERO_RE.fullmatch(value):
        return ("yaml_leading_zero",
                f"`{shown}` has a leading zero, which YAML tools read as octal or decimal "
                f"inconsistently; {quote}",
                f"write {int(value)} if you meant the number")
    if _NON_FINITE_RE.fullmatch(value):
        return ("yaml_special_number",
                f"`{shown}` is a non-finite number; policy files only allow finite numbers",
                f"{quote} if you meant text")
    if _RADIX_RE.fullmatch(value):
        digits = value.lstrip("+-")
        kind = _RADIX_NAMES[digits[1].lower()]
        try:
            decimal = int(value.replace("_", ""), 0)
        except ValueError:
            decimal = None
        hint = f"write {decimal} instead" if decimal is not None else None
        return ("yaml_special_number",
                f"`{shown}` is {kind} number to YAML tools; use a decimal number or {quote}",
                hint)
    if "_" in value and _UNDERSCORE_NUM_RE.fullmatch(value):
        return ("yaml_special_number",
                f"`{shown}` would be read as a number by YAML 1.1 tools but as text here; "
                f"write {value.replace('_', '')} or {quote}", None)
    return None


def _resolve_plain(value: str) -> tuple[object, tuple[str, str, str | None] | None]:
    """YAML 1.2 core-schema value of a plain scalar, plus a hazard to report (if any)."""
    if value in _NULLS:
        return None, None
    if value in _BOOLS:
        return _BOOLS[value], None
    hazard = _plain_hazard(value)
    if hazard is not None:
        return value, hazard
    if _INT_RE.fullmatch(value):
        try:
            return int(value), None
        except ValueError:  # beyond Python's int-string digit limit
            return value, ("yaml_special_number", f"`{_show(value)}` is too large a number",
                           "quote it if you meant text")
    if _FLOAT_RE.fullmatch(value):
        number = float(value)
        if math.isinf(number):
            return value, ("yaml_special_number",
                           f"`{_show(value)}` is too large a number (it overflows to infinity)",
                           "quote it if you meant text")
        return number, None
    return value, None


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG_PREFIX):] if tag.startswith(_YAML_TAG_PREFIX) else tag


class _Abort(Exception):
    """Stop reading the YAML stream (alias, too deep, second document)."""


class _Frame:
    __slots__ = ("is_map", "value", "pointer", "start_mark", "expect_key", "key", "key_ok",
                 "value_pointer", "first_lines")

    def __init__(self, is_map: bool, value: dict | list, pointer: str | None,
                 start_mark: yaml.Mark):
        self.is_map = is_map
        self.start_mark = start_mark
        self.value = value
        self.pointer = pointer          # None: inside a key or a skipped entry -> no marks
        self.expect_key = True
        self.key: str | None = None
        self.key_ok = False
        self.value_pointer: str | None = None
        self.first_lines: dict[str, int] = {}


class _YamlBuilder:
    def __init__(self, file: str):
        self.file = file
        self.diags: list[Diagnostic] = []
        self.marks: dict[str, Location] = {}
        self.key_marks: dict[str, Location] = {}
        self.stack: list[_Frame] = []
        self.root: object = None
        self.root_empty = False

    def loc(self, mark: yaml.Mark, pointer: str | None = None) -> Location:
        return Location(file=self.file, line=mark.line + 1, column=mark.column + 1,
                        pointer=pointer)

    def error(self, code: str, message: str, mark: yaml.Mark, pointer: str | None = None,
              hint: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, location=self.loc(mark, pointer), hint=hint))

    def node_pointer(self) -> str | None:
        if not self.stack:
            return ""
        top = self.stack[-1]
        if top.is_map:
            return None if top.expect_key else top.value_pointer
        return None if top.pointer is None else pointer_join(top.pointer, len(top.value))

    def start_node(self, event: yaml.NodeEvent) -> str | None:
        pointer = self.node_pointer()
        if event.anchor is not None:
            self.error("yaml_alias", "anchors and aliases are not allowed in policy files "
                       f"(found anchor `&{_show(event.anchor)}`)", event.start_mark, pointer,
                       "repeat the content instead of anchoring it")
        tag = getattr(event, "tag", None)
        if tag is not None:
            self.error("yaml_tag", f"tag `{_show(_short_tag(tag))}` is not allowed: explicit tags "
                       "are not needed in policy files", event.start_mark, pointer,
                       "remove the tag; quote the value if it must be text")
        if pointer is not None:
            self.marks[pointer] = self.loc(event.start_mark, pointer)
        return pointer

    def scalar(self, event: yaml.ScalarEvent) -> None:
        pointer = self.start_node(event)
        text = event.value
        if event.style not in (None, ""):  # quoted or block scalar: always a string
            self.finish(text, event.start_mark, text, is_scalar=True)
            return
        value, hazard = _resolve_plain(text)
        if hazard is not None and event.tag is None:
            code, message, hint = hazard
            self.error(code, message, event.start_mark, pointer, hint)
        if not self.stack and text == "" and event.tag is None:
            self.root_empty = True
        self.finish(value, event.start_mark, text, is_scalar=True, hazard=hazard is not None)

    def start_collection(self, event: yaml.CollectionStartEvent, is_map: bool) -> None:
        pointer = self.start_node(event)
        if len(self.stack) >= MAX_DEPTH:
            self.error("yaml_too_deep", f"nesting deeper than {MAX_DEPTH} levels is not allowed",
                       event.start_mark, pointer)
            raise _Abort
        self.stack.append(_Frame(is_map, {} if is_map else [], pointer, event.start_mark))

    def end_collection(self) -> None:
        frame = self.stack.pop()
        self.finish(frame.value, frame.start_mark, None, is_scalar=False)

    def finish(self, value: object, mark: yaml.Mark, text: str | None, *, is_scalar: bool,
               hazard: bool = False) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if not top.is_map:
            top.value.append(value)  # type: ignore[union-attr]
            return
        if not top.expect_key:
            if top.key_ok:
                top.value[top.key] = value  # type: ignore[index]
            top.expect_key = True
            return
        top.expect_key = False
        top.key_ok = False
        top.value_pointer = None
        if hazard:  # already reported; the key would be this text once quoted
            value = text
        if not is_scalar:
            kind = "mapping" if isinstance(value, dict) else "sequence"
            self.error("yaml_key_type", f"mapping keys must be strings, not a {kind}", mark,
                       top.pointer)
            return
        if not isinstance(value, str):
            text = text or ""
            if not text:
                self.error("yaml_key_type", "mapping key is empty (null); keys must be strings",
                           mark, top.pointer)
            else:
                kind = "null" if value is None else type(value).__name__
                self.error("yaml_key_type", f"mapping key `{_show(text)}` is {kind}, not a "
                           "string", mark, top.pointer, f"quote it: {_quote(text)}")
            return
        first = top.first_lines.get(value)
        if first is not None:
            pointer = None if top.pointer is None else pointer_join(top.pointer, value)
            self.error("yaml_duplicate_key", f"duplicate key `{_show(value)}` (first defined "
                       f"on line {first})", mark, pointer, "remove or rename one of them")
            return
        top.first_lines[value] = mark.line + 1
        top.key, top.key_ok = value, True
        if top.pointer is not None:
            pointer = pointer_join(top.pointer, value)
            top.value_pointer = pointer
            self.key_marks[pointer] = self.loc(mark, pointer)


def _offset_to_line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line/column of a character offset, counting YAML line breaks."""
    line, start = 1, 0
    for brk in _BREAK_RE.finditer(text, 0, offset):
        line, start = line + 1, brk.end()
    return line, offset - start + 1


def _syntax_diag(exc: yaml.YAMLError, text: str, file: str) -> Diagnostic:
    if isinstance(exc, yaml.reader.ReaderError):
        offset = exc.position
        if _IS_C_LOADER:  # libyaml reports a byte offset into the utf-8 encoding
            offset = len(text.encode("utf-8", "surrogatepass")[:offset]
                         .decode("utf-8", "ignore"))
        line, column = _offset_to_line_col(text, offset)
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return Diagnostic("yaml_syntax", f"character `U+{ord(char):04X}` is not allowed in yaml",
                          location=Location(file=file, line=line, column=column),
                          hint="remove the character, or escape it in a double-quoted string")
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = " ".join((exc.problem or "invalid yaml").split())
        problem = problem[:1].lower() + problem[1:]
        hint = None
        if exc.context:
            hint = " ".join(exc.context.split())
            if exc.context_mark is not None:
                hint += f" (line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
        lines = _BREAK_RE.split(text)
        bad = lines[mark.line][mark.column:mark.column + 1] if mark.line < len(lines) else ""
        if bad == "\t":
            hint = "yaml does not allow tabs for indentation; use spaces"
        elif "mapping values are not allowed" in problem:
            hint = "a value containing `: ` must be quoted"
        return Diagnostic("yaml_syntax", problem, hint=hint,
                          location=Location(file=file, line=mark.line + 1,
                                            column=mark.column + 1))
    message = " ".join(str(exc).split()) or "invalid yaml"
    return Diagnostic("yaml_syntax", message[:1].lower() + message[1:],
                      location=Location(file=file, line=1, column=1))


def load_yaml(text: str, file: str) -> tuple[Document | None, list[Diagnostic]]:
    """Parse one YAML policy document into plain data with marks; see module docs for rules.

    Returns ``(None, diags)`` when nothing usable was parsed (empty, syntax error, alias,
    too deep); otherwise ``(doc, diags)`` where ``diags`` may still contain errors.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    builder = _YamlBuilder(file)
    documents = 0
    loader = None
    ok = True
    try:
        loader = _Loader(text)
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.ScalarEvent):
                builder.scalar(event)
            elif isinstance(event, yaml.MappingStartEvent):
                builder.start_collection(event, is_map=True)
            elif isinstance(event, yaml.SequenceStartEvent):
                builder.start_collection(event, is_map=False)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                builder.end_collection()
            elif isinstance(event, yaml.AliasEvent):
                builder.error("yaml_alias", "anchors and aliases are not allowed in policy files "
                              f"(found alias `*{_show(event.anchor or '')}`)", event.start_mark,
                              builder.node_pointer(), "repeat the content instead of an alias")
                raise _Abort
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    builder.error("yaml_multiple_documents", "a policy file must contain one "
                                  "yaml document, found a second one", event.start_mark,
                                  hint="split the documents into separate files")
                    break
    except _Abort:
        ok = False
    except yaml.YAMLError as exc:
        builder.diags.append(_syntax_diag(exc, text, file))
        ok = False
    except UnicodeError:
        builder.diags.append(Diagnostic("yaml_syntax", "text contains characters that cannot "
                                        "be encoded as utf-8",
                                        location=Location(file=file, line=1, column=1)))
        ok = False
    finally:
        if loader is not None:
            loader.dispose()
    if not ok:
        return None, builder.diags
    if documents == 0 or builder.root_empty:
        builder.diags.append(Diagnostic("yaml_empty", "the file contains no yaml document",
                                        location=Location(file=file, line=1, column=1)))
        return None, builder.diags
    return Document(builder.root, file, MappingProxyType(builder.marks),
                    MappingProxyType(builder.key_marks)), builder.diags


# --------------------------------------------------------------------------- JSON

_WS_RE = re.compile(r"[ \t\n\r]*")
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
    ws = _WS_RE.match
    number = _NUMBER_RE.match
    scanstring = _scanstring
    stack: list[list] = []  # [container, pointer, is_object, current key]
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
            if len(stack) >= MAX_DEPTH:
                raise _JsonTooDeep(pos, ptr)
            is_object = c == "{"
            pos = ws(s, pos + 1).end()
            if s[pos:pos + 1] == ("}" if is_object else "]"):
                value = {} if is_object else []
                pos += 1
            elif is_object:
                frame = [{}, ptr, True, None]
                stack.append(frame)
                pos, ptr = _json_key(s, pos, frame, key_offsets, found)
                continue
            else:
                stack.append([[], ptr, False, None])
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
            if not stack:
                pos = ws(s, pos).end()
                if pos != len(s):
                    raise _JsonSyntax(pos, "Extra data", "")
                return value
            frame = stack[-1]
            container = frame[0]
            if pos < len(s) and s[pos] in " \t\n\r":
                pos = ws(s, pos).end()
            c = s[pos:pos + 1]
            if frame[2]:
                container[frame[3]] = value
                if c == ",":
                    pos, ptr = _json_key(s, ws(s, pos + 1).end(), frame, key_offsets, found)
                    break
                if c == "}":
                    pos += 1
                    value = container
                    stack.pop()
                    continue
                raise _JsonSyntax(pos, "Expecting ',' delimiter", frame[1])
            container.append(value)
            if c == ",":
                pos += 1
                if s[pos:pos + 1] in " \t\n\r":
                    pos = ws(s, pos).end()
                ptr = f"{frame[1]}/{len(container)}"
                break
            if c == "]":
                pos += 1
                value = container
                stack.pop()
                continue
            raise _JsonSyntax(pos, "Expecting ',' delimiter", frame[1])


def _json_key(s: str, pos: int, frame: list, key_offsets: dict[str, int],
              found: list[_Finding]) -> tuple[int, str]:
    """Read `"key" :` at pos for the object in frame; return (value position, value pointer)."""
    if s[pos:pos + 1] != '"':
        raise _JsonSyntax(pos, "Expecting property name enclosed in double quotes", frame[1])
    try:
        key, end = _scanstring(s, pos + 1, True)
    except json.JSONDecodeError as exc:
        raise _JsonSyntax(exc.pos, exc.msg, frame[1]) from None
    end = _WS_RE.match(s, end).end()
    if s[end:end + 1] != ":":
        raise _JsonSyntax(end, "Expecting ':' delimiter", frame[1])
    pointer = f"{frame[1]}/{key}" if "~" not in key and "/" not in key \
        else pointer_join(frame[1], key)
    if key in frame[0]:
        found.append(("duplicate", pos, pointer, key, key_offsets[pointer]))
    key_offsets[pointer] = pos
    frame[3] = key
    return _WS_RE.match(s, end + 1).end(), pointer


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
            diags.append(Diagnostic("json_non_finite", f"number `{_show(shown)}` is too large "
                                    "(it overflows to infinity)", location=location(pos, pointer)))
        else:
            parent = pointer[: pointer.rfind("/")]
            where = f"object `{parent}`" if parent else "the root object"
            before = location(previous, pointer)
            diags.append(Diagnostic(
                "json_duplicate_key",
                f"duplicate key `{_show(shown)}` in {where} (previously at line {before.line}, "
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
