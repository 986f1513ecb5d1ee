"""The decision as a record: what evaluation returns, its canonical JSON and its exact inverse.

Importable without the rules engine. The record's parts (trace events, the outcome, the SLA)
are in `engine.core.records`, the canonical JSON form in `engine.core.canonical`, the fast
byte encoding in `engine.core.decision_json`; all are re-exported here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from engine.core.canonical import canonical_bytes, canonical_json, projected_bytes, sha256_of
from engine.core.clock import Clock, Held, HistoryEntry
from engine.core.decision_json import decision_bytes
from engine.core.model import Target
from engine.core.records import (
    EVENT_KINDS,
    FORMAT,
    SLA_STATUSES,
    ActionRecord,
    Change,
    Citation,
    Obligation,
    Outcome,
    PolicyRef,
    Sla,
    TraceEvent,
)

__all__ = ["EVENT_KINDS", "FORMAT", "SLA_STATUSES", "ActionRecord", "Change", "Citation",
           "Decision", "Obligation", "Outcome", "PolicyRef", "Sla", "TraceEvent",
           "canonical_bytes", "canonical_json", "sha256_of", "snapshot_decision"]

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
                 "_lazy", "_inputs", "_digest", "_facts", "members")

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
        self._facts: bytes | None = None   # input_facts_bytes(), self.members ticket_members()
        self.members: tuple | None = None

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
            if self.input_facts_bytes() is None:
                self._digest = sha256_of({})
        return self._digest  # type: ignore[return-value]

    def input_facts_bytes(self) -> bytes | None:
        """The canonical JSON of `input_facts` (None if read from JSON), made and hashed once."""
        data = self._facts
        if data is None:
            if self._inputs is None:
                return None
            data = self._facts = projected_bytes(*self._inputs)
            if self._digest is None:
                self._digest = "sha256:" + hashlib.sha256(data).hexdigest()
        return data

    @property
    def input_facts(self) -> dict | None:
        """The ticket facts the decision depends on, path → value (absent facts left out): what
        `input_digest` hashes, and what a decision log stores. None for a decision read from
        JSON, which keeps only the digest."""
        if self._inputs is None:
            return None
        paths, values = self._inputs
        return {p: v for p in paths if (v := values.get(p)) is not None}

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

    def to_json_bytes(self, *, pretty: bool = False) -> bytes:
        """The record's JSON as UTF-8: canonical (`canonical()`'s bytes, assembled from parts of
        the outcome kept between decisions), or `pretty`: two-space indented, in `to_json`'s key
        order. UnicodeEncodeError for text UTF-8 cannot carry (a lone surrogate)."""
        return decision_bytes(self, pretty)

    def canonical(self) -> str:
        """The canonical JSON text of the record (what digests and logs hash)."""
        try:
            return decision_bytes(self, False).decode("utf-8")
        except UnicodeEncodeError:
            return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, d: dict) -> Decision:
        """The inverse of `to_json`: `Decision.from_json(x.to_json()).to_json() == x.to_json()`."""
        return _from_json(d)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.canonical())

    def __repr__(self) -> str:
        return (f"Decision(ticket_id={self.ticket_id!r}, policy={self.policy.id}@"
                f"{self.policy.version}, priority={self.priority!r}, sla={self.sla!r})")


def snapshot_decision(ticket_id: str, policy: PolicyRef, requested_priority: str | None,
                      outcome: Outcome, sla: Sla | None, now: datetime | None,
                      inputs: tuple[tuple[str, ...], dict], lazy: Callable[[], tuple],
                      ignored_fields: tuple[str, ...], warnings: tuple) -> Decision:
    """`Decision(...)` of one snapshot with a lazy timeline, its fields by position (a third of
    the keywords' cost on the hit path); every other slot as `Decision.__init__` leaves it."""
    self = object.__new__(Decision)
    self.ticket_id, self.policy, self.now = ticket_id, policy, now
    self.requested_priority, self.outcome, self.sla = requested_priority, outcome, sla
    self.request_id, self.ignored_fields, self.warnings = None, ignored_fields, warnings
    self._history = self._clocks = self._held = None
    self._lazy, self._inputs, self._digest = lazy, inputs, None
    self._facts = self.members = None
    return self


def _from_json(d: dict) -> Decision:
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
    return Decision(
        ticket_id=d["ticket_id"], policy=PolicyRef(p["id"], p["version"], p["digest"]),
        now=datetime.fromisoformat(now) if now is not None else None,
        requested_priority=d["requested_priority"], outcome=outcome, sla=sla,
        input_digest=d["input_digest"], request_id=d.get("request_id"),
        ignored_fields=tuple(d.get("ignored_fields", ())),
        history=None if history is None else tuple(
            HistoryEntry.from_json(h) for h in history),
        clocks=None if clocks is None else tuple(Clock.from_json(c) for c in clocks),
        held=None if held is None else tuple(Held.from_json(h) for h in held))
