"""Effective dating and audit declarations: the checks of one policy file, and of the versions
one policy folder holds together.

A version is in force for tickets submitted in `[effective_from, effective_until)`; without
`effective_until` it runs until the next version starts. The versions of one folder must tile
time: no two in force at once (`version_overlap`), no hole between them (`version_gap`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.check.tickets import parse_timestamp
from engine.core.diagnostics import Diagnostic, Location, pointer_join
from engine.core.model import Policy, Rule, SetPriority
from engine.load import Document

#: Ticket fields every decision depends on besides the facts its rules read (times, zone,
#: plan, contract targets): never storable as hashes, since replay needs their values.
DECISION_FIELDS = frozenset({"id", "submitted_at", "first_response_at", "customer.timezone",
                             "plan", "contract.response_targets"})


def _starts(policy: Policy) -> datetime:
    """A dated version's `effective_from` (what the versions of a folder are sorted by)."""
    assert policy.effective_from is not None
    return policy.effective_from


def _instant(doc: Document, key: str, diags: list[Diagnostic]) -> datetime | None:
    raw = doc.data.get(key) if isinstance(doc.data, dict) else None
    if raw is None:
        return None
    try:
        return parse_timestamp(raw)
    except ValueError as exc:
        diags.append(Diagnostic(
            "bad_effective_date", f"`{key}`: {exc}", location=doc.locate(f"/{key}"),
            hint="an instant with its UTC offset, e.g. `2026-01-01T00:00:00+01:00` (a date "
                 "alone does not say whose midnight)"))
        return None


def rule_reads(rules: Sequence[Rule]) -> set[str]:
    """The ticket fact paths the rules' conditions and `{fact: X}` levels read."""
    paths = {t.path for r in rules if r.when is not None for t in r.when.tests()}
    for r in rules:
        for action in r.actions:
            if isinstance(action, SetPriority) and isinstance(action.level, dict) and \
                    "fact" in action.level:
                paths.add(action.level["fact"])
    return paths


def check_dating_and_audit(doc: Document, rules: Sequence[Rule]) -> tuple[dict, list[Diagnostic]]:
    """The `Policy` fields for effective dating and audit, and their problems."""
    diags: list[Diagnostic] = []
    data: dict = doc.data if isinstance(doc.data, dict) else {}
    start = _instant(doc, "effective_from", diags)
    end = _instant(doc, "effective_until", diags)
    if start is not None and end is not None and end <= start:
        diags.append(Diagnostic(
            "bad_effective_range", f"`effective_until` {data['effective_until']} is not after "
            f"`effective_from` {data['effective_from']}", location=doc.locate("/effective_until"),
            hint="a version is in force from `effective_from` up to, not including, "
                 "`effective_until`"))
    sensitive = tuple(data.get("sensitive") or ())
    read = rule_reads(rules) | DECISION_FIELDS
    for i, path in enumerate(sensitive):
        if path in read:
            diags.append(Diagnostic(
                "fact_sensitive", f"`{path}` is declared sensitive, but the decision depends on "
                "it", location=doc.locate(pointer_join("/sensitive", str(i))),
                hint="a decision's trace shows the facts it read and replay needs their values: "
                     "remove it from `sensitive`"))
    audit = tuple(data.get("audit_fields") or ())
    audit += tuple(p for p in sensitive if p not in audit)   # sensitive fields are stored too
    return {"effective_from": start, "effective_until": end,
            "effective_location": doc.locate("/effective_from") if start else None,
            "audit_fields": audit, "sensitive": sensitive}, diags


def _show(at: datetime | None) -> str:
    return at.isoformat() if at is not None else "the beginning"


def check_versions(policies: Sequence[Policy]) -> list[Diagnostic]:
    """Problems of the versions one folder holds together: one policy id, distinct versions,
    each dated, no overlap, no gap. A single version needs no dates."""
    if len(policies) < 2:
        return []
    diags: list[Diagnostic] = []

    def at(p: Policy) -> Location:
        return p.effective_location or Location(file=p.file)

    first = policies[0]
    seen: dict[str, Policy] = {}
    for p in policies:
        if p.id != first.id:
            diags.append(Diagnostic(
                "version_id_mismatch", f"`{p.file}` is policy `{p.id}`, but the folder's other "
                f"versions are `{first.id}`", location=Location(file=p.file),
                hint=f"every version in one folder has the same `id` (`{first.id}`)"))
        if p.version in seen:
            diags.append(Diagnostic(
                "version_duplicate", f"version `{p.version}` of `{p.id}` is written twice: "
                f"`{seen[p.version].file}` and `{p.file}`", location=Location(file=p.file),
                hint="give each file its own `version`"))
        seen.setdefault(p.version, p)
        if p.effective_from is None:
            diags.append(Diagnostic(
                "version_undated", f"version `{p.version}` of `{p.id}` has no `effective_from`, "
                f"but the folder holds {len(policies)} versions", location=Location(file=p.file),
                hint="add `effective_from: 2026-01-01T00:00:00+01:00` (the instant it comes "
                     "into force)"))
    dated = sorted((p for p in policies if p.effective_from is not None), key=_starts)
    for a, b in zip(dated, dated[1:], strict=False):
        end = a.effective_until
        assert b.effective_from is not None and a.effective_from is not None
        if a.effective_from == b.effective_from or (end is not None and end > b.effective_from):
            diags.append(Diagnostic(
                "version_overlap", f"versions `{a.version}` and `{b.version}` of `{a.id}` are both "
                f"in force from {b.effective_from.isoformat()}", location=at(b),
                hint=f"end `{a.version}` at {b.effective_from.isoformat()} (`effective_until`), "
                     "or start this version later"))
        elif end is not None and end < b.effective_from:
            diags.append(Diagnostic(
                "version_gap", f"no version of `{a.id}` is in force from {_show(end)} until "
                f"{b.effective_from.isoformat()} (between `{a.version}` and `{b.version}`)",
                location=at(b), hint=f"start `{b.version}` at {end.isoformat()}, or drop "
                "`effective_until` from the earlier version"))
    return diags
