"""JSON lines: a ticket parsed from one line, canonical JSON bytes for one record.

Lines are parsed with msgspec, which keeps integers exact as `json.loads` does; whatever its
result cannot vouch for (a syntax error, `NaN`, invalid UTF-8, a BOM, a duplicate key, nesting
deeper than the loader allows) is parsed again by `read_text` + `load_json`, so a line is
judged exactly as `ticket-policy evaluate` judges a file, with the same diagnostics.

Records are written as canonical JSON (sorted keys, no whitespace, UTF-8): the bytes of
`engine.core.decision.canonical_json` — identical for every value a batch writes; text UTF-8
cannot carry (a lone surrogate, in an error record) is written as a `\\u` escape instead.
`DecisionEncoder` produces `decision.canonical()` for each decision, re-using the bytes of
the parts a cached outcome shares between tickets (each template is checked against the full
encoding the first time it is built).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import msgspec

from engine.core.decision import Decision, Sla, TraceEvent
from engine.core.diagnostics import Diagnostic, Location
from engine.core.durations import format_duration
from engine.load.loader import MAX_DEPTH, Document, load_json, read_text

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


def _depth(value: object, depth: int) -> int:
    """How deep `value` nests (stops counting past MAX_DEPTH)."""
    if depth > MAX_DEPTH:
        return depth
    items = value.values() if value.__class__ is dict else value
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

_MEMO_SIZE = 8192
# placeholders for the per-ticket fields, in the record's (sorted) key order
_FIELDS = ("input_digest", "requested_priority", "sla", "ticket_id", "trace")
_SLA_FIELDS = ("due_at", "met", "remaining")
_MARKS = {f: f"\x00\x01{f}\x01\x00" for f in (*_FIELDS, *_SLA_FIELDS)}
_SPLIT = re.compile(b"|".join(re.escape(_encode(m)) for m in _MARKS.values()))
_BOOL = {True: b"true", False: b"false", None: b"null"}


class DecisionEncoder:
    """`decision.canonical()` as bytes, fast: the bytes a cached outcome shares are kept.

    A record is a template per outcome (priority, actions, channels, ...: the same objects for
    every ticket of one cache entry) around the per-ticket fields (input digest, requested
    priority, SLA, ticket id) and the trace, whose events' bytes are kept per event (a cached
    trace re-reads some matched values per ticket: those events are new objects, kept by
    content). Each template is checked against the full encoding when it is built; memos are
    bounded (cleared when full).
    """

    def __init__(self) -> None:
        self._outcomes: dict[int, tuple] = {}   # id(outcome) -> outcome, ..., parts, trace
        self._seen: dict[int, None] = {}        # ids met once: kept on their second sighting
        self._heads: dict[tuple, tuple[tuple, tuple[bytes, ...] | None]] = {}
        self._events: dict[int, tuple[TraceEvent, bytes]] = {}
        self._similar: dict[tuple, tuple[object, object, object, bytes]] = {}
        self._slas: dict[tuple, tuple[bytes, ...] | None] = {}

    def encode(self, d: Decision, end: bytes = b"") -> bytes:
        """The canonical JSON bytes of `d.to_json()`, then `end` (e.g. a newline)."""
        if d.request_id is not None:
            return _encode(d.to_json()) + end
        o = d.outcome
        hit = self._outcomes.get(id(o))
        if hit is not None and hit[0] is o and hit[1] is d.policy and hit[2] is d.now \
                and hit[3] == (d.sla is None):
            parts, trace = hit[4], hit[5]
        else:
            parts = self._parts(d)
            if parts is None:
                return _encode(d.to_json()) + end
            trace = self._trace(d)
            if self._again(id(o)):
                if len(self._outcomes) >= _MEMO_SIZE:
                    self._outcomes.clear()
                self._outcomes[id(o)] = o, d.policy, d.now, d.sla is None, parts, trace
        return self._join(d, parts, b'"' + d.input_digest.encode("ascii") + b'"', trace, end)

    def _again(self, key: int) -> bool:
        """Whether an object (by id) was met before. Only objects met twice are kept: a
        cached outcome or event is met again, one rebuilt for a single ticket is not (keeping
        those would fill the memos and slow the garbage collector)."""
        seen = self._seen
        if key in seen:
            return True
        if len(seen) >= _MEMO_SIZE:
            seen.clear()
        seen[key] = None
        return False

    def _join(self, d: Decision, parts: tuple[bytes, ...], digest: bytes, trace: bytes,
              end: bytes = b"") -> bytes:
        return b"".join((parts[0], digest, parts[1], _encode(d.requested_priority), parts[2],
                         self._sla(d.sla), parts[3], encode(d.ticket_id), parts[4], trace,
                         parts[5], end))

    def _parts(self, d: Decision) -> tuple[bytes, ...] | None:
        """The record's bytes around its per-ticket fields and trace; outcomes that differ
        only in their trace (matched values re-read) share them."""
        o = d.outcome
        shared = (o.actions, o.channels, o.obligations, o.notes, o.suppressed, d.policy)
        key = (*map(id, shared), o.priority, o.plan, o.sla_reason, d.sla is None, d.now)
        hit = self._heads.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], shared, strict=True)):
            return hit[1]
        record = d.to_json()
        for f in _FIELDS:
            record[f] = _MARKS[f]
        parts: tuple[bytes, ...] | None = tuple(_SPLIT.split(_encode(record)))
        if len(parts) != len(_FIELDS) + 1 or self._join(
                d, parts, _encode(d.input_digest), self._trace(d)) != _encode(d.to_json()):
            parts = None
        if len(self._heads) >= _MEMO_SIZE:
            self._heads.clear()
        self._heads[key] = shared, parts
        return parts

    def _trace(self, d: Decision) -> bytes:
        events = self._events
        out = []
        for e in d.outcome.trace:
            hit = events.get(id(e))
            if hit is not None and hit[0] is e:
                out.append(hit[1])
                continue
            data = self._event(e)
            if self._again(id(e)):
                if len(events) >= _MEMO_SIZE:
                    events.clear()
                events[id(e)] = e, data
            out.append(data)
        return b"[" + b",".join(out) + b"]"

    def _event(self, e: TraceEvent) -> bytes:
        """A trace event not seen before: one whose matched values were re-read from this
        ticket shares everything else with its original (kept by content)."""
        try:
            key = (e.seq, e.kind, e.rule, e.stage, e.because, e.matched,
                   tuple(v.__class__ for _, v in e.matched),
                   id(e.citation), id(e.changes), id(e.source))
            hit = self._similar.get(key)
        except TypeError:  # an unhashable matched value
            return encode(e.to_json())
        if hit is None or hit[0] is not e.citation or hit[1] is not e.changes \
                or hit[2] is not e.source:
            if len(self._similar) >= _MEMO_SIZE:
                self._similar.clear()
            hit = self._similar[key] = e.citation, e.changes, e.source, encode(e.to_json())
        return hit[3]

    def _sla(self, sla: Sla | None) -> bytes:
        if sla is None:
            return b"null"
        key = (sla.target, sla.clock, sla.calendar, sla.timezone, sla.rule, sla.metric,
               sla.remaining is None)
        parts = self._slas.get(key, _decode)
        if parts is _decode:
            record = sla.to_json()
            for f in _SLA_FIELDS:
                if f in record:
                    record[f] = _MARKS[f]
            parts = tuple(_SPLIT.split(_encode(record)))
            if len(parts) != len(record.keys() & _SLA_FIELDS) + 1 or \
                    self._sla_of(sla, parts) != _encode(sla.to_json()):
                parts = None
            if len(self._slas) >= _MEMO_SIZE:
                self._slas.clear()
            self._slas[key] = parts
        if parts is None:
            return _encode(sla.to_json())
        return self._sla_of(sla, parts)

    @staticmethod
    def _sla_of(sla: Sla, parts: tuple[bytes, ...]) -> bytes:
        due = b'"' + sla.due_at.isoformat().encode("ascii") + b'"'
        if sla.remaining is None:
            return b"".join((parts[0], due, parts[1], _BOOL[sla.met], parts[2]))
        remaining = _encode(format_duration(sla.remaining, days=False))
        return b"".join((parts[0], due, parts[1], _BOOL[sla.met], parts[2], remaining,
                         parts[3]))
