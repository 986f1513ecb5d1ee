"""The decision as a record: what evaluation returns, its canonical JSON and its exact inverse.

Importable without the rules engine. Nothing here is prose: a trace event holds its kind, the
rule, a stable citation, the facts it matched and structured changes (`field`, `before`,
`after`); sentences are rendered in `engine.explain` only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import msgspec

from engine.core.clock import Clock, Held, HistoryEntry
from engine.core.durations import format_duration, parse_duration
from engine.core.model import Target

#: The decision JSON's format; bumped when a field changes meaning or goes away.
FORMAT = 2

#: Trace event kinds: a rule fired, or the engine stated an outcome of the whole evaluation.
EVENT_KINDS = ("rule", "channels", "no_sla", "no_match")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)   # built once: json.dumps builds one per call


def canonical_json(value: object) -> str:
    """The one canonical JSON form: sorted keys, no whitespace, UTF-8 text (not escaped)."""
    return _CANONICAL.encode(value)


def sha256_of(value: object) -> str:
    """`sha256:<hex>` of the canonical JSON of `value`."""
    return "sha256:" + hashlib.sha256(canonical_bytes(value)).hexdigest()


_msgspec_sorted = msgspec.json.Encoder(order="sorted").encode
_PLAIN = frozenset({str, bool, int, type(None)})


def canonical_bytes(value: object) -> bytes:
    """`canonical_json(value)` as UTF-8 bytes. JSON data without floats takes msgspec, which
    writes exactly those bytes (it spells some floats otherwise: `1e16` for `1e+16`)."""
    if _plain(value, 0):
        return _msgspec_sorted(value)
    return canonical_json(value).encode("utf-8")


def _plain(value: object, depth: int) -> bool:
    """Strings, booleans, integers, null, and lists and string-keyed objects of them."""
    kind = value.__class__
    if kind in _PLAIN:
        return True
    if depth > 16:
        return False
    if kind is dict:
        return all(k.__class__ is str and (v.__class__ in _PLAIN or _plain(v, depth + 1))
                   for k, v in value.items())
    if kind is list:
        return all(v.__class__ in _PLAIN or _plain(v, depth + 1) for v in value)
    return False


class Citation(NamedTuple):
    """Where a rule is written: the policy, its digest, the file inside the policy's folder and
    the line — the same bytes whatever the working directory or install location."""

    policy: str
    digest: str
    path: str
    line: int

    def to_json(self) -> dict:
        return {"policy": self.policy, "digest": self.digest, "path": self.path,
                "line": self.line}

    @classmethod
    def from_json(cls, d: dict) -> Citation:
        return cls(d["policy"], d["digest"], d["path"], d["line"])

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class Change(NamedTuple):
    """One field a step changed (or confirmed, when `before == after`).

    Fields: `priority`, `plan`, `guaranteed`, `target` (a target object or null with a
    `reason`), `channels.offered`, `channels.withheld`, `obligations`, `notes`, and for
    outcome events `channels` and `sla`.
    """

    field: str
    before: Any
    after: Any
    reason: str | None = None

    def to_json(self) -> dict:
        out = {"field": self.field, "before": self.before, "after": self.after}
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_json(cls, d: dict) -> Change:
        return cls(d["field"], d["before"], d["after"], d.get("reason"))


class ActionRecord(NamedTuple):
    """A priority change, as listed in the decision's `actions`."""

    type: str
    from_: str | None
    to: str
    rule: str
    reason: str | None

    def to_json(self) -> dict:
        return {"type": self.type, "from": self.from_, "to": self.to, "rule": self.rule,
                "reason": self.reason}

    @classmethod
    def from_json(cls, d: dict) -> ActionRecord:
        return cls(d["type"], d["from"], d["to"], d["rule"], d["reason"])


class Obligation(NamedTuple):
    """A duty a rule puts on the customer or the vendor."""

    party: str
    duty: str
    rule: str

    def to_json(self) -> dict:
        return {"party": self.party, "duty": self.duty, "rule": self.rule}


class TraceEvent(NamedTuple):
    """One step of the decision trace."""

    seq: int
    kind: str                   # one of EVENT_KINDS
    rule: str | None            # None for an outcome event
    citation: Citation | None
    stage: str | None
    matched: tuple              # ((path, value), ...)
    changes: tuple[Change, ...]
    because: str | None
    source: dict | None

    def to_json(self) -> dict:
        return {"seq": self.seq, "kind": self.kind, "rule": self.rule,
                "citation": self.citation.to_json() if self.citation else None,
                "stage": self.stage, "matched": dict(self.matched),
                "changes": [c.to_json() for c in self.changes], "because": self.because,
                "source": dict(self.source) if self.source is not None else None}

    @classmethod
    def from_json(cls, d: dict) -> TraceEvent:
        cite = d["citation"]
        return cls(d["seq"], d["kind"], d["rule"], Citation.from_json(cite) if cite else None,
                   d["stage"], tuple(d["matched"].items()),
                   tuple(Change.from_json(c) for c in d["changes"]), d["because"],
                   dict(d["source"]) if d["source"] is not None else None)


class Outcome(NamedTuple):
    """What the rules decided for one projection of facts (cacheable: no per-ticket times)."""

    priority: str | None
    actions: tuple[ActionRecord, ...]
    plan: str | None
    guaranteed: bool
    no_guarantee_reason: str | None
    target: Target | None
    target_rule: str | None
    sla_reason: str | None
    channels: tuple[str, ...]
    obligations: tuple[Obligation, ...]
    notes: tuple[str, ...]
    trace: tuple[TraceEvent, ...]
    fired: frozenset[str]
    suppressed: tuple[tuple[str, str], ...]   # (rule id, why it did not fire)


class PolicyRef(NamedTuple):
    """Which policy version decided."""

    id: str
    version: str
    digest: str

    def to_json(self) -> dict:
        return {"id": self.id, "version": self.version, "digest": self.digest}


#: SLA statuses: no first response yet and not overdue, answered in time, overdue.
SLA_STATUSES = ("pending", "met", "breached")


class Sla(NamedTuple):
    """A first-response target and when it falls due for this ticket.

    `remaining` (with a `now`) is the open time left, negative when overdue, and absent once the
    first response was given; `status` is pending, met or breached, with `breached_at` when
    breached."""

    target: timedelta
    clock: str               # business | calendar
    calendar: str
    timezone: str
    due_at: datetime
    met: bool | None
    remaining: timedelta | None
    rule: str | None
    metric: str = "first_response"
    status: str = "pending"
    breached_at: datetime | None = None

    def to_json(self) -> dict:
        out = {"metric": self.metric, "target": format_duration(self.target, days=False),
               "clock": self.clock, "calendar": self.calendar, "timezone": self.timezone,
               "due_at": self.due_at.isoformat(), "met": self.met, "status": self.status}
        if self.breached_at is not None:
            out["breached_at"] = self.breached_at.isoformat()
        out["rule"] = self.rule
        if self.remaining is not None:
            out["remaining"] = format_duration(self.remaining, days=False)
        return out

    @classmethod
    def from_json(cls, d: dict) -> Sla:
        remaining = d.get("remaining")
        breached = d.get("breached_at")
        return cls(_duration(d["target"]), d["clock"], d["calendar"], d["timezone"],
                   datetime.fromisoformat(d["due_at"]), d["met"],
                   None if remaining is None else _duration(remaining), d["rule"], d["metric"],
                   d["status"], None if breached is None else datetime.fromisoformat(breached))


def _duration(text: str) -> timedelta:
    negative = text.startswith("-")
    value = parse_duration(text[1:] if negative else text)
    return -value if negative else value


class Decision:
    """The decision for one ticket under one policy version: a record with an exact JSON form.

    `inputs` are the ticket facts the decision depends on — (paths, values by path); only their
    digest is part of the record (`input_digest`), computed when first asked for.
    `ignored_fields` are the ticket's keys the decision did not read (sorted dotted paths; the
    policy's `ignore_fields` excepted). `warnings` (not part of the record) are diagnostics
    about the input, such as a key that looks like a misspelt fact.

    `history` (priority changes over the ticket's life), `clocks` (one per SLA metric) and
    `held` (facts a `once` rule holds) are set by `engine.timeline` — given, or computed when
    first read by `lazy() -> (history, clocks, held)`; a decision of one snapshot (`engine.run`)
    has None and leaves them out of its JSON.
    """

    __slots__ = ("ticket_id", "policy", "now", "requested_priority", "outcome", "sla",
                 "request_id", "ignored_fields", "warnings", "_history", "_clocks", "_held",
                 "_lazy", "_inputs", "_digest")

    def __init__(self, *, ticket_id: str, policy: PolicyRef, requested_priority: str | None,
                 outcome: Outcome, sla: Sla | None, now: datetime | None = None,
                 inputs: tuple[tuple[str, ...], dict] | None = None,
                 input_digest: str | None = None,
                 request_id: str | None = None,
                 ignored_fields: tuple[str, ...] = (),
                 warnings: tuple = (),
                 history: tuple[HistoryEntry, ...] | None = None,
                 clocks: tuple[Clock, ...] | None = None,
                 held: tuple[Held, ...] | None = None,
                 lazy: Callable[[], tuple] | None = None):
        self.ticket_id = ticket_id
        self.policy = policy
        self.now = now
        self.requested_priority = requested_priority
        self.outcome = outcome
        self.sla = sla
        self.request_id = request_id
        self.ignored_fields = ignored_fields
        self.warnings = warnings
        self._history = history
        self._clocks = clocks
        self._held = held
        self._lazy = lazy
        self._inputs = inputs
        self._digest = input_digest

    # ---- views ------------------------------------------------------------------------
    def _timeline(self) -> None:
        lazy = self._lazy
        if lazy is not None:
            self._history, self._clocks, self._held = lazy()
            self._lazy = None

    @property
    def history(self) -> tuple[HistoryEntry, ...] | None:
        """Every change of the decided priority, with its instant, rule and event."""
        if self._lazy is not None:
            self._timeline()
        return self._history

    @property
    def clocks(self) -> tuple[Clock, ...] | None:
        """One clock per SLA metric, first_response first."""
        if self._lazy is not None:
            self._timeline()
        return self._clocks

    @property
    def held(self) -> tuple[Held, ...] | None:
        """Facts a `once` rule holds, with the events whose change it overrode."""
        if self._lazy is not None:
            self._timeline()
        return self._held

    @property
    def input_digest(self) -> str:
        """sha256 of the canonical JSON of the ticket facts the decision depends on."""
        if self._digest is None:
            self._digest = sha256_of(self.input_facts or {})
        return self._digest

    @property
    def input_facts(self) -> dict | None:
        """The ticket facts the decision depends on, path → value (absent facts left out): what
        `input_digest` hashes, and what a decision log stores. None for a decision read from
        JSON, which keeps only the digest."""
        if self._inputs is None:
            return None
        paths, values = self._inputs
        return {p: values[p] for p in paths if values.get(p) is not None}

    @property
    def policy_id(self) -> str:
        return self.policy.id

    @property
    def policy_version(self) -> str:
        return self.policy.version

    @property
    def policy_digest(self) -> str:
        return self.policy.digest

    @property
    def priority(self) -> str | None:
        return self.outcome.priority

    @property
    def plan(self) -> str | None:
        return self.outcome.plan

    @property
    def actions(self) -> tuple[ActionRecord, ...]:
        return self.outcome.actions

    @property
    def channels(self) -> tuple[str, ...]:
        return self.outcome.channels

    @property
    def obligations(self) -> tuple[Obligation, ...]:
        return self.outcome.obligations

    @property
    def notes(self) -> tuple[str, ...]:
        return self.outcome.notes

    @property
    def sla_reason(self) -> str | None:
        return self.outcome.sla_reason if self.sla is None else None

    @property
    def trace(self) -> tuple[TraceEvent, ...]:
        return self.outcome.trace

    @property
    def fired(self) -> frozenset[str]:
        return self.outcome.fired

    @property
    def suppressed(self) -> tuple[tuple[str, str], ...]:
        return self.outcome.suppressed

    def with_request_id(self, request_id: str | None) -> Decision:
        """The same decision, answering the request `request_id`."""
        return Decision(ticket_id=self.ticket_id, policy=self.policy, now=self.now,
                        requested_priority=self.requested_priority, outcome=self.outcome,
                        sla=self.sla, inputs=self._inputs, input_digest=self._digest,
                        request_id=request_id, ignored_fields=self.ignored_fields,
                        warnings=self.warnings, history=self._history,
                        clocks=self._clocks, held=self._held, lazy=self._lazy)

    @property
    def snapshot_only(self) -> bool:
        """True for a decision of one snapshot (no history, clocks or held facts)."""
        return (self._lazy is None and self._history is None and self._clocks is None
                and self._held is None)

    def with_timeline(self, lazy: Callable[[], tuple]) -> Decision:
        """The same decision with its history, clocks and held facts computed by `lazy`
        when first read."""
        return Decision(ticket_id=self.ticket_id, policy=self.policy, now=self.now,
                        requested_priority=self.requested_priority, outcome=self.outcome,
                        sla=self.sla, inputs=self._inputs, input_digest=self._digest,
                        request_id=self.request_id, ignored_fields=self.ignored_fields,
                        warnings=self.warnings, lazy=lazy)

    def clock(self, metric: str) -> Clock | None:
        """The clock of one SLA metric, if the decision has clocks and the metric one."""
        return next((c for c in self.clocks or () if c.metric == metric), None)

    # ---- JSON -------------------------------------------------------------------------
    def to_json(self) -> dict:
        """The record as JSON data ([schema](schemas/decision.schema.json)); key order fixed."""
        o = self.outcome
        out = {
            "format": FORMAT,
            "ticket_id": self.ticket_id,
            "policy": self.policy.to_json(),
            "now": self.now.isoformat() if self.now is not None else None,
            "input_digest": self.input_digest,
            "requested_priority": self.requested_priority,
            "priority": o.priority,
            "plan": o.plan,
            "actions": [a.to_json() for a in o.actions],
            "sla": self.sla.to_json() if self.sla else None,
            "sla_reason": o.sla_reason if self.sla is None else None,
            "channels": list(o.channels),
            "obligations": [x.to_json() for x in o.obligations],
            "notes": list(o.notes),
            "ignored_fields": list(self.ignored_fields),
            "suppressed": [{"rule": r, "reason": why} for r, why in o.suppressed],
            "trace": [t.to_json() for t in o.trace],
        }
        if self._lazy is not None:
            self._timeline()
        if self._history is not None:
            out["history"] = [h.to_json() for h in self._history]
        if self._clocks is not None:
            out["clocks"] = [c.to_json() for c in self._clocks]
        if self._held is not None:
            out["held"] = [h.to_json() for h in self._held]
        if self.request_id is not None:
            out["request_id"] = self.request_id
        return out

    def canonical(self) -> str:
        """The canonical JSON text of the record (what digests and logs hash)."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, d: dict) -> Decision:
        """The inverse of `to_json`: `Decision.from_json(x.to_json()).to_json() == x.to_json()`."""
        if d.get("format") != FORMAT:
            raise ValueError(f"decision format `{d.get('format')}` is not {FORMAT}")
        sla = Sla.from_json(d["sla"]) if d["sla"] is not None else None
        trace = tuple(TraceEvent.from_json(e) for e in d["trace"])
        guaranteed = not any(c.field == "guaranteed" for e in trace for c in e.changes)
        outcome = Outcome(
            priority=d["priority"], actions=tuple(ActionRecord.from_json(a) for a in d["actions"]),
            plan=d["plan"], guaranteed=guaranteed,
            no_guarantee_reason=None if guaranteed else d["sla_reason"],
            target=Target(sla.target, sla.calendar, sla.metric) if sla else None,
            target_rule=sla.rule if sla else None, sla_reason=d["sla_reason"],
            channels=tuple(d["channels"]),
            obligations=tuple(Obligation(o["party"], o["duty"], o["rule"])
                              for o in d["obligations"]),
            notes=tuple(d["notes"]), trace=trace,
            fired=frozenset(e.rule for e in trace if e.rule),
            suppressed=tuple((s["rule"], s["reason"]) for s in d["suppressed"]))
        p = d["policy"]
        now = d["now"]
        history, clocks, held = d.get("history"), d.get("clocks"), d.get("held")
        return cls(ticket_id=d["ticket_id"], policy=PolicyRef(p["id"], p["version"], p["digest"]),
                   now=datetime.fromisoformat(now) if now is not None else None,
                   requested_priority=d["requested_priority"], outcome=outcome, sla=sla,
                   input_digest=d["input_digest"], request_id=d.get("request_id"),
                   ignored_fields=tuple(d.get("ignored_fields", ())),
                   history=None if history is None else tuple(
                       HistoryEntry.from_json(h) for h in history),
                   clocks=None if clocks is None else tuple(Clock.from_json(c) for c in clocks),
                   held=None if held is None else tuple(Held.from_json(h) for h in held))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.canonical())

    def __repr__(self) -> str:
        return (f"Decision(ticket_id={self.ticket_id!r}, policy={self.policy.id}@"
                f"{self.policy.version}, priority={self.priority!r}, sla={self.sla!r})")

