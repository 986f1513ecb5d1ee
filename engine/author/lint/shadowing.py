"""Shadowed rules (`rule_shadowed`): a rule of a group that never fires because, whenever it
could, an earlier rule of the same group (or several together) fires first."""

from __future__ import annotations

import math

from engine.author.lint.context import DERIVED, MAX_ENUMERATION, Conj, Context, Info, by_path
from engine.author.lint.index import OverlapIndex, bits, lowest
from engine.author.lint.product import product_masks, value_masks
from engine.author.lint.text import tick
from engine.core.logic import domain
from engine.core.model import Test


def check_shadowed(ctx: Context) -> None:
    """Report each author's rule of a group that earlier rules of the group always pre-empt."""
    rules = ctx.analysed()
    groups: dict[str, int] = {}
    stages: dict[int, int] = {}
    derived_free = 0          # rules whose firing says something at any later stage
    for k, r in enumerate(rules):
        if r.rule.group:
            groups[r.rule.group] = groups.get(r.rule.group, 0) | 1 << k
        stages[r.stage] = stages.get(r.stage, 0) | 1 << k
        if not any(t.path in DERIVED for c in r.live for t in c):
            derived_free |= 1 << k
    index: OverlapIndex | None = None
    for bi, b in enumerate(rules):
        group = b.rule.group
        if not group or b.rule.origin != "rule":
            continue
        before = groups[group] & ((1 << bi) - 1) & (stages[b.stage] | derived_free)
        if not before:
            continue
        if index is None:
            index = OverlapIndex(ctx.p, [r.live for r in rules])
        single = next((rules[k] for k in bits(before & index.query_any(b.live)) if all(
            any(ctx.implies(cb, ca, b.stage) for ca in rules[k].live) for cb in b.live)), None)
        covering = [single] if single else covered_by_union(ctx, b, rules, before, index)
        if covering:
            names = tick([a.id for a in covering])
            ctx.add("rule_shadowed",
                    f"rule `{b.id}` never fires: whenever it could, {names} of group "
                    f"`{group}` fire{'s' if len(covering) == 1 else ''} first",
                    b.rule.location, b.id,
                    "remove the rule, narrow the earlier rule, or give this rule a higher "
                    "`salience` if it is the more specific case")


def covered_by_union(ctx: Context, b: Info, rules: list[Info], before: int,
                     index: OverlapIndex) -> list[Info]:
    """The earlier rules (`before`, a set of positions in `rules`) that together match every
    ticket `b` matches, in the order they first match one; [] when some ticket is left to `b`
    or there are too many to enumerate.

    Only the rules whose conditions can overlap `b`'s are tried on each assignment (no other
    can match one), but every earlier rule's tests shape the values enumerated, as they
    always have."""
    conjs: list[tuple[Info, Conj]] = []
    used: dict[str, Info] = {}
    for cb in b.live:
        near = [(a, c) for k in bits(before & index.query(cb)) for a in (rules[k],)
                for c in a.live]
        if not near and _never_empty(ctx, b, cb, rules, before):
            return []   # the first assignment, if not too many, matches no earlier rule
        conjs = conjs or [(a, c) for k in bits(before) for a in (rules[k],) for c in a.live]
        paths: dict[str, list[Test]] = {}
        for t in cb + tuple(t for _, c in conjs for t in c):
            paths.setdefault(t.path, []).append(t)
        own = by_path(cb)
        spaces = [[v for v in ctx.values(p, ts, b.stage)
                   if all(t.holds(v) for t in own.get(p, []))] for p, ts in paths.items()]
        if math.prod(len(s) for s in spaces) > MAX_ENUMERATION:
            return []
        masks = value_masks(list(paths), spaces, [by_path(c) for _, c in near])
        for _, hits in product_masks(spaces, masks, (1 << len(near)) - 1):
            if not hits:
                return []
            hit = near[lowest(hits)][0]
            used[hit.id] = hit
    return list(used.values())


def _never_empty(ctx: Context, b: Info, cb: Conj, rules: list[Info], before: int) -> bool:
    """Is there certainly some assignment to enumerate for `cb`? Its own paths keep a value
    that satisfies it (it can hold, and more tests only add representatives, for every kind
    of fact but numbers); the others keep all of theirs, which only `priority` can lack."""
    for path in by_path(cb):
        spec = ctx.p.facts.get(path)
        if spec is not None and spec.comparable and domain(spec, ctx.p) is None:
            return False
    if "priority" in by_path(cb) or ctx.values("priority", [], b.stage):
        return True
    return not any(t.path == "priority" for k in bits(before) for c in rules[k].live for t in c)
