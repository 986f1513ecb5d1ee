"""Policy YAML read from PyYAML *events* (never through its constructors).

YAML 1.2 core-schema resolution; YAML 1.1 coercions a human would not intend (``yes``,
``010``, ``1:30``, ``0x1F``, ``1_000``, ``.inf``), tags, anchors/aliases, duplicate and
non-string keys, a second document and nesting beyond ``MAX_DEPTH`` are reported as
diagnostics. Every value and mapping key gets a JSON-pointer mark.
"""

from __future__ import annotations

import json
import math
import re
from types import MappingProxyType
from typing import Protocol

import yaml

from engine.core.diagnostics import Diagnostic, Location, pointer_join
from engine.load.document import MAX_DEPTH, Document, show

__all__ = ["load_yaml"]

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
    shown = show(value)
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
            return value, ("yaml_special_number", f"`{show(value)}` is too large a number",
                           "quote it if you meant text")
    if _FLOAT_RE.fullmatch(value):
        number = float(value)
        if math.isinf(number):
            return value, ("yaml_special_number",
                           f"`{show(value)}` is too large a number (it overflows to infinity)",
                           "quote it if you meant text")
        return number, None
    return value, None


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG_PREFIX):] if tag.startswith(_YAML_TAG_PREFIX) else tag


class _Mark(Protocol):
    """A position in the text: PyYAML's `yaml.Mark` or libyaml's (`yaml._yaml.Mark`)."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


def _start(event: yaml.Event) -> _Mark:
    """Where `event` starts; both parsers mark every event they emit."""
    mark = event.start_mark
    assert mark is not None, "yaml parser emitted an event without a start mark"
    return mark


class _Abort(Exception):
    """Stop reading the YAML stream (alias, too deep, second document)."""


class _Frame:
    __slots__ = ("is_map", "value", "pointer", "start_mark", "expect_key", "key",
                 "value_pointer", "first_lines")

    def __init__(self, is_map: bool, value: dict[str, object] | list[object],
                 pointer: str | None, start_mark: _Mark):
        self.is_map = is_map            # value is a dict (a mapping), else a list
        self.start_mark = start_mark
        self.value = value
        self.pointer = pointer          # None: inside a key or a skipped entry -> no marks
        self.expect_key = True
        self.key: str | None = None     # the current entry's key; None: the entry is skipped
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

    def loc(self, mark: _Mark, pointer: str | None = None) -> Location:
        return Location(file=self.file, line=mark.line + 1, column=mark.column + 1,
                        pointer=pointer)

    def error(self, code: str, message: str, mark: _Mark, pointer: str | None = None,
              hint: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, location=self.loc(mark, pointer), hint=hint))

    def node_pointer(self) -> str | None:
        if not self.stack:
            return ""
        top = self.stack[-1]
        if top.is_map:
            return None if top.expect_key else top.value_pointer
        return None if top.pointer is None else pointer_join(top.pointer, len(top.value))

    def start_node(self, event: yaml.ScalarEvent | yaml.CollectionStartEvent,
                   mark: _Mark) -> str | None:
        pointer = self.node_pointer()
        if event.anchor is not None:
            self.error("yaml_alias", "anchors and aliases are not allowed in policy files "
                       f"(found anchor `&{show(event.anchor)}`)", mark, pointer,
                       "repeat the content instead of anchoring it")
        tag = event.tag
        if tag is not None:
            self.error("yaml_tag", f"tag `{show(_short_tag(tag))}` is not allowed: explicit tags "
                       "are not needed in policy files", mark, pointer,
                       "remove the tag; quote the value if it must be text")
        if pointer is not None:
            self.marks[pointer] = self.loc(mark, pointer)
        return pointer

    def scalar(self, event: yaml.ScalarEvent) -> None:
        mark = _start(event)
        pointer = self.start_node(event, mark)
        text = event.value
        if event.style not in (None, ""):  # quoted or block scalar: always a string
            self.finish(text, mark, text, is_scalar=True)
            return
        value, hazard = _resolve_plain(text)
        if hazard is not None and event.tag is None:
            code, message, hint = hazard
            self.error(code, message, mark, pointer, hint)
        if not self.stack and text == "" and event.tag is None:
            self.root_empty = True
        self.finish(value, mark, text, is_scalar=True, hazard=hazard is not None)

    def start_collection(self, event: yaml.CollectionStartEvent, is_map: bool) -> None:
        mark = _start(event)
        pointer = self.start_node(event, mark)
        if len(self.stack) >= MAX_DEPTH:
            self.error("yaml_too_deep", f"nesting deeper than {MAX_DEPTH} levels is not allowed",
                       mark, pointer)
            raise _Abort
        value: dict[str, object] | list[object] = {} if is_map else []
        self.stack.append(_Frame(is_map, value, pointer, mark))

    def end_collection(self) -> None:
        frame = self.stack.pop()
        self.finish(frame.value, frame.start_mark, None, is_scalar=False)

    def finish(self, value: object, mark: _Mark, text: str | None, *, is_scalar: bool,
               hazard: bool = False) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        container = top.value
        if isinstance(container, list):  # a sequence (not top.is_map)
            container.append(value)
            return
        if not top.expect_key:
            if top.key is not None:
                container[top.key] = value
            top.expect_key = True
            return
        top.expect_key = False
        top.key = None
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
                self.error("yaml_key_type", f"mapping key `{show(text)}` is {kind}, not a "
                           "string", mark, top.pointer, f"quote it: {_quote(text)}")
            return
        first = top.first_lines.get(value)
        if first is not None:
            pointer = None if top.pointer is None else pointer_join(top.pointer, value)
            self.error("yaml_duplicate_key", f"duplicate key `{show(value)}` (first defined "
                       f"on line {first})", mark, pointer, "remove or rename one of them")
            return
        top.first_lines[value] = mark.line + 1
        top.key = value
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
                              f"(found alias `*{show(event.anchor or '')}`)", _start(event),
                              builder.node_pointer(), "repeat the content instead of an alias")
                raise _Abort
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    builder.error("yaml_multiple_documents", "a policy file must contain one "
                                  "yaml document, found a second one", _start(event),
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
