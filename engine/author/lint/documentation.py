"""Undocumented rules, tables and plans: no `because` (`missing_because`) or no `source`
(`missing_source`)."""

from __future__ import annotations

from engine.author.lint.context import Context
from engine.core.diagnostics import Location, escape_token


def check_documentation(ctx: Context) -> None:
    """Report every author's rule, table and plan without a `because` or a `source`."""
    for info in ctx.infos:
        rule = info.rule
        if rule.origin == "rule":
            _document(ctx, rule.id, rule.because, rule.source, rule.location, "rule")
    for index, raw in enumerate(ctx.tables):
        rows = ctx.table_rows(raw["id"])
        _document(ctx, raw["id"], raw.get("because"), raw.get("source"),
                  ctx.table_location(index, rows), "table")
    for pid, plan in ctx.p.plans.items():
        raw = (ctx.p.raw.get("plans") or {}).get(pid) or {}
        _document(ctx, f"plans.{pid}", raw.get("because"), plan.source,
                  ctx.locate(f"/plans/{escape_token(pid)}", key=True, fallback=plan.location),
                  "plan")


def _document(ctx: Context, rid: str, because: object, source: object, where: Location,
              kind: str) -> None:
    name = rid.removeprefix("plans.") if kind == "plan" else rid
    if not because:
        ctx.add("missing_because", f"{kind} `{name}` has no `because`", where, rid,
                "add `because:` — one sentence a reviewer can check against the source")
    if not source:
        ctx.add("missing_source", f"{kind} `{name}` cites no `source`", where, rid,
                "add `source: {document: ID, quote: \"...\"}` quoting the clause")
