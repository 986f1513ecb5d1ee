"""What the rules can produce: which rules can fire, the levels each stage can see, whether
some stage can remove the guarantee, and whether the assign stage covers every ticket."""

from __future__ import annotations

import math

from engine.author.lint.actions import actions_of, priority_of
from engine.author.lint.context import ASSIGN, MAX_ENUMERATION, Context, Info, by_path
from engine.author.lint.index import lowest
from engine.author.lint.product import product_masks, value_masks
from engine.core.logic import shift_level
from engine.core.model import STAGES, Test


def assign_covers_all(ctx: Context) -> list[str] | None:
    """The assign-stage rules (table ids for rows) when together they set a priority on every
    ticket, in the order they first cover one; None when some ticket gets none."""
    rules = [i for i in ctx.infos if i.stage == ASSIGN and not i.truncated
             and (action := priority_of(i.rule)) is not None and action[0] != "default"]
    conjs = [(i, c) for i in rules for c in i.conjs]
    if not conjs:
        return None
    start = {"priority": (None,), "entitlement.guaranteed": (True,)}
    paths: dict[str, list[Test]] = {}
    for _, c in conjs:
        for t in c:
            paths.setdefault(t.path, []).append(t)
    spaces = [start.get(p) or ctx.values(p, ts, None) for p, ts in paths.items()]
    if math.prod(len(s) for s in spaces) > MAX_ENUMERATION:
        return None
    masks = value_masks(list(paths), spaces, [by_path(c) for _, c in conjs])
    used: dict[str, None] = {}
    for _, hits in product_masks(spaces, masks, (1 << len(conjs)) - 1):
        if not hits:
            return None
        hit = conjs[lowest(hits)][0]
        used[hit.rule.group if hit.rule.origin == "table" else hit.id] = None  # type: ignore[index]
    return list(used)


def productions(ctx: Context, info: Info) -> set[str]:
    """Levels a rule can set, given the conjunctions that can hold."""
    action = priority_of(info.rule)
    if action is None:
        return set()
    _, value = action
    if isinstance(value, str):
        return {value}
    out: set[str] = set()
    levels = ctx.p.levels
    for conj in info.live:
        if "fact" in value:  # type: ignore[operator]
            out.update(v for v in ctx.allowed(value["fact"], conj, info.stage)  # type: ignore[index]
                       if v is not None)
        else:
            for lv in ctx.allowed("priority", conj, info.stage):
                if lv is not None:
                    out.add(shift_level(levels, lv, value))  # type: ignore[arg-type]
    return out


def reachability(ctx: Context) -> None:
    """Fixpoint: which rules can fire (`Info.live`, `Info.reached`), and which levels
    (`levels_upto`) and guarantees (`unguaranteed_upto`) each stage can see."""
    unguarantees = [any(k == "no_guarantee" for k, _ in actions_of(i.rule)) for i in ctx.infos]
    last = len(STAGES)
    changed = True
    while changed:
        changed = False
        for info, drops in zip(ctx.infos, unguarantees, strict=True):
            live = [c for c in info.conjs if info.truncated or ctx.sat(c, info.stage)]
            if len(live) != len(info.live):
                info.live, info.reached, changed = live, bool(live), True
            if not info.reached:
                continue
            made = productions(ctx, info)
            for s in range(info.stage, last):
                if not made <= ctx.levels_upto[s]:
                    ctx.levels_upto[s] |= made
                    changed = True
                if drops and not ctx.unguaranteed_upto[s]:
                    ctx.unguaranteed_upto[s] = changed = True
