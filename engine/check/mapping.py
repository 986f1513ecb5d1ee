"""Helpdesk payload mappings: a YAML file (schemas/mapping.schema.json) saying how a foreign
payload — a Zendesk ticket, a Jira issue — becomes a ticket, one JMESPath expression per fact,
with value maps, defaults and required markers.

`check_mapping` turns a loaded mapping document into a `PayloadMapping` (every problem located
at the mapping file's `file:line:col`); `apply_mapping` is the one pure mapping step every host
uses: payload in, ticket (and where each fact came from) out, problems at the payload's JSON
pointer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jmespath
import jsonschema
from jmespath.exceptions import IncompleteExpressionError, JMESPathError, LexerError, ParseError
from jmespath.parser import ParsedResult

from engine.check.schema import allowed_properties
from engine.core.diagnostics import (
    Diagnostic,
    DiagnosticError,
    Location,
    did_you_mean,
    escape_token,
    pointer_join,
)
from engine.core.facts import FactSpec
from engine.core.paths import data_dir
from engine.load import Document, load_yaml, read_text
from engine.load.mappings import resolve_mapping
from engine.load.policies import display_path

__all__ = ["FactMapping", "Mapped", "PayloadMapping", "apply_mapping", "cached_mapping",
           "check_mapping", "load_mapping", "relocate"]

_NO_DEFAULT = object()
_BASIC_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")


@dataclass(frozen=True)
class FactMapping:
    """Where one fact comes from: a JMESPath expression, a value map, a default."""

    fact: str
    expression: str | None
    compiled: ParsedResult | None = field(repr=False, compare=False)
    value_map: dict | None = None
    default: object = _NO_DEFAULT
    required: bool = False
    convert: str | None = None
    location: Location = field(default_factory=Location)   # the fact's key in the mapping
    prefix: str = ""          # JSON pointer of the payload part the expression reads first

    def where(self) -> str:
        """`from `expr` (mapping.yaml:12:5)`, for messages about payload values."""
        source = f"`{self.expression}`" if self.expression else "its default"
        return f"from {source} ({self.location})"


@dataclass(frozen=True)
class PayloadMapping:
    """A checked mapping: its id, file and fact mappings in file order."""

    id: str
    title: str
    file: str
    facts: tuple[FactMapping, ...]


@dataclass(frozen=True)
class Mapped:
    """A payload mapped: the ticket, where each fact came from, and the payload's problems
    (`failed`: the facts they concern, left out of the ticket)."""

    ticket: dict
    origins: dict[str, FactMapping]
    diagnostics: tuple[Diagnostic, ...] = ()
    failed: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return not self.diagnostics


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((data_dir("schemas") / "mapping.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


# --------------------------------------------------------------------------- checking


def load_mapping(path: str | Path, facts: dict[str, FactSpec]
                 ) -> tuple[PayloadMapping | None, list[Diagnostic]]:
    """Read, load and check a mapping file against a fact catalogue (a policy's `facts`)."""
    name = display_path(Path(path))
    text, diags = read_text(Path(path), name)
    if text is None:
        return None, diags
    doc, diags = load_yaml(text, name)
    if doc is None or any(d.severity == "error" for d in diags):
        return None, diags
    return check_mapping(doc, facts, text)


_CACHE: dict[tuple, PayloadMapping] = {}
_CACHE_SIZE = 64


def cached_mapping(mapping_ref: str | Path, facts_key: str, facts: dict[str, FactSpec]
                   ) -> tuple[PayloadMapping | None, list[Diagnostic]]:
    """`load_mapping` for a bundled id or a path, kept while the file is unchanged (the key:
    the resolved file, its mtime and size, and `facts_key`, e.g. the policy's digest)."""
    try:
        path = resolve_mapping(mapping_ref)
        stat = path.stat()
    except DiagnosticError as exc:
        return None, list(exc.diagnostics)
    except OSError:  # gone since: let loading report it
        return load_mapping(path, facts)
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, facts_key)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit, []
    found, diags = load_mapping(path, facts)
    if found is not None:
        if len(_CACHE) >= _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]
        _CACHE[key] = found
    return found, diags


def check_mapping(doc: Document, facts: dict[str, FactSpec], text: str = ""
                  ) -> tuple[PayloadMapping | None, list[Diagnostic]]:
    """Schema, then meaning: every fact known, every expression valid JMESPath, every mapped
    value possible for its fact. `text` (the file's text) places expression errors exactly."""
    problems = [_schema_problem(doc, e) for e in _validator().iter_errors(doc.data)]
    if problems:
        return None, _unique(problems)
    assert isinstance(doc.data, dict)   # the schema checks found a mapping
    data: dict = doc.data
    ticket_facts = {p: s for p, s in facts.items() if not s.derived}
    built = []
    for fact, raw in data["facts"].items():
        ptr = pointer_join("/facts", fact)
        spec = ticket_facts.get(fact)
        if spec is None:
            hint = did_you_mean(fact, ticket_facts)
            if fact in facts:
                hint = f"`{fact}` is decided by the policy, not read from a ticket"
                if fact == "priority":
                    hint += "; map the helpdesk's priority to `requested_priority`"
            problems.append(Diagnostic("mapping_unknown_fact", f"unknown fact `{fact}`",
                                       location=doc.locate(ptr, key=True), hint=hint or
                                       "map onto a ticket fact (schemas/ticket.schema.json) or "
                                       "a fact the policy declares"))
            continue
        item: dict = {"from": raw} if isinstance(raw, str) else raw   # the schema: str | dict
        expression = item.get("from")
        compiled = None
        if expression is not None:
            eptr = ptr if isinstance(raw, str) else f"{ptr}/from"
            try:
                compiled = jmespath.compile(expression)
            except JMESPathError as exc:
                problems.append(_expression_problem(doc, eptr, expression, exc, text))
                continue
        value_map = item.get("map")
        for key, value in (value_map or {}).items():
            _check_value(spec, value, doc.locate(f"{ptr}/map/{escape_token(key)}"), problems)
        if "default" in item:
            _check_value(spec, item["default"], doc.locate(f"{ptr}/default"), problems)
        built.append(FactMapping(
            fact, expression, compiled, value_map, item.get("default", _NO_DEFAULT),
            bool(item.get("required", False)), item.get("convert"),
            doc.locate(ptr, key=True), _prefix(compiled.parsed) if compiled else ""))
    if problems:
        return None, problems
    return PayloadMapping(data["id"], data["title"], doc.file, tuple(built)), []


def _check_value(spec: FactSpec, value: object, where: Location, out: list[Diagnostic]) -> None:
    """A mapped value or default that the fact can never take (enum facts and booleans)."""
    if value is None:
        return
    if spec.type == "boolean" and not isinstance(value, bool):
        out.append(Diagnostic("mapping_bad_value", f"`{spec.path}` is true or false, not "
                              f"`{value}`", location=where))
    elif spec.type == "enum" and value not in spec.enum:
        out.append(Diagnostic("mapping_bad_value", f"`{value}` is not a value of `{spec.path}`",
                              location=where, hint=did_you_mean(value, map(str, spec.enum)) or
                              "values: " + ", ".join(map(str, spec.enum))))


def _expression_problem(doc: Document, ptr: str, expression: str, exc: JMESPathError,
                        text: str) -> Diagnostic:
    """A JMESPath syntax error at the column of the offending character when the expression
    is written on one line."""
    loc = doc.locate(ptr)
    position = getattr(exc, "lex_position", None)
    lines = text.splitlines()
    if isinstance(exc, ParseError) and isinstance(position, int) and loc.line and loc.column \
            and loc.line <= len(lines) and "\n" not in expression:
        column = loc.column + (lines[loc.line - 1][loc.column - 1:loc.column] in "\"'")
        loc = Location(loc.file, loc.line, column + position, loc.pointer)
    msg, token = getattr(exc, "msg", ""), getattr(exc, "token_value", None)
    if isinstance(exc, IncompleteExpressionError):
        reason = "it ends too early"
    elif isinstance(exc, LexerError) or not msg or msg == "Invalid jmespath expression":
        reason = str(exc).splitlines()[0].split(": ", 1)[-1].rstrip(":")
    elif msg.startswith("Expecting"):
        reason = "unexpected end" if token in (None, "") else f"unexpected `{token}`"
    else:
        reason = msg.split(": ")[0] + (f" `{token}`" if token not in (None, "") else "")
    return Diagnostic("mapping_bad_expression", f"`{expression}` is not a valid JMESPath "
                      f"expression: {reason[:1].lower()}{reason[1:]}", location=loc,
                      hint="see https://jmespath.org/specification.html; quote the expression "
                      "in YAML when it holds `:` or `|`")


def _schema_problem(doc: Document, err: jsonschema.ValidationError) -> Diagnostic:
    while err.context:  # oneOf / anyOf: the branch the author most likely meant
        err = max(err.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
    ptr = pointer_join("", *err.absolute_path)
    where = ".".join(str(p) for p in err.absolute_path) or "the mapping"
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = allowed_properties(err)
        name = next((k for k in err.instance if k not in allowed), "")
        return Diagnostic("mapping_schema", f"unknown property `{name}` in `{where}`",
                          location=doc.locate(pointer_join(ptr, name), key=True),
                          hint=did_you_mean(name, allowed) or f"allowed: {', '.join(allowed)}")
    message = err.message[:1].lower() + err.message[1:]
    return Diagnostic("mapping_schema", f"`{where}`: {message}", location=doc.locate(ptr),
                      hint="see schemas/mapping.schema.json")


def _unique(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return list({(str(d.location), d.message): d for d in diags}.values())


def _prefix(node: dict) -> str:
    """The JSON pointer of the payload part an expression reads first (`ticket.custom_fields`
    for `ticket.custom_fields[?id==`1`].value | [0]`): where its problems are shown."""
    parts: list[object] = []
    _walk(node, parts)
    return pointer_join("", *parts)


def _walk(node: dict, parts: list[object]) -> bool:
    """Append the static path of `node` to parts; True when the path is all of it."""
    kind, children = node.get("type"), node.get("children") or []
    if kind == "field":
        parts.append(node["value"])
        return True
    if kind == "subexpression":
        return all(_walk(c, parts) for c in children)
    if kind == "index_expression" and len(children) == 2:
        left, index = children
        if not _walk(left, parts) or index.get("type") != "index" or index["value"] < 0:
            return False
        parts.append(index["value"])
        return True
    if kind in ("identity", "current"):
        return True
    if kind == "function_expression":
        first = next((c for c in children if c.get("type") not in ("literal", "expref")), None)
        if first is not None:
            _walk(first, parts)
        return False
    if children:  # pipes, projections, filters, or/and: the left side is read first
        _walk(children[0], parts)
    return False


# --------------------------------------------------------------------------- applying


def apply_mapping(mapping: PayloadMapping, payload: object) -> Mapped:
    """The ticket a payload maps to (pure): each fact's expression searched, converted, mapped
    and defaulted; a fact without a value is left out. Problems (a required value missing, a
    value the map does not name, an expression failing on the payload) carry the payload's
    JSON pointer and name the mapping's line; the facts they concern are left out too."""
    ticket: dict = {}
    origins: dict[str, FactMapping] = {}
    problems: list[Diagnostic] = []
    failed: set[str] = set()
    for fm in mapping.facts:
        origins[fm.fact] = fm
        value = None
        if fm.compiled is not None:
            try:
                value = fm.compiled.search(payload)
            except JMESPathError as exc:
                problems.append(_payload_problem(fm, "mapping_expression_failed",
                                                 f"`{fm.fact}`: the expression failed on this "
                                                 f"payload: {str(exc).splitlines()[0]}"))
                failed.add(fm.fact)
                continue
        if fm.convert == "timestamp" and isinstance(value, str):
            value = _BASIC_OFFSET.sub(r"\1:\2", value)
        if value is not None and fm.value_map is not None:
            key = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            if key not in fm.value_map:
                named = ", ".join(f"`{k}`" for k in fm.value_map)
                problems.append(_payload_problem(
                    fm, "mapping_unmapped_value", f"`{fm.fact}`: the payload's value `{key}` "
                    f"has no entry in the mapping's `map`",
                    (did_you_mean(key, fm.value_map) or f"the map names {named}") + "; "))
                failed.add(fm.fact)
                continue
            value = fm.value_map[key]
        if value is None and fm.default is not _NO_DEFAULT:
            value = fm.default
        if value is None:
            if fm.required:
                problems.append(_payload_problem(fm, "mapping_missing_value",
                                                 f"`{fm.fact}` is required but the payload "
                                                 "has no value for it"))
                failed.add(fm.fact)
            continue
        node = ticket
        *parents, leaf = fm.fact.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return Mapped(ticket, origins, tuple(problems), frozenset(failed))


def _payload_problem(fm: FactMapping, code: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(code, message, location=Location(pointer=fm.prefix),
                      hint=f"{hint}mapped {fm.where()}")


def relocate(diagnostics: Iterable[Diagnostic], mapped: Mapped, mapping: PayloadMapping
             ) -> list[Diagnostic]:
    """Ticket diagnostics (pointers into the mapped ticket) as payload diagnostics: at the
    payload part the fact was mapped from, naming the mapping's line; a fact the mapping does
    not set is placed at the mapping file. Those about a fact whose mapping failed (already
    reported) are left out."""
    out = []
    for d in diagnostics:
        pointer = d.location.pointer or ""
        fact = _fact_of(pointer, mapped.origins)
        if fact in mapped.failed:
            continue
        if fact is None:
            hint = f"the mapping `{mapping.id}` sets no such fact" + (f"; {d.hint}" if d.hint
                                                                      else "")
            out.append(Diagnostic(d.code, d.message, d.severity, Location(file=mapping.file),
                                  d.rule, hint))
            continue
        fm = mapped.origins[fact]
        hint = (f"{d.hint}; " if d.hint else "") + f"mapped {fm.where()}"
        out.append(Diagnostic(d.code, d.message, d.severity, Location(pointer=fm.prefix),
                              d.rule, hint))
    return out


def _fact_of(pointer: str, origins: dict[str, FactMapping]) -> str | None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    for n in range(len(parts), 0, -1):
        path = ".".join(parts[:n])
        if path in origins:
            return path
    return None
