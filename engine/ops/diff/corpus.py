"""The corpus part: each ticket decided under both versions, changed decisions grouped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.core.decision import Decision
from engine.ops.diff.semantic import signature
from engine.ops.diff.sources import Side
from engine.run.evaluator import Evaluator

SAMPLES = 3


def _steps(decision: Decision | None) -> list[str]:
    if decision is None:
        return ["(invalid ticket)"]
    return [f"{e.rule or e.kind}: " + ", ".join(f"{c.field} {c.before}→{c.after}"
                                                for c in e.changes)
            for e in decision.outcome.trace if e.changes]


@dataclass
class Group:
    """Changed decisions sharing (old → new) of every changed field."""

    key: str
    old: dict
    new: dict
    count: int = 0
    samples: list | None = None

    def to_json(self) -> dict:
        return {"key": self.key, "old": self.old, "new": self.new, "tickets": self.count,
                "samples": self.samples or []}


@dataclass(frozen=True)
class CorpusDiff:
    tickets: int
    changed: int
    groups: tuple[Group, ...]

    def to_json(self) -> dict:
        return {"tickets": self.tickets, "changed": self.changed,
                "groups": [g.to_json() for g in self.groups]}


def _sig(d: object) -> dict:
    if not isinstance(d, Decision):
        return {"invalid": True}
    out = signature(d)
    out["due_at"] = d.sla.due_at.isoformat() if d.sla else None
    return out


def corpus_diff(old: Side, new: Side, tickets: Iterable[Mapping],
                evaluator: Evaluator | None = None) -> CorpusDiff:
    """Decide each ticket under both versions (Evaluator.evaluate_many) and group changes."""
    evaluator = evaluator or Evaluator()
    tickets = list(tickets)
    olds = list(evaluator.evaluate_many(old.compiled, tickets))
    news = list(evaluator.evaluate_many(new.compiled, tickets))
    groups: dict[str, Group] = {}
    changed = 0
    for ticket, od, nd in zip(tickets, olds, news, strict=True):
        a, b = _sig(od), _sig(nd)
        if a == b:
            continue
        changed += 1
        keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        ga = {k: a.get(k) for k in keys if k != "due_at"}
        gb = {k: b.get(k) for k in keys if k != "due_at"}
        key = f"{a.get('priority')} → {b.get('priority')}; " + ", ".join(keys)
        group = groups.setdefault(key, Group(key, ga, gb, 0, []))
        group.count += 1
        assert group.samples is not None
        if len(group.samples) < SAMPLES:
            group.samples.append({
                "ticket": str(ticket.get("id")), "due_at": [a.get("due_at"), b.get("due_at")],
                "old_steps": _steps(od if isinstance(od, Decision) else None),
                "new_steps": _steps(nd if isinstance(nd, Decision) else None)})
    ordered = sorted(groups.values(), key=lambda g: (-g.count, g.key))
    return CorpusDiff(len(tickets), changed, tuple(ordered))
