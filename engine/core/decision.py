"""The Decision: what evaluate() returns, with its stable JSON form."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from engine.core.durations import format_duration
from engine.core.model import Target


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


class TraceEntry(NamedTuple):
    """One step of the decision trace."""

    seq: int
    rule: str | None           # None for an outcome entry written by the engine itself
    at: str | None             # file:line of the rule
    stage: str | None
    matched: tuple             # ((path, value), ...)
    effect: str
    because: str | None
    source: dict | None

    def to_json(self) -> dict:
        return {"seq": self.seq, "rule": self.rule, "at": self.at, "stage": self.stage,
                "matched": dict(self.matched), "effect": self.effect, "because": self.because,
                "source": dict(self.source) if self.source is not None else None}


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
    obligations: tuple[dict, ...]
    notes: tuple[str, ...]
    trace: tuple[TraceEntry, ...]
    fired: frozenset[str]
    suppressed: tuple[tuple[str, str], ...]   # (rule id, why it did not fire)


class Sla(NamedTuple):
    """A first-response target and when it falls due for this ticket."""

    target: timedelta
    clock: str               # business | calendar
    calendar: str
    timezone: str
    due_at: datetime
    met: bool | None
    remaining: timedelta | None
    rule: str | None
    metric: str = "first_response"

    def to_json(self) -> dict:
        out = {"metric": self.metric, "target": format_duration(self.target, days=False),
               "clock": self.clock, "calendar": self.calendar, "timezone": self.timezone,
               "due_at": self.due_at.isoformat(), "met": self.met, "rule": self.rule}
        if self.remaining is not None:
            out["remaining"] = format_duration(self.remaining, days=False)
        return out


class Decision(NamedTuple):
    """The decision for one ticket under one policy version."""

    ticket_id: str
    policy_id: str
    policy_version: str
    policy_digest: str
    requested_priority: str | None
    outcome: Outcome
    sla: Sla | None

    @property
    def priority(self) -> str | None:
        return self.outcome.priority

    @property
    def actions(self) -> tuple[ActionRecord, ...]:
        return self.outcome.actions

    @property
    def channels(self) -> tuple[str, ...]:
        return self.outcome.channels

    @property
    def trace(self) -> tuple[TraceEntry, ...]:
        return self.outcome.trace

    @property
    def fired(self) -> frozenset[str]:
        return self.outcome.fired

    def to_json(self) -> dict:
        o = self.outcome
        return {
            "ticket_id": self.ticket_id,
            "policy": {"id": self.policy_id, "version": self.policy_version,
                       "digest": self.policy_digest},
            "requested_priority": self.requested_priority,
            "priority": o.priority,
            "plan": o.plan,
            "actions": [a.to_json() for a in o.actions],
            "sla": self.sla.to_json() if self.sla else None,
            "sla_reason": o.sla_reason if self.sla is None else None,
            "channels": list(o.channels),
            "obligations": [dict(x) for x in o.obligations],
            "notes": list(o.notes),
            "trace": [t.to_json() for t in o.trace],
        }
