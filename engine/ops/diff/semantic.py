"""The semantic diff without a corpus: every point of the categorical fact space the two
policies read, decided under both versions, changed points merged into regions."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from engine.core.decision import Decision
from engine.core.logic import domain
from engine.ops.diff.sources import Side
from engine.run.errors import EvaluationError, TicketError
from engine.run.evaluator import Evaluator

TICKET_ID = "diff-point"
SUBMITTED_AT = "2026-01-05T10:00:00+00:00"   # a fixed instant: only categorical facts vary
ANY = "*"


class Sample(str):
    """A stand-in for a fact with an open domain that no rule tests (a contract's response
    targets): the fact is sampled at this value and absent, not enumerated."""

    value: object

    def __new__(cls, label: str, value: object) -> Sample:
        self = super().__new__(cls, label)
        self.value = value
        return self


def _targets_sample(old: Side, new: Side) -> Sample:
    """A quote with a distinct, unlikely duration per level (so a lookup change shows)."""
    levels = list(dict.fromkeys((*old.model.levels, *new.model.levels)))
    quote = {lv: f"PT{i + 1}H{i + 1}M" for i, lv in enumerate(levels)}
    return Sample("{" + ", ".join(f"{k}: {v}" for k, v in quote.items()) + "}", quote)


def signature(decision: Decision | None) -> dict:
    """The parts of a decision a diff compares (None: the ticket is invalid for the policy)."""
    if decision is None:
        return {"invalid": True}
    out = decision.outcome
    target = out.target
    return {"priority": out.priority, "plan": out.plan, "guaranteed": out.guaranteed,
            "no_guarantee": out.no_guarantee_reason,
            "target": None if target is None else
            {"within": str(target.within), "calendar": target.calendar, "metric": target.metric},
            "channels": list(out.channels),
            "obligations": sorted(f"{o.party}: {o.duty}" for o in out.obligations)}


@dataclass(frozen=True)
class Region:
    """Points sharing one change: per fact the set of values (`*` = every value)."""

    facts: tuple[tuple[str, tuple | str], ...]   # (path, tuple of values | "*")
    count: int
    old: dict                                 # the changed fields only
    new: dict
    causes: tuple[str, ...]

    def to_json(self) -> dict:
        return {"facts": {p: (v if isinstance(v, str) else list(v)) for p, v in self.facts},
                "points": self.count, "old": self.old, "new": self.new,
                "causes": list(self.causes)}


@dataclass(frozen=True)
class SemanticDiff:
    skipped: str | None
    facts: tuple[str, ...] = ()
    sampled: tuple[str, ...] = ()   # `path=value`: sampled at absent and value, not enumerated
    points: int = 0
    regions: tuple[Region, ...] = ()
    by_priority: tuple[tuple[str, str, int], ...] = ()   # (old, new, points)

    @property
    def changed(self) -> int:
        return sum(r.count for r in self.regions)

    def to_json(self) -> dict:
        return {"skipped": self.skipped, "facts": list(self.facts),
                "sampled": list(self.sampled), "points": self.points,
                "changed": self.changed, "regions": [r.to_json() for r in self.regions],
                "by_priority": [{"old": o, "new": n, "points": c}
                                for o, n, c in self.by_priority]}


def fact_space(old: Side, new: Side) -> tuple[dict[str, tuple], str | None]:
    """Each read fact's values (union of both versions' domains), or why the space is open.

    A contract's response targets (tested by no rule, only looked up) are sampled: absent and
    one quote (`Sample`)."""
    paths = sorted(set(old.compiled.key_paths) | set(new.compiled.key_paths))
    space: dict[str, tuple] = {}
    for path in paths:
        values: list = []
        for side in (old, new):
            spec = side.model.facts.get(path)
            dom = domain(spec, side.model) if spec is not None else None
            if dom is None and spec is not None and spec.type == "targets":
                dom = (_targets_sample(old, new), None)
            if dom is None:
                return {}, f"fact `{path}` is not categorical"
            values += [v for v in dom if v not in values]
        space[path] = tuple(values)
    return space, None


def ticket_at(point: dict) -> dict:
    """A synthetic ticket holding `point`'s facts (None = absent)."""
    ticket: dict = {"id": TICKET_ID, "submitted_at": SUBMITTED_AT}
    for path, value in point.items():
        if value is None:
            continue
        if isinstance(value, Sample):
            value = value.value
        *parents, leaf = path.split(".")
        node = ticket
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return ticket


def _decide(evaluator: Evaluator, side: Side, ticket: dict) -> Decision | None:
    try:
        return evaluator.evaluate(side.compiled, ticket)
    except (TicketError, EvaluationError):
        return None


def causes(od: Decision | None, nd: Decision | None, changed_ids: dict[str, str]) -> tuple:
    """Rules that fired on one side only, or fired and changed: `id (file:line)`."""
    of = od.outcome.fired if od else frozenset()
    nf = nd.outcome.fired if nd else frozenset()
    def at(rule: str) -> str | None:
        return changed_ids.get(rule) or changed_ids.get(rule.rsplit(".", 1)[0] + ".")
    ids = sorted((of ^ nf) | {r for r in of | nf if at(r)})
    return tuple(f"{r} ({at(r)})" if at(r) else r for r in ids)


def changed_points(old: Side, new: Side, space: dict[str, tuple], changed_ids: dict[str, str],
                   evaluator: Evaluator | None = None) -> list[tuple]:
    """Brute force: every point whose decision differs: (values, old and new changed fields,
    causes, (old priority, new priority)). Empty for two versions of one digest: the same
    canonical content decides every ticket alike."""
    if old.compiled.digest == new.compiled.digest:
        return []
    evaluator = evaluator or Evaluator()
    paths = tuple(space)
    out = []
    for values in itertools.product(*space.values()):
        ticket = ticket_at(dict(zip(paths, values, strict=True)))
        od, nd = _decide(evaluator, old, ticket), _decide(evaluator, new, ticket)
        a, b = signature(od), signature(nd)
        if a != b:
            keys = [k for k in a.keys() | b.keys() if a.get(k) != b.get(k)]
            out.append((values, {k: a.get(k) for k in sorted(keys)},
                        {k: b.get(k) for k in sorted(keys)}, causes(od, nd, changed_ids),
                        (a.get("priority"), b.get("priority"))))
    return out


def merge(points: list[tuple], space: dict[str, tuple]) -> list[tuple[tuple, int]]:
    """Merge points into disjoint boxes: per fact, values sharing all other coordinates are
    united; a fact's full domain becomes `*`. Returns (box of value-tuples, point count)."""
    boxes = {tuple((v,) for v in p) for p in points}
    doms = list(space.values())
    for _ in range(2):
        for i, dom in enumerate(doms):
            groups: dict[tuple, set] = {}
            for box in boxes:
                groups.setdefault(box[:i] + box[i + 1:], set()).update(box[i])
            boxes = {k[:i] + (tuple(v for v in dom if v in vals),) + k[i:]
                     for k, vals in groups.items()}
    out = []
    for box in sorted(boxes, key=lambda b: [[str(x) for x in c] for c in b]):
        count = 1
        for cell in box:
            count *= len(cell)
        out.append((box, count))
    return out


def semantic_diff(old: Side, new: Side, changed_ids: dict[str, str],
                  evaluator: Evaluator | None = None) -> SemanticDiff:
    """Regions of the categorical fact space whose decision changes, merged and counted."""
    space, why = fact_space(old, new)
    if why:
        return SemanticDiff(skipped=f"{why}: the fact space is open")
    paths = tuple(space)
    total = 1
    for dom in space.values():
        total *= len(dom)
    groups: dict[tuple, list] = {}
    keyed: dict[tuple, tuple] = {}
    tally: Counter = Counter()
    for values, a, b, why_, prio in changed_points(old, new, space, changed_ids, evaluator):
        key = (repr(a), repr(b), why_)
        groups.setdefault(key, []).append(values)
        keyed[key] = (a, b, why_)
        tally[(str(prio[0]), str(prio[1]))] += 1
    regions = []
    for key, pts in groups.items():
        a, b, why_ = keyed[key]
        for box, count in merge(pts, space):
            facts = tuple((p, ANY if len(cell) == len(space[p]) else cell)
                          for p, cell in zip(paths, box, strict=True))
            regions.append(Region(facts, count, a, b, why_))
    regions.sort(key=lambda r: (-r.count, repr(r.facts)))
    sampled = tuple(f"{p}={v}" for p, dom in space.items() for v in dom if isinstance(v, Sample))
    return SemanticDiff(None, paths, sampled, total, tuple(regions),
                        tuple((o, n, c) for (o, n), c in sorted(tally.items())))
