"""Conflicts (`rule_conflict`): two rules of one stage, not in one group, that can fire on one
ticket and set different priorities, response targets or plans."""

from __future__ import annotations

import itertools

from engine.author.lint.context import Conj, Context, Info
from engine.author.lint.text import show_level, show_target
from engine.core.logic import dedupe, resolve_level, shift_level
from engine.core.model import Test


def check_conflicts(ctx: Context, cycles: list[frozenset[str]]) -> None:
    """Report conflicting pairs, except those already reported as one cycle."""
    rules = ctx.analysed()
    plan_pairs: set[tuple[str, str]] = set()
    for bi, b in enumerate(rules):
        for a in rules[:bi]:
            if a.stage != b.stage or (a.rule.group and a.rule.group == b.rule.group):
                continue
            if any({a.id, b.id} <= c for c in cycles):
                continue
            plan = next((r for r in (a, b) if r.rule.origin == "plan"), None)
            other = b if plan is a else a
            if plan is not None:
                pid = plan.id.removeprefix("plans.").rpartition(".")[0]
                if (other.id, pid) in plan_pairs:
                    continue
            found = conflict(ctx, a, b)
            if not found:
                continue
            what, example = found
            if plan is not None:  # one finding per rule and plan, at the author's rule
                plan_pairs.add((other.id, pid))
                ctx.add("rule_conflict",
                        f"rule `{other.id}` and the targets of plan `{pid}` can both apply "
                        f"to one ticket (e.g. {example}) and set {what}; the plan's "
                        "target fires " + ("after" if plan is b else "before") +
                        " the rule's", other.rule.location, other.id,
                        f"exclude plan `{pid}` in the rule's condition "
                        "(`entitlement.plan: {ne: ...}`), or change the plan's targets")
                continue
            ctx.add("rule_conflict",
                    f"rules `{a.id}` and `{b.id}` can both fire on one ticket "
                    f"(e.g. {example}) and set {what}; the outcome depends on "
                    "firing order", b.rule.location, b.id,
                    "make the conditions exclusive, or put both rules in one `group` "
                    "so that only the first fires")


def conflict(ctx: Context, a: Info, b: Info) -> tuple[str, str] | None:
    """What `a` and `b` set differently on some ticket both match, and an example ticket."""
    stage = a.stage
    kinds_a = dict(a.rule.actions)
    kinds_b = dict(b.rule.actions)
    pa, pb = a.rule.priority_action, b.rule.priority_action
    for ca in a.live:
        for cb in b.live:
            joint = dedupe(ca + cb)
            if not ctx.sat(joint, stage):
                continue
            if pa and pb and not first_match_wins(ctx, a, b, joint):
                diff = priority_differs(ctx, pa[1], pb[1], joint, stage)
                if diff:
                    return f"different priorities ({diff[0]} vs {diff[1]})", diff[2]
            ta, tb = kinds_a.get("target"), kinds_b.get("target")
            if ta is not None and tb is not None and ta != tb:
                return (f"different response targets ({show_target(ta)} vs "
                        f"{show_target(tb)})", ctx.witness(joint, stage))
            ua, ub = kinds_a.get("use_plan"), kinds_b.get("use_plan")
            if ua is not None and ub is not None and ua != ub:
                return f"different plans (`{ua}` vs `{ub}`)", ctx.witness(joint, stage)
    return None


def first_match_wins(ctx: Context, a: Info, b: Info, joint: Conj) -> bool:
    """`a` is explicitly ordered before `b` (a higher `salience`) and, once it has set its
    level, `b`'s condition on `priority` no longer holds: the specific-before-general
    pattern (e.g. a `default` for some categories above a general `default`)."""
    if a.rule.salience == b.rule.salience:
        return False
    action = a.rule.priority_action
    assert action is not None
    value = action[1]
    stage = a.stage
    if isinstance(value, str):
        made = [value]
    elif "fact" in value:  # type: ignore[operator]
        made = [v for v in ctx.allowed(value["fact"], joint, stage) if v is not None]  # type: ignore[index]
    else:
        made = [shift_level(ctx.p.levels, lv, value)  # type: ignore[arg-type]
                for lv in ctx.allowed("priority", joint, stage) if lv is not None]
    return all(not all(t.holds(level) for t in cb if t.path == "priority")
               for level in made for cb in b.live)


def priority_differs(ctx: Context, va: object, vb: object, joint: Conj, stage: int
                     ) -> tuple[str, str, str] | None:
    """Two priority actions setting different levels on one ticket matching `joint`: both
    levels as shown, and an example."""
    needed: list[str] = []
    for v in (va, vb):
        if isinstance(v, dict):
            needed.append(v["fact"] if "fact" in v else "priority")
    names = list(dict.fromkeys(needed))
    spaces = [[x for x in ctx.allowed(n, joint, stage) if x is not None] for n in names]
    for combo in itertools.product(*spaces):
        env = dict(zip(names, combo, strict=True))
        la, lb = resolve_level(ctx.p.levels, va, env), resolve_level(ctx.p.levels, vb, env)
        if la != lb:
            fixed = [Test(n, "eq", x) for n, x in env.items()]
            example = ctx.witness([t for t in joint if t.path not in env] + fixed, stage)
            return show_level(va, la), show_level(vb, lb), example
    return None
