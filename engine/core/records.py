"""The parts of a decision record: citations, changes, trace events, the outcome, the SLA.

Importable without the rules engine. Nothing here is prose: a trace event holds its kind, the
rule, a stable citation, the facts it matched and structured changes (`field`, `before`,
`after`); sentences are rendered in `engine.explain` only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from engine.core.durations import format_duration, parse_signed_duration
from engine.core.model import Target

#: The decision JSON's format; bumped when a field changes meaning or goes away.
FORMAT = 2

#: Trace event kinds: a rule fired, or the engine stated an outcome of the whole evaluation.
EVENT_KINDS = ("rule", "channels", "no_sla", "no_match")


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
        out = {"metric": self.metric, "target": hours_text(self.target),
               "clock": self.clock, "calendar": self.calendar, "timezone": self.timezone,
               "due_at": self.due_at.isoformat(), "met": self.met, "status": self.status}
        if self.breached_at is not None:
            out["breached_at"] = self.breached_at.isoformat()
        out["rule"] = self.rule
        if self.remaining is not None:
            out["remaining"] = hours_text(self.remaining)
        return out

    @classmethod
    def from_json(cls, d: dict) -> Sla:
        remaining = d.get("remaining")
        breached = d.get("breached_at")
        return cls(parse_signed_duration(d["target"]), d["clock"], d["calendar"], d["timezone"],
                   datetime.fromisoformat(d["due_at"]), d["met"],
                   None if remaining is None else parse_signed_duration(remaining), d["rule"],
                   d["metric"],
                   d["status"], None if breached is None else datetime.fromisoformat(breached))


@lru_cache(maxsize=8192)
def hours_text(target: timedelta) -> str:
    """Open time as the record writes it (hours, never days); targets (and what is left of
    them) repeat between tickets."""
    return format_duration(target, days=False)


