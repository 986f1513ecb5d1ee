"""Declarations nothing uses: calendars (`unused_calendar`), facts (`unused_fact`) and
sources (`unused_source`)."""

from __future__ import annotations

from engine.author.lint.actions import actions_of
from engine.author.lint.context import Context
from engine.core.diagnostics import escape_token
from engine.core.model import Target


def check_unused(ctx: Context) -> None:
    """Report declared calendars, facts and sources that no plan, rule, table or reading uses."""
    p = ctx.p
    used_calendars: set[str] = set()
    for plan in p.plans.values():
        if plan.calendar:
            used_calendars.add(plan.calendar)
        if isinstance(plan.targets, dict):
            used_calendars.update(t.calendar for t in plan.targets.values())
    used_facts: set[str] = set()
    cited: set[str] = set()
    for info in ctx.infos:
        rule = info.rule
        if rule.when is not None:
            used_facts.update(t.path for t in rule.when.tests())
        for _, value in actions_of(rule):
            if isinstance(value, Target) and value.calendar is not None:
                used_calendars.add(value.calendar)
            elif isinstance(value, dict) and "fact" in value:
                used_facts.add(value["fact"])
        if rule.source is not None:
            cited.add(rule.source.document)
    for raw in ctx.tables:
        used_facts.update(raw["inputs"])
        if raw.get("source"):
            cited.add(raw["source"]["document"])
    for plan in p.plans.values():
        if plan.source is not None:
            cited.add(plan.source.document)
    for reading in p.readings:
        if reading.get("source"):
            cited.add(reading["source"]["document"])
    for name in p.calendar_specs:
        if name not in used_calendars:
            ctx.add("unused_calendar", f"calendar `{name}` is declared but no plan or "
                    "target uses it", ctx.locate(f"/calendars/{escape_token(name)}", key=True),
                    None, "remove it, or name it in a plan's `calendar` or a target")
    for name in p.raw.get("facts") or {}:
        if name not in used_facts:
            ctx.add("unused_fact", f"fact `{name}` is declared but no condition, table or "
                    "action reads it", ctx.locate(f"/facts/{escape_token(name)}", key=True),
                    None, "remove the declaration, or use the fact in a rule")
    for k, src in enumerate(p.raw.get("sources") or []):
        if src["id"] not in cited:
            ctx.add("unused_source", f"source `{src['id']}` is listed but no rule, table, "
                    "plan or reading cites it", ctx.locate(f"/sources/{k}"), None,
                    "cite it in a `source`, or remove it")
