"""Shadowed rules (`rule_shadowed`): a rule of a group that never fires because, whenever it
could, an earlier rule of the same group (or several together) fires first."""

from __future__ import annotations

import itertools
import math

from engine.author.lint.context import DERIVED, MAX_ENUMERATION, Context, Info, by_path
from engine.author.lint.text import tick
from engine.core.model import Test


def check_shadowed(ctx: Context) -> None:
    """Report each author's rule of a group that earlier rules of the group always pre-empt."""
    rules = ctx.analysed()
    for bi, b in enumerate(rules):
        group = b.rule.group
        if not group or b.rule.origin != "rule":
            continue
        earlier = [a for a in rules[:bi] if a.rule.group == group and can_shadow(a, b)]
        if not earlier:
            continue
        single = next((a for a in earlier if all(
            any(ctx.implies(cb, ca, b.stage) for ca in a.live) for cb in b.live)), None)
        covering = [single] if single else covered_by_union(ctx, b, earlier)
        if covering:
            names = tick([a.id for a in covering])
            ctx.add("rule_shadowed",
                    f"rule `{b.id}` never fires: whenever it could, {names} of group "
                    f"`{group}` fire{'s' if len(covering) == 1 else ''} first",
                    b.rule.location, b.id,
                    "remove the rule, narrow the earlier rule, or give this rule a higher "
                    "`salience` if it is the more specific case")


def can_shadow(a: Info, b: Info) -> bool:
    """Does `a` firing whenever its condition holds say anything at `b`'s time?"""
    if a.stage == b.stage:
        return True
    return not any(t.path in DERIVED for c in a.live for t in c)


def covered_by_union(ctx: Context, b: Info, earlier: list[Info]) -> list[Info]:
    """The earlier rules that together match every ticket `b` matches (first match each),
    or [] when some ticket is left to `b` or there are too many to enumerate."""
    conjs = [(a, c) for a in earlier for c in a.live]
    used: dict[str, Info] = {}
    for cb in b.live:
        paths: dict[str, list[Test]] = {}
        for t in cb + tuple(t for _, c in conjs for t in c):
            paths.setdefault(t.path, []).append(t)
        own = by_path(cb)
        spaces = [[v for v in ctx.values(p, ts, b.stage)
                   if all(t.holds(v) for t in own.get(p, []))] for p, ts in paths.items()]
        if math.prod(len(s) for s in spaces) > MAX_ENUMERATION:
            return []
        names = list(paths)
        for combo in itertools.product(*spaces):
            env = dict(zip(names, combo, strict=True))
            hit = next((a for a, c in conjs if all(t.holds(env[t.path]) for t in c)), None)
            if hit is None:
                return []
            used[hit.id] = hit
    return list(used.values())
