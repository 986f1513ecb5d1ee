"""Canonical JSON of a decision, split the way the log stores it — fast.

A decision JSON is two parts: what is the ticket's own (`PER_TICKET`: its id, the policy, `now`,
the input digest, the requested level, the SLA with its due time, the request) and the
**outcome** (`PER_OUTCOME`: what the rules decided, with the trace), which every ticket of one
decision-cache entry shares. The log keeps the ticket's part in the record and the outcome once
per digest.

The evaluator hands out the same outcome parts (actions, suppressed rules, trace events...) for
every ticket of one cache entry, and a re-matched trace event shares its changes and source with
the cached one; so fragments are memoised by those objects' identity (each memo entry keeps its
objects alive, so an id is never reused while it is cached) and texts are spliced from them:
the same bytes as `canonical_json` of the corresponding part of `decision.to_json()`, which
tests/test_log_records.py checks.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from json.encoder import encode_basestring
from typing import Any

from engine.core.decision import Decision, Sla, TraceEvent, canonical_bytes, canonical_json
from engine.core.decision_json import ticket_bytes

#: Decision JSON keys that are the ticket's own; all others depend on the outcome only (and on
#: whether there is an SLA). tests/test_log_records.py fails when `Decision.to_json` gains a key
#: that is in neither list.
PER_TICKET = ("format", "ticket_id", "policy", "now", "input_digest", "requested_priority", "sla",
              "ignored_fields", "history", "clocks", "held", "request_id")
PER_OUTCOME = ("priority", "plan", "actions", "sla_reason", "channels", "obligations", "notes",
               "suppressed", "trace")
_MEMO_SIZE = 8192


class _Memo:
    """A bounded memo in two generations: when the young one is full it becomes the old one
    (the previous old one is dropped); a hit in the old one is promoted. Roughly LRU, O(1)."""

    def __init__(self, size: int = _MEMO_SIZE) -> None:
        self.size = size
        self.young: dict = {}
        self.old: dict = {}
        self.lock = threading.Lock()

    def get(self, key: object) -> object:
        hit = self.young.get(key)
        if hit is None:
            hit = self.old.get(key)
            if hit is not None:
                self.put(key, hit)
        return hit

    def put(self, key: object, value: object) -> None:
        with self.lock:
            if len(self.young) >= self.size:
                self.old, self.young = self.young, {}
            self.young[key] = value


_event_ids, _events, _halves, _parts, _contents, _outcomes = (_Memo() for _ in range(6))


def scalar_json(value: str | None) -> str:
    """`canonical_json` of a string or None, without building an encoder."""
    return "null" if value is None else encode_basestring(value)


def _event_text(e: TraceEvent) -> str:
    hit = _event_ids.get(id(e))
    if hit is not None and hit[0] is e:  # type: ignore[index]
        return hit[1]  # type: ignore[index]
    text = _event_content(e)
    _event_ids.put(id(e), (e, text))
    return text


def _event_content(e: TraceEvent) -> str:
    """A re-matched event is a new object: memoised by its content and its shared parts (the
    same text object for the same content, so outcomes made of them are memoised too)."""
    try:
        key: object = (e.seq, e.kind, e.rule, e.stage, e.matched, e.because, id(e.changes),
                       id(e.source), id(e.citation))
        hash(key)
    except TypeError:   # an unhashable matched value: serialise it every time
        return _event_spliced(e)
    hit = _events.get(key)
    if hit is not None and hit[0] is e.changes and hit[1] is e.source:  # type: ignore[index]
        return hit[2]  # type: ignore[index]
    text = _event_spliced(e)
    _events.put(key, (e.changes, e.source, text))
    return text


def _event_spliced(e: TraceEvent) -> str:
    """An event's text from the memoised texts of its keys before and after `matched` (the
    same for every ticket of a cache entry) and its `matched` values, serialised."""
    key = (e.seq, e.kind, e.rule, e.stage, e.because, id(e.changes), id(e.source),
           id(e.citation))
    hit: Any = _halves.get(key)
    if hit is None or hit[0] is not e.changes or hit[1] is not e.source or \
            hit[2] is not e.citation:
        data = e.to_json()
        del data["matched"]
        before = canonical_json({k: v for k, v in data.items() if k < "matched"})
        after = canonical_json({k: v for k, v in data.items() if k > "matched"})
        hit = (e.changes, e.source, e.citation, before[:-1] + ',"matched":', "," + after[1:])
        _halves.put(key, hit)
    return hit[3] + canonical_bytes(dict(e.matched)).decode("utf-8") + hit[4]


def _outcome_parts(decision: Decision) -> dict[str, str]:
    """The canonical JSON of each outcome key but `trace` (shared by re-matched outcomes)."""
    o = decision.outcome
    owners = (o.actions, o.suppressed, o.obligations, o.notes, o.channels)
    key = (*map(id, owners), o.priority, o.plan, o.sla_reason, decision.sla is None)
    hit = _parts.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], owners, strict=True)):  # type: ignore[index]
        return hit[1]  # type: ignore[index]
    light = Decision(ticket_id=decision.ticket_id, policy=decision.policy, now=decision.now,
                     requested_priority=decision.requested_priority,
                     outcome=o._replace(trace=()), sla=decision.sla,
                     input_digest=decision.input_digest)
    parts = {k: canonical_json(v) for k, v in light.to_json().items()
             if k in PER_OUTCOME and k != "trace"}
    _parts.put(key, (owners, parts))
    return parts


def outcome_json(decision: Decision) -> tuple[str, str]:
    """(`sha256:` digest, canonical JSON) of the decision's outcome part."""
    o = decision.outcome
    key = (id(o), decision.sla is None)
    hit = _outcomes.get(key)
    if hit is not None and hit[0] is o:  # type: ignore[index]
        return hit[1], hit[2]  # type: ignore[index]
    parts = _outcome_parts(decision)
    events = tuple(_event_text(e) for e in o.trace)
    # a re-matched outcome is a new object whose pieces are memoised texts: key by those
    content = (id(parts), *map(id, events))
    found = _contents.get(content)
    if found is None or found[0] is not parts or any(  # type: ignore[index]
            a is not b for a, b in zip(found[1], events, strict=True)):  # type: ignore[index]
        text = "{" + ",".join(f'"{k}":{v}' for k, v in sorted(
            [*parts.items(), ("trace", "[" + ",".join(events) + "]")])) + "}"
        digest = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
        found = (parts, events, digest, text)
        _contents.put(content, found)
    _outcomes.put(key, (o, found[2], found[3]))  # type: ignore[index]
    return found[2], found[3]  # type: ignore[index]


def sla_state(sla: Sla | None) -> str:
    """`records.sla_status` of the decision's SLA, from the object."""
    if sla is None:
        return "none"
    if sla.met is not None:
        return "met" if sla.met else "breached"
    return "overdue" if sla.remaining is not None and sla.remaining < timedelta(0) else "open"


def ticket_json(decision: Decision) -> str:
    """The canonical JSON of the decision's per-ticket part (`engine.core.decision_json`'s
    `ticket_bytes`: the same members the decision's own bytes are made of, so a decision
    written to the output and logged encodes its clocks and history once)."""
    return ticket_bytes(decision).decode("utf-8")


def full_decision(ticket_part: dict, outcome: dict) -> dict:
    """The decision JSON from its two parts, keys in the order of `Decision.to_json`."""
    merged = {**ticket_part, **outcome}
    order = [k for k in _TO_JSON_ORDER if k in merged]
    return {k: merged[k] for k in order + [k for k in merged if k not in _TO_JSON_ORDER]}


_TO_JSON_ORDER = ("format", "ticket_id", "policy", "now", "input_digest", "requested_priority",
                  "priority", "plan", "actions", "sla", "sla_reason", "channels", "obligations",
                  "notes", "ignored_fields", "suppressed", "trace", "history", "clocks", "held",
                  "request_id")
