"""Lint stage: static analysis of a checked policy, beyond what validation reports.

`lint_policy(policy, doc=None)` returns diagnostics sorted by location (see docs/lint.md):

- tables: `table_incomplete`, `table_overlap`, `table_row_unreachable` (tables.py)
- rules: `rule_conflict` (conflicts.py), `rule_shadowed` (shadowing.py), `rule_unreachable`,
  `default_unreachable` (unreachable.py), `reclassify_cycle` (cycles.py)
- plans: `plan_missing_target`, `plan_no_targets` (plans.py)
- documentation: `missing_because`, `missing_source` (documentation.py)
- declarations: `unused_calendar`, `unused_fact`, `unused_source` (unused.py)

A rule may mark a finding reported at it as intended, `lint: {ignore: {CODE: "why"}}`:
`lint_report` returns it apart, as suppressed with its reason (suppress.py); `lint_policy`
returns the findings that remain.

Reasoning is over each rule's condition in disjunctive normal form (`core.logic.to_dnf`, plus
the tests its action implies). Facts are treated as independent; a fact with a finite domain
(`core.logic.domain`) is enumerated, and an open one (strings, numbers) is represented by the
literals the tests name plus one value none of them names, which is exact for the operators
conditions have. The derived facts are narrowed to what the rules can produce (reach.py): a
rule of stage S only sees the priorities set by rules of stage S or earlier, because later
stages suppress it. The analyses share one `Context` (context.py); questions about pairs of
rules go through the bitset indexes of index.py, so only rules that can overlap are compared.
"""

from __future__ import annotations

import json

from engine.author.lint.conflicts import check_conflicts
from engine.author.lint.context import CODES, Context
from engine.author.lint.cycles import check_cycles
from engine.author.lint.documentation import check_documentation
from engine.author.lint.plans import check_plans
from engine.author.lint.reach import assign_covers_all, reachability
from engine.author.lint.shadowing import check_shadowed
from engine.author.lint.suppress import (
    RULE_CODES,
    LintReport,
    Suppressed,
    lint_json,
    split_suppressed,
)
from engine.author.lint.tables import check_tables
from engine.author.lint.unreachable import check_unreachable
from engine.author.lint.unused import check_unused
from engine.core.diagnostics import Diagnostic
from engine.core.model import Policy
from engine.load import Document, load_yaml_file

__all__ = ["CODES", "RULE_CODES", "LintReport", "Suppressed", "lint_json", "lint_policy",
           "lint_report"]


def lint_policy(policy: Policy, doc: Document | None = None) -> list[Diagnostic]:
    """Every lint finding of a checked policy that no rule suppresses, sorted by location.

    `doc` (the loaded Document) gives exact positions for tables, facts and calendars; without
    it the file named by `policy.file` is re-read when it still holds the same policy.
    """
    return list(lint_report(policy, doc).findings)


def lint_report(policy: Policy, doc: Document | None = None) -> LintReport:
    """The findings of `lint_policy`, and those the rules they are reported at suppress."""
    doc = _document(policy, doc)
    return split_suppressed(policy, _findings(policy, doc), doc)


def _findings(policy: Policy, doc: Document | None) -> list[Diagnostic]:
    ctx = Context(policy, doc)
    ctx.always_assigns = assign_covers_all(ctx)
    reachability(ctx)
    check_tables(ctx)
    cycles = check_cycles(ctx)
    check_conflicts(ctx, cycles)
    check_shadowed(ctx)
    check_unreachable(ctx)
    check_plans(ctx)
    check_documentation(ctx)
    check_unused(ctx)
    return sorted(ctx.diags, key=Diagnostic.sort_key)


def _document(policy: Policy, doc: Document | None) -> Document | None:
    if doc is not None:
        return doc
    try:
        found, _ = load_yaml_file(policy.file)
    except Exception:  # a missing or changed file only costs precision
        return None
    if found is None:
        return None
    canonical = json.dumps(found.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return found if canonical == policy.canonical else None
