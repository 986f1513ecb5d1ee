"""A decision's JSON as bytes: canonical (sorted keys, compact) or pretty (indented).

Canonical bytes equal `canonical_bytes(decision.to_json())` — `decision.canonical()` encoded —
but are assembled: the top-level keys are written in their sorted order, each value encoded by
`canonical_bytes`, and what belongs to the outcome (actions, channels, notes, obligations, plan,
priority, suppressed and the trace: most of a decision's ~3 KB) is encoded once per Outcome
object and kept while it is in use (a cache hit hands the same Outcome to every ticket of its
entry). JSON is compositional, so the parts joined are the whole encoded. The pretty form is
orjson's two-space indentation of `to_json()` (the bytes `ticket-policy evaluate` prints).

msgspec writes the compact form (via `canonical_bytes`): it writes the same bytes as the json
module for data without floats, keeps integers beyond 64 bits, and was the faster of the two
on our decisions (see benchmarks/bench_peers.py's serialization figures and the README).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from engine.core.canonical import canonical_bytes as _cb
from engine.core.canonical import instant_json
from engine.core.canonical import plain_bytes as _str  # text: no float to look for
from engine.core.clock import clock_bytes
from engine.core.records import FORMAT, Outcome, PolicyRef, hours_text

T = TypeVar("T")
MAX_OUTCOMES = 8192   # outcomes whose encoded parts are kept (~3 KB each, ~24 MiB in all)

_FORMAT = b',"format":' + str(FORMAT).encode()
_NULL = b"null"
_policies: dict[PolicyRef, bytes] = {}


class OutcomeMemo:
    """A value computed once per Outcome object, kept (with the outcome, so its id stays its
    own) for the last `size` outcomes asked about."""

    def __init__(self, size: int = MAX_OUTCOMES):
        self.size = size
        self._kept: dict[int, tuple[Outcome, Any]] = {}
        self._lock = threading.Lock()

    def get(self, o: Outcome, make: Callable[[Outcome], T]) -> T:
        hit = self._kept.get(id(o))
        if hit is not None and hit[0] is o:
            return hit[1]
        value = make(o)
        with self._lock:
            if len(self._kept) >= self.size:
                del self._kept[next(iter(self._kept))]
            self._kept[id(o)] = (o, value)
        return value


def _encode_parts(o: Outcome) -> tuple[bytes, ...]:
    return (
        b'{"actions":' + _cb([a.to_json() for a in o.actions])
        + b',"channels":' + _cb(list(o.channels)),
        b',"notes":' + _cb(list(o.notes)),
        b',"obligations":' + _cb([x.to_json() for x in o.obligations])
        + b',"plan":' + _cb(o.plan),
        b',"priority":' + _cb(o.priority),
        _cb(o.sla_reason),
        b',"suppressed":' + _cb([{"rule": r, "reason": why} for r, why in o.suppressed]),
        b',"trace":' + trace_bytes(o.trace) + b"}",
    )


# a trace event's members that come from its rule, by (kind, rule, citation, stage, because,
# id(source)): (source, `{"because":…,"changes":`, `,"citation":…,"matched":`, `,"rule":…,"seq":`,
# `,"source":…}`) — the source kept so its id stays its own
_events: dict[tuple, tuple[object, bytes, bytes, bytes, bytes]] = {}


def trace_bytes(trace: tuple) -> bytes:
    """`canonical_bytes([e.to_json() for e in trace])`, each event spliced in its sorted key
    order: what comes from its rule (because, citation, kind, rule, source, stage: most of its
    bytes) encoded once per rule, its changes, matched facts and sequence number per event."""
    out = []
    for e in trace:
        source = e.source
        key = (e.kind, e.rule, e.citation, e.stage, e.because, id(source))
        fixed = _events.get(key)
        if fixed is None or fixed[0] is not source:
            fixed = _rule_parts(e, key)
        changes = e.changes
        out.append(b"".join((
            fixed[1], _cb([c.to_json() for c in changes]) if changes else b"[]", fixed[2],
            _cb(dict(e.matched)) if e.matched else b"{}", fixed[3], str(e.seq).encode(),
            fixed[4])))
    return b"[" + b",".join(out) + b"]"


def _rule_parts(e: Any, key: tuple) -> tuple[object, bytes, bytes, bytes, bytes]:
    cite, source = e.citation, e.source
    fixed = (source, b'{"because":' + _text(e.because) + b',"changes":',
             b',"citation":' + (_NULL if cite is None else _cb(cite.to_json()))
             + b',"kind":' + _cb(e.kind) + b',"matched":',
             b',"rule":' + _text(e.rule) + b',"seq":',
             b',"source":' + (_NULL if source is None else _cb(dict(source)))
             + b',"stage":' + _text(e.stage) + b"}")
    if len(_events) >= 4096:
        _events.clear()
    _events[key] = fixed
    return fixed


_parts = OutcomeMemo()


def outcome_parts(o: Outcome) -> tuple[bytes, ...]:
    """The encoded parts of an outcome, in the record's key order (kept for MAX_OUTCOMES)."""
    return _parts.get(o, _encode_parts)


def _policy(ref: PolicyRef) -> bytes:
    found = _policies.get(ref)
    if found is None:
        if len(_policies) >= 256:
            _policies.clear()
        found = _policies[ref] = b',"policy":' + _cb(ref.to_json())
    return found


def _list(items: tuple | None) -> bytes:
    return _cb([x.to_json() for x in items]) if items else b"[]"


def _timeline(d: Any) -> tuple[bytes, bytes, bytes] | None:
    """The `clocks`, `held` and `history` members (None: a decision of one snapshot). A
    timeline not computed yet that can write its own parts (engine.timeline's one-snapshot
    life) writes them, and stays lazy."""
    parts = getattr(d._lazy, "canonical_parts", None)
    if parts is not None:
        return parts()  # type: ignore[no-any-return]
    clocks, held, history = d.clocks, d.held, d.history   # computed now if lazy
    if clocks is None and held is None and history is None:
        return None
    return (b"" if clocks is None else b',"clocks":[' + b",".join(map(clock_bytes, clocks)) + b"]",
            b"" if held is None else b',"held":' + _list(held),
            b"" if history is None else b',"history":' + _list(history))


def _text(value: str | None) -> bytes:
    return _NULL if value is None else _cb(value)


def sla_bytes(sla: Any) -> bytes:
    """`canonical_bytes(sla.to_json())`, spliced in its sorted key order: what does not depend
    on the ticket (target, calendar, clock, rule...) is encoded once per combination."""
    key = (sla.calendar, sla.clock, sla.metric, sla.rule, sla.target, sla.timezone)
    fixed = _slas.get(key)
    if fixed is None:
        if len(_slas) >= 4096:
            _slas.clear()
        calendar = b'"calendar":' + _cb(sla.calendar) + b',"clock":' + _cb(sla.clock) + \
            b',"due_at":'
        fixed = _slas[key] = (
            b"{" + calendar, b"," + calendar,
            b',"metric":' + _cb(sla.metric), b',"rule":' + _text(sla.rule),
            b',"target":' + _cb(hours_text(sla.target)) + b',"timezone":' + _cb(sla.timezone)
            + b"}")
    opening, after_breach, metric, rule, target_zone = fixed
    breached, remaining, met = sla.breached_at, sla.remaining, sla.met
    status = (_STATUS.get(sla.status) if sla.status.__class__ is str else None) or \
        b',"status":' + _cb(sla.status)   # a record read from JSON may hold anything
    return b"".join((
        opening if breached is None else b'{"breached_at":' + instant_json(breached)
        + after_breach, instant_json(sla.due_at), _MET[None if met is None else bool(met)], metric,
        b"" if remaining is None else b',"remaining":' + _cb(hours_text(remaining)),
        rule, status, target_zone))


_MET = {None: b',"met":null', True: b',"met":true', False: b',"met":false'}
_STATUS = {s: b',"status":"' + s.encode() + b'"' for s in ("met", "breached", "pending")}
_slas: dict[tuple, tuple[bytes, bytes, bytes, bytes, bytes]] = {}


def ticket_members(d: Any) -> tuple[tuple[bytes, bytes, bytes] | None, bytes, bytes, bytes, bytes,
                              bytes, bytes, bytes]:
    """The decision's own members (what is not its outcome's), each `,"key":value` in
    canonical form: the timeline's (clocks, held, history; None for one snapshot), then
    ignored_fields, input_digest, now, policy, request_id (b"" when absent),
    requested_priority and ticket_id. The SLA, which an outcome without one replaces by its
    `sla_reason`, is `sla_member`'s. Made once per decision (kept on it: a decision written
    and logged shares them)."""
    members = d.members
    if members is None:
        members = d.members = _members(d)
    return members  # type: ignore[no-any-return]


def _members(d: Any) -> tuple[tuple[bytes, bytes, bytes] | None, bytes, bytes, bytes, bytes,
                              bytes, bytes, bytes]:
    now, request_id, ignored = d.now, d.request_id, d.ignored_fields
    requested, ticket_id = d.requested_priority, d.ticket_id
    return (_timeline(d),
            b',"ignored_fields":' + (_cb(list(ignored)) if ignored else b"[]"),
            b',"input_digest":' + _str(d.input_digest),
            b',"now":' + (_NULL if now is None else instant_json(now)),
            _policy(d.policy),
            b"" if request_id is None else b',"request_id":' + _cb(request_id),
            b',"requested_priority":' + (_NULL if requested is None else _str(requested)),
            b',"ticket_id":' + (_str(ticket_id) if ticket_id.__class__ is str
                                else _cb(ticket_id)))


def sla_member(d: Any) -> bytes:
    """The `,"sla":…` member."""
    sla = d.sla
    return b',"sla":' + (_NULL if sla is None else sla_bytes(sla))


def ticket_bytes(d: Any) -> bytes:
    """The canonical JSON object of the decision's own members (`ticket_members`, the format
    and the SLA) in sorted key order: what a decision log stores per ticket."""
    timeline, ignored, digest, now, policy, request_id, requested, ticket_id = \
        ticket_members(d)
    clocks, held, history = timeline if timeline is not None else (b"", b"", b"")
    data = b"".join((clocks, _FORMAT, held, history, ignored, digest, now, policy, request_id,
                     requested, sla_member(d), ticket_id))
    return b"{" + data[1:] + b"}"


def canonical(d: Any) -> bytes:
    """The canonical JSON bytes of a Decision (see the module docstring)."""
    o = d.outcome
    actions, notes, obligations, priority, sla_reason, suppressed, trace = outcome_parts(o)
    timeline, ignored, digest, now, policy, request_id, requested, ticket_id = \
        ticket_members(d)
    if timeline is None:
        out = [actions, _FORMAT]
    else:
        clocks, held, history = timeline
        out = [actions, clocks, _FORMAT, held, history]
    out += (ignored, digest, notes, now, obligations, policy, priority, request_id, requested,
            sla_member(d), b',"sla_reason":' + (sla_reason if d.sla is None else _NULL),
            suppressed,
            ticket_id, trace)
    return b"".join(out)


def pretty(d: Any) -> bytes:
    """`to_json()` indented by two spaces, keys in its order; the json module writes what
    orjson refuses (an integer beyond 64 bits)."""
    data = d.to_json()
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")


def decision_bytes(d: Any, indent: bool = False) -> bytes:
    """`pretty(d)` when `indent`, else `canonical(d)`."""
    return pretty(d) if indent else canonical(d)
