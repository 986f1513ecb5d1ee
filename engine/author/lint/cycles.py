"""Reclassification cycles (`reclassify_cycle`): rules of one stage that change the priority
from level to level and back, on conditions that can all hold at once."""

from __future__ import annotations

from engine.author.lint.context import MAX_CYCLES, Conj, Context, Info
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


def stage_cycles(ctx: Context, stage: int) -> list[Cycle]:
    """The cycles of one stage, shortest first, at most MAX_CYCLES searched for; a cycle
    whose rules include those of one already found is left out."""
    levels = ctx.p.levels
    edges: dict[str, list[tuple[str, Info, Conj]]] = {lv: [] for lv in levels}
    for info in ctx.analysed():
        action = info.rule.priority_action
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
                        edges[lv].append((to, info, rest + extra))
    cycles: list[Cycle] = []
    seen: list[frozenset[str]] = []

    def dfs(start: int, cap: int, members: list[Info], path: list[str], tests: Conj) -> None:
        if len(cycles) >= MAX_CYCLES or len(members) >= cap:
            return
        for to, info, extra in edges[path[-1]]:
            groups = {m.rule.group for m in members if m.rule.group}
            if info in members or info.rule.group in groups or levels.index(to) < start:
                continue
            joint = dedupe(tests + extra)
            if not ctx.sat(joint, stage):
                continue
            if levels.index(to) == start:
                key = frozenset(m.id for m in members) | {info.id}
                if not any(s <= key for s in seen):
                    seen.append(key)
                    cycles.append(([*members, info], [*path, to], list(joint)))
            elif to not in path:
                dfs(start, cap, [*members, info], [*path, to], joint)

    for cap in range(2, len(levels) + 1):   # shortest cycles first: supersets are skipped
        for start, lv in enumerate(levels):
            dfs(start, cap, [], [lv], ())
    return cycles
