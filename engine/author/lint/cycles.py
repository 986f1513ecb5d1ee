"""Reclassification cycles (`reclassify_cycle`): rules of one stage that change the priority
from level to level and back, on conditions that can all hold at once."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from engine.author.lint.actions import priority_of
from engine.author.lint.context import MAX_CYCLES, Conj, Context, Info
from engine.author.lint.index import OverlapIndex, bits
from engine.author.lint.text import tick
from engine.core.logic import dedupe, shift_level
from engine.core.model import STAGES, Test

Cycle = tuple[list[Info], list[str], list[Test]]


def check_cycles(ctx: Context) -> list[frozenset[str]]:
    """Report every cycle found; returns the rule ids of each (conflicts skip those pairs)."""
    found: list[Cycle] = []
    for stage in range(len(STAGES)):
        found += stage_cycles(ctx, stage)
    reported = []
    for members, path, tests in found:
        first = min(members, key=lambda i: i.index)
        steps = " → ".join(path)
        named = tick([f"{m.id}` ({a} → {b})`" for m, a, b in
                      zip(members, path, path[1:], strict=False)]).replace(")``", ")")
        example = ctx.witness(tests, first.stage)
        repeat = all(m.rule.repeat for m in members)
        ctx.add("reclassify_cycle",
                f"rules {named} change the priority in a cycle {steps} (e.g. {example}); "
                + ("with `repeat: true` they re-trigger each other until the firing bound "
                   "stops evaluation" if repeat else "each fires once, so the result "
                   "depends on where the ticket enters the cycle"),
                first.rule.location, first.id,
                "make the conditions of one rule exclude the others, or test the "
                "customer's original level (`requested_priority`) instead of `priority`")
        reported.append(frozenset(m.id for m in members))
    return reported


@dataclass(frozen=True, eq=False)
class _Edge:
    """A rule taking the priority from level `frm` to level `to` when `tests` hold."""

    frm: int
    to: int
    info: Info
    tests: Conj


def targets(ctx: Context, value: object, level: str, conj: Conj, stage: int
            ) -> list[tuple[str, Conj]]:
    """The levels a priority action leads to from `level`, each with the tests it assumes."""
    if isinstance(value, str):
        return [(value, ())]
    assert isinstance(value, dict)
    if "fact" in value:
        return [(v, (Test(value["fact"], "eq", v),))
                for v in ctx.allowed(value["fact"], conj, stage) if v is not None]
    return [(shift_level(ctx.p.levels, level, value), ())]


def _edges(ctx: Context, stage: int, rank: dict[str, int]) -> list[_Edge]:
    """The level changes of a stage, grouped by the level they leave, in firing order."""
    edges: dict[int, list[_Edge]] = {k: [] for k in range(len(ctx.p.levels))}
    for info in ctx.analysed():
        action = priority_of(info.rule)
        if info.stage != stage or action is None:
            continue
        _, value = action
        for conj in info.live:
            if not any(t.path == "priority" and t.op != "absent" for t in conj):
                continue  # does not test the level: changing it cannot re-trigger the rule
            rest = tuple(t for t in conj if t.path != "priority")
            for lv in ctx.allowed("priority", conj, stage):
                if lv is None:
                    continue
                for to, extra in targets(ctx, value, lv, conj, stage):
                    if to != lv:
                        edges[rank[lv]].append(_Edge(rank[lv], rank[to], info, rest + extra))
    return [e for k in sorted(edges) for e in edges[k]]


def stage_cycles(ctx: Context, stage: int) -> list[Cycle]:
    """The cycles of one stage, shortest first, at most MAX_CYCLES searched for; a cycle
    whose rules include those of one already found is left out."""
    levels = ctx.p.levels
    rank = {lv: k for k, lv in reversed(list(enumerate(levels)))}
    edges = _edges(ctx, stage, rank)
    if not edges:
        return []
    index = OverlapIndex(ctx.p, [[e.tests] for e in edges])
    leaving = [0] * len(levels)
    for k, e in enumerate(edges):
        leaving[e.frm] |= 1 << k
    overlaps = [index.query(e.tests) for e in edges]
    viable = [_viable(edges, leaving, overlaps, start, len(levels))
              for start in range(len(levels))]
    cycles: list[Cycle] = []
    seen = _Seen()

    def dfs(start: int, cap: int, members: list[Info], path: list[int], tests: Conj) -> None:
        if len(cycles) >= MAX_CYCLES or len(members) >= cap:
            return
        # only edges that can still close a cycle within the cap (all else finds nothing)
        candidates = leaving[path[-1]] & viable[start][cap - len(members)]
        if tests:
            candidates &= index.query(tests)
        for k in bits(candidates):
            edge = edges[k]
            to, info = edge.to, edge.info
            if to != start and len(cycles) >= MAX_CYCLES:
                continue  # a deeper search would return at once
            groups = {m.rule.group for m in members if m.rule.group}
            if any(m is info for m in members) or info.rule.group in groups or to < start:
                continue
            joint = dedupe(tests + edge.tests)
            if not ctx.sat(joint, stage):
                continue
            if to == start:
                key = frozenset(m.id for m in members) | {info.id}
                if not seen.covers(key):
                    seen.add(key)
                    cycles.append(([*members, info], [levels[x] for x in (*path, to)],
                                   list(joint)))
            elif to not in path:
                dfs(start, cap, [*members, info], [*path, to], joint)

    for cap in range(2, len(levels) + 1):   # shortest cycles first: supersets are skipped
        for start in range(len(levels)):
            dfs(start, cap, [], [start], ())
    return cycles


def _viable(edges: list[_Edge], leaving: list[int], overlaps: list[int], start: int,
            most: int) -> list[int]:
    """`viable[r]`: the edges that can begin a path back to level `start` in at most r
    steps, each step's tests overlapping the previous one's (a necessary condition)."""
    closing = sum(1 << k for k, e in enumerate(edges) if e.to == start)
    onward = [(k, e) for k, e in enumerate(edges) if e.to > start]
    viable = [0, closing]
    for _ in range(2, most + 1):
        before = viable[-1]
        more = closing
        for k, e in onward:
            if overlaps[k] & leaving[e.to] & before:
                more |= 1 << k
        viable.append(more)
    return viable


class _Seen:
    """The member sets of the cycles found; `covers` asks whether one is a subset of `key`."""

    def __init__(self) -> None:
        self.sets: list[frozenset[str]] = []
        self.lookup: set[frozenset[str]] = set()

    def add(self, key: frozenset[str]) -> None:
        self.sets.append(key)
        self.lookup.add(key)

    def covers(self, key: frozenset[str]) -> bool:
        if 2 ** len(key) < len(self.sets):
            items = sorted(key)
            return any(frozenset(sub) in self.lookup for r in range(1, len(items) + 1)
                       for sub in itertools.combinations(items, r))
        return any(s <= key for s in self.sets)
