"""Plans without response targets (`plan_no_targets`) or without one for a level tickets can
reach (`plan_missing_target`), unless an author's rule supplies it for every such ticket."""

from __future__ import annotations

from engine.author.lint.actions import actions_of
from engine.author.lint.context import Context
from engine.author.lint.text import tick
from engine.core.diagnostics import escape_token
from engine.core.model import STAGES


def check_plans(ctx: Context) -> None:
    """Report each guaranteed plan whose targets leave some reachable level without an SLA."""
    for pid, plan in ctx.p.plans.items():
        if not plan.guarantee or plan.targets == "contract":
            continue
        where = ctx.locate(f"/plans/{escape_token(pid)}", key=True, fallback=plan.location)
        if not plan.targets:
            if rules_target(ctx, pid, None):
                continue
            ctx.add("plan_no_targets", f"plan `{pid}` has no response targets and does "
                    "not say `guarantee: false`", where, f"plans.{pid}",
                    "add `targets` per level, `targets: contract`, or `guarantee: false`")
            continue
        reachable = ctx.levels_upto[STAGES.index("target")]
        missing = [lv for lv in ctx.p.levels if lv not in plan.targets and lv in reachable
                   and not rules_target(ctx, pid, lv)
                   and not rules_target(ctx, pid, lv, "no_guarantee")]
        if missing:
            where = ctx.locate(f"/plans/{escape_token(pid)}/targets", key=True,
                               fallback=plan.location)
            ctx.add("plan_missing_target",
                    f"plan `{pid}` sets no response target for {tick(missing)}: "
                    f"tickets at {'that level' if len(missing) == 1 else 'those levels'} "
                    "get no SLA", where, f"plans.{pid}",
                    f"add {', '.join(f'{lv}: PT…' for lv in missing)} to its targets")


def rules_target(ctx: Context, pid: str, level: str | None, action: str = "target") -> bool:
    """Does an author's rule set a target (or `action`) for *every* ticket on this plan
    (at this level)? A rule that needs any other fact (e.g. beta products only) covers
    only some tickets, so it does not excuse a missing target."""
    given = {"entitlement.plan": pid, "entitlement.guaranteed": True}
    for info in ctx.analysed():
        if info.rule.origin != "rule" or not any(k == action for k, _ in actions_of(info.rule)):
            continue
        for conj in info.live:
            if any(t.path not in (*given, "priority") for t in conj):
                continue  # depends on a ticket fact: covers only some tickets
            if all(t.holds(given[t.path]) for t in conj if t.path in given) and (
                    all(t.holds(level) for t in conj if t.path == "priority")
                    if level is not None else not any(t.path == "priority" for t in conj)):
                return True
    return False
