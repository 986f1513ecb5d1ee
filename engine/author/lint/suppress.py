"""Findings an author marked as intended: a rule's `lint: {ignore: {CODE: "why"}}`.

A finding is suppressed when the rule it is reported at (its `rule`) ignores its code; it is
then not counted, and `lint --format json` lists it with its reason. Only the codes a finding
at an author's rule can carry may be ignored (`RULE_CODES`, the schema's `lintIgnore` keys).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.core.diagnostics import Diagnostic, Location, pointer_join
from engine.core.model import Policy
from engine.load import Document

#: The lint codes reported at an author's rule, which its `lint.ignore` may name.
RULE_CODES = ("rule_conflict", "rule_shadowed", "rule_unreachable", "default_unreachable",
              "reclassify_cycle", "missing_because", "missing_source")


@dataclass(frozen=True)
class Suppressed:
    """A finding the rule it is reported at marks as intended, the reason, and where."""

    diagnostic: Diagnostic
    reason: str
    at: Location          # the `lint.ignore` entry that suppresses it

    def to_json(self) -> dict:
        return {**self.diagnostic.to_json(), "suppressed": {
            "reason": self.reason, "line": self.at.line, "pointer": self.at.pointer}}


@dataclass(frozen=True)
class LintReport:
    """The findings of one lint run, and those suppressed by the rules they are reported at."""

    findings: tuple[Diagnostic, ...]
    suppressed: tuple[Suppressed, ...] = ()


def split_suppressed(policy: Policy, diags: Iterable[Diagnostic], doc: Document | None
                     ) -> LintReport:
    """Separate the findings whose rule ignores their code (order kept)."""
    ignores = {r.id: (r, dict(r.lint_ignore)) for r in policy.rules
               if r.origin == "rule" and r.lint_ignore}
    findings: list[Diagnostic] = []
    suppressed: list[Suppressed] = []
    for d in diags:
        rule, codes = ignores.get(d.rule or "", (None, {}))
        if rule is None or d.code not in codes:
            findings.append(d)
            continue
        pointer = pointer_join(rule.pointer, "lint", "ignore", d.code)
        at = doc.locate(pointer, key=True) if doc is not None else Location(
            file=policy.file, pointer=pointer)
        suppressed.append(Suppressed(d, codes[d.code], at))
    return LintReport(tuple(findings), tuple(suppressed))


def lint_json(diags: Iterable[Diagnostic], suppressed: Iterable[Suppressed]) -> list[dict]:
    """`lint --format json`: every finding (`suppressed`: null) and every suppressed one
    (`suppressed`: its reason, line and pointer), sorted by location."""
    entries = [(d.sort_key(), {**d.to_json(), "suppressed": None}) for d in diags]
    entries += [(s.diagnostic.sort_key(), s.to_json()) for s in suppressed]
    return [e for _, e in sorted(entries, key=lambda ke: ke[0])]
