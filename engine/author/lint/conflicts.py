"""Conflicts (`rule_conflict`): two rules of one stage, not in one group, that can fire on one
ticket and set different priorities, response targets or plans.

A rule whose target fires after a plan's targets is the documented way to refine the plan's
default target for the tickets it matches (the later target wins): not a conflict. A rule
ordered before them (a higher `salience`) is, since the plan's target then replaces its own.

Only pairs that can disagree at all (different action values) and whose conditions can overlap
(an `OverlapIndex` over the rules' tested values) are examined, in the order a full pairwise
scan would take them, so the findings are the same."""

from __future__ import annotations

import itertools
import json

from engine.author.lint.actions import actions_of, priority_of
from engine.author.lint.context import Conj, Context, Info
from engine.author.lint.index import OverlapIndex, bits
from engine.author.lint.text import show_level, show_target
from engine.core.logic import dedupe, resolve_level, shift_level
from engine.core.model import Test


def check_conflicts(ctx: Context, cycles: list[frozenset[str]]) -> None:
    """Report conflicting pairs, except those already reported as one cycle."""
    rules = ctx.analysed()
    index = OverlapIndex(ctx.p, [r.live for r in rules])
    disagree = _Disagreement(rules)
    in_cycle: dict[str, set[int]] = {}
    for k, members in enumerate(cycles):
        for rid in members:
            in_cycle.setdefault(rid, set()).add(k)
    stages: dict[int, int] = {}
    groups: dict[str, int] = {}
    for k, r in enumerate(rules):
        stages[r.stage] = stages.get(r.stage, 0) | 1 << k
        if r.rule.group:
            groups[r.rule.group] = groups.get(r.rule.group, 0) | 1 << k
    plan_pairs: set[tuple[str, str]] = set()
    for bi, b in enumerate(rules):
        mask = ((1 << bi) - 1) & stages[b.stage] & disagree.differing(bi)
        if b.rule.group:
            mask &= ~groups[b.rule.group]
        if mask:
            mask &= index.query_any(b.live)
        for ai in bits(mask):
            a = rules[ai]
            if in_cycle.get(a.id, set()) & in_cycle.get(b.id, set()):
                continue
            plan = next((r for r in (a, b) if r.rule.origin == "plan"), None)
            other = b if plan is a else a
            if plan is a and other.rule.origin != "plan":
                continue  # the rule's target refines the plan's default: the rule's wins
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
                        "target fires after the rule's and replaces it (the rule's "
                        f"`salience: {other.rule.salience}` orders it first)",
                        other.rule.location, other.id,
                        "drop the rule's `salience`, so that its target refines the plan's, "
                        f"or exclude plan `{pid}` in its condition (`entitlement.plan: "
                        "{ne: ...}`)")
                continue
            ctx.add("rule_conflict",
                    f"rules `{a.id}` and `{b.id}` can both fire on one ticket "
                    f"(e.g. {example}) and set {what}; the outcome depends on "
                    "firing order", b.rule.location, b.id,
                    "make the conditions exclusive, or put both rules in one `group` "
                    "so that only the first fires")


def _key(value: object) -> tuple:
    """Equal keys only for equal action values."""
    try:
        hash(value)
        return ("h", value)
    except TypeError:
        return ("j", json.dumps(value, sort_keys=True, default=repr))


class _Disagreement:
    """For each rule, the rules whose actions set a different priority, target or plan."""

    def __init__(self, rules: list[Info]):
        self.kinds: list[tuple[object, object, object]] = []
        self.any = [0, 0, 0]
        self.same: list[dict[tuple, int]] = [{}, {}, {}]
        for k, r in enumerate(rules):
            kinds = dict(actions_of(r.rule))
            action = priority_of(r.rule)
            values = (action[1] if action else None, kinds.get("target"), kinds.get("use_plan"))
            self.kinds.append(values)
            for slot, value in enumerate(values):
                if value is not None:
                    self.any[slot] |= 1 << k
                    same = self.same[slot]
                    same[_key(value)] = same.get(_key(value), 0) | 1 << k

    def differing(self, k: int) -> int:
        """The rules that act differently from rule `k` on a priority, target or plan."""
        mask = 0
        for slot, value in enumerate(self.kinds[k]):
            if value is not None:
                mask |= self.any[slot] & ~self.same[slot][_key(value)]
        return mask


def conflict(ctx: Context, a: Info, b: Info) -> tuple[str, str] | None:
    """What `a` and `b` set differently on some ticket both match, and an example ticket."""
    stage = a.stage
    kinds_a = dict(actions_of(a.rule))
    kinds_b = dict(actions_of(b.rule))
    pa, pb = priority_of(a.rule), priority_of(b.rule)
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
    action = priority_of(a.rule)
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
