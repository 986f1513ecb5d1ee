"""Rules that can never fire (`rule_unreachable`), and defaults the assign stage always
pre-empts (`default_unreachable`): one finding per rule, per table when no row can match."""

from __future__ import annotations

from engine.author.lint.context import DERIVED, Context, Info, by_path, row_number
from engine.author.lint.text import fmt, tick
from engine.core.model import STAGES


def check_unreachable(ctx: Context) -> None:
    """Report every rule, table row, table or plan target that reachability left dead."""
    dead = [i for i in ctx.infos if not i.reached]
    tables_done: set[str] = set()
    all_dead: dict[str, bool] = {}
    for info in dead:
        rule = info.rule
        if rule.origin == "table":
            tid = rule.group or ""
            rows = ctx.table_rows(tid)
            if tid not in all_dead:
                all_dead[tid] = all(not r.reached for r in rows)
            if all_dead[tid]:
                if tid not in tables_done:
                    tables_done.add(tid)
                    index = next(k for k, t in enumerate(ctx.tables) if t["id"] == tid)
                    code, why, hint = why_dead(ctx, info)
                    ctx.add(code, f"no row of table `{tid}` can ever match: {why}",
                            ctx.table_location(index, rows), tid, hint)
                continue
        code, why, hint = why_dead(ctx, info)
        if rule.origin == "plan":
            pid, _, level = rule.id.removeprefix("plans.").rpartition(".")
            what = f"the {level} target of plan `{pid}` never applies"
            hint = f"remove the target, or check the rules that should set {level}"
        elif rule.origin == "table":
            what = f"row {row_number(rule.id)} of table `{rule.group}` can never match"
        else:
            what = f"rule `{rule.id}` can never fire"
        ctx.add(code, f"{what}: {why}", rule.location, rule.id, hint)


def why_dead(ctx: Context, info: Info) -> tuple[str, str, str]:
    """The code, the reason and the hint for a rule that can never fire."""
    conjs = info.conjs
    if not any(ctx.sat(c, None) for c in conjs):
        reasons = []
        for c in conjs:
            for tests in by_path(c).values():
                if not ctx.sat(tests, None):
                    said = list(dict.fromkeys(t.describe() for t in tests))
                    reasons.append(f"`{said[0]}` can never hold" if len(said) == 1 else
                                   " and ".join(f"`{x}`" for x in said) +
                                   " cannot hold at once")
                    break
        shown = "; ".join(dict.fromkeys(reasons))
        return ("rule_unreachable", f"its conditions contradict each other: {shown}",
                "remove the contradictory test")
    needs = []
    only_absent = True
    for c in conjs:
        if not ctx.sat(c, None):
            continue
        for path, tests in by_path(c).items():
            if path in DERIVED and not ctx.sat(tests, info.stage):
                wanted = [v for v in ctx.values(path, tests, None)
                          if all(t.holds(v) for t in tests)]
                if path != "priority" or any(v is not None for v in wanted):
                    only_absent = False
                needs.append((path, wanted))
    always = ctx.always_assigns
    if needs and only_absent and always:
        return ("default_unreachable",
                "it needs the ticket to have no priority yet, but the assign stage always "
                f"sets one ({tick(always)} cover{'s' if len(always) == 1 else ''} every "
                "ticket)",
                "remove the default, or narrow the assign rules so some tickets reach it")
    parts = []
    stage = STAGES[info.stage]
    for path, wanted in dict((p, w) for p, w in needs).items():
        shown = " or ".join(fmt(v) for v in wanted)
        if path == "priority":
            parts.append(f"it needs `priority` {shown}, which no rule sets at or before "
                         f"stage `{stage}`")
        elif path == "entitlement.guaranteed":
            parts.append("it needs `entitlement.guaranteed` false, but no rule removes the "
                         f"guarantee at or before stage `{stage}`")
        else:
            parts.append(f"it needs `entitlement.plan` {shown}, which no ticket or rule "
                         "produces")
    return ("rule_unreachable", "; ".join(parts) or "no combination of facts satisfies it",
            "check the level or plan it tests, and the stage of the rules that set them")
