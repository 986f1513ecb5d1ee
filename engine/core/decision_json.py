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
from typing import Any

import orjson

from engine.core.canonical import canonical_bytes as _cb
from engine.core.records import FORMAT, Outcome, PolicyRef

MAX_OUTCOMES = 2048   # outcomes whose encoded parts are kept (~3 KB each, ~6 MiB in all)

_FORMAT = b',"format":' + str(FORMAT).encode()
_NULL = b"null"
# id(outcome) -> (the outcome, kept alive while its id is a key; its encoded parts)
_parts: dict[int, tuple[Outcome, tuple[bytes, ...]]] = {}
_policies: dict[PolicyRef, bytes] = {}
_lock = threading.Lock()


def outcome_parts(o: Outcome) -> tuple[bytes, ...]:
    """The encoded parts of an outcome, in the record's key order (kept for MAX_OUTCOMES)."""
    hit = _parts.get(id(o))
    if hit is not None and hit[0] is o:
        return hit[1]
    parts = (
        b'{"actions":' + _cb([a.to_json() for a in o.actions])
        + b',"channels":' + _cb(list(o.channels)),
        b',"notes":' + _cb(list(o.notes)),
        b',"obligations":' + _cb([x.to_json() for x in o.obligations])
        + b',"plan":' + _cb(o.plan),
        b',"priority":' + _cb(o.priority),
        _cb(o.sla_reason),
        b',"suppressed":' + _cb([{"rule": r, "reason": why} for r, why in o.suppressed]),
        b',"trace":' + _cb([t.to_json() for t in o.trace]) + b"}",
    )
    with _lock:
        if len(_parts) >= MAX_OUTCOMES:
            del _parts[next(iter(_parts))]
        _parts[id(o)] = (o, parts)
    return parts


def _policy(ref: PolicyRef) -> bytes:
    found = _policies.get(ref)
    if found is None:
        if len(_policies) >= 256:
            _policies.clear()
        found = _policies[ref] = b',"policy":' + _cb(ref.to_json())
    return found


def _list(items: tuple | None) -> bytes:
    return _cb([x.to_json() for x in items]) if items else b"[]"


def canonical(d: Any) -> bytes:
    """The canonical JSON bytes of a Decision (see the module docstring)."""
    o = d.outcome
    actions, notes, obligations, priority, sla_reason, suppressed, trace = outcome_parts(o)
    clocks, held, history = d.clocks, d.held, d.history   # a timeline's, computed if lazy
    sla, now, request_id, ignored = d.sla, d.now, d.request_id, d.ignored_fields
    out = [actions]
    if clocks is not None:
        out.append(b',"clocks":' + _list(clocks))
    out.append(_FORMAT)
    if held is not None:
        out.append(b',"held":' + _list(held))
    if history is not None:
        out.append(b',"history":' + _list(history))
    out += (b',"ignored_fields":' + (_cb(list(ignored)) if ignored else b"[]"),
            b',"input_digest":' + _cb(d.input_digest), notes,
            b',"now":' + (_NULL if now is None else _cb(now.isoformat())), obligations,
            _policy(d.policy), priority)
    if request_id is not None:
        out.append(b',"request_id":' + _cb(request_id))
    out += (b',"requested_priority":' + _cb(d.requested_priority),
            b',"sla":' + (_NULL if sla is None else _cb(sla.to_json())),
            b',"sla_reason":' + (sla_reason if sla is None else _NULL), suppressed,
            b',"ticket_id":' + _cb(d.ticket_id), trace)
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
