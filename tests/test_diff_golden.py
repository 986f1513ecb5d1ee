"""`ticket-policy diff` golden files: for each bundled policy, one hand-made NEW version per change
kind (a target, a matrix cell, a removed rule, a new exclusion, a calendar's hours), with the
expected static and semantic diff in tests/golden/diff/<policy>/<kind>.{txt,json}; and the
semantic part checked against brute force over the whole categorical space.

Each NEW version is the bundled policy with the explicit text edits of `EDITS` applied (each
must match exactly once). Regenerate the golden files after a deliberate change, then review
them by hand:

    TP_REGEN_GOLDEN=1 python -m pytest -q --runslow tests/test_diff_golden.py
    # or: python tests/test_diff_golden.py --regen
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.ops.diff import diff_policies, render  # noqa: E402
from engine.ops.diff.semantic import ANY, fact_space, signature, ticket_at  # noqa: E402
from engine.ops.diff.sources import load_side  # noqa: E402
from engine.run.errors import EvaluationError, TicketError  # noqa: E402
from engine.run.evaluator import Evaluator  # noqa: E402

RULES = ROOT / "rules"
GOLDEN = ROOT / "tests" / "golden" / "diff"
POLICIES = ("cloudtalk", "credenti", "csd-group", "zmanda")
KINDS = ("target", "cell", "removed-rule", "exclusion", "calendar-hours")


def _exclusion(rule_id: str, when: str, reason: str) -> tuple[str, str]:
    """Insert a no-guarantee rule at the end of `rules:` (before `metrics:`)."""
    return "\nmetrics:\n", (f"\n  - id: {rule_id}\n    when:\n      {when}\n    then:\n"
                            f"      no_guarantee: {reason}\n"
                            f"    because: Added by the diff golden test.\n\nmetrics:\n")


#: (policy, kind) -> (old text, new text) replacements, or ("drop", rule id).
#: cloudtalk and credenti have no decision table: their "cell" is a condition cell of a rule.
EDITS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("cloudtalk", "target"): [("targets: {P1: PT3H, P2: PT6H, P3: PT9H}",
                               "targets: {P1: PT2H, P2: PT6H, P3: PT9H}")],
    ("cloudtalk", "cell"): [("      priority: P1\n      environment: [staging, development]",
                             "      priority: P1\n      environment: [development]")],
    ("cloudtalk", "removed-rule"): [("drop", "p1-how-to-is-general")],
    ("cloudtalk", "exclusion"): [_exclusion(
        "feature-requests-not-guaranteed", "category: feature_request",
        "feature requests have no guaranteed response")],
    ("cloudtalk", "calendar-hours"): [('mon-fri: ["09:00-17:00"]', 'mon-fri: ["08:00-17:00"]')],

    ("credenti", "target"): [("    calendar: 24x7\n    targets:\n      S1: contract",
                              "    calendar: 24x7\n    targets:\n      S1: PT1H")],
    ("credenti", "cell"): [("category: [feature_request, question, how_to]",
                            "category: [feature_request, question]")],
    ("credenti", "removed-rule"): [("drop", "unreachable-s2-downgraded-to-s3")],
    ("credenti", "exclusion"): [_exclusion(
        "feature-requests-not-guaranteed", "category: feature_request",
        "feature requests have no guaranteed response")],
    ("credenti", "calendar-hours"): [('mon-fri: ["09:00-17:00"]', 'mon-fri: ["08:00-18:00"]')],

    ("csd-group", "target"): [("targets: {P1: PT30M, P2: PT1H, P3: PT4H, P4: PT8H}",
                               "targets: {P1: PT15M, P2: PT1H, P3: PT4H, P4: PT8H}")],
    ("csd-group", "cell"): [("- [defect, high, P2]", "- [defect, high, P1]")],
    ("csd-group", "removed-rule"): [("drop", "customer-requested-priority")],
    ("csd-group", "exclusion"): [_exclusion(
        "feature-requests-not-guaranteed", "category: feature_request",
        "feature requests have no guaranteed response")],
    ("csd-group", "calendar-hours"): [("preset: 24x7", "preset: 24x5")],

    ("zmanda", "target"): [("targets: {P1: PT1H, P2: PT3H, P3: PT8H, P4: PT24H}",
                            "targets: {P1: PT1H, P2: PT2H, P3: PT8H, P4: PT24H}")],
    ("zmanda", "cell"): [("- [high, medium, P2]", "- [high, medium, P1]")],
    ("zmanda", "removed-rule"): [("drop", "community-no-phone")],
    ("zmanda", "exclusion"): [_exclusion(
        "trial-low-urgency-best-effort", "{customer.segment: trial, urgency: low}",
        "low-urgency trial tickets are handled on a best-effort basis")],
    ("zmanda", "calendar-hours"): [('mon-fri: ["08:00-17:00"]', 'mon-fri: ["08:00-18:00"]')],
}
CASES = [(p, k) for p in POLICIES for k in KINDS]
#: the test parameters: zmanda's fact space is ~3,600 points (~3 s a diff), so its kinds run
#: where the slow tests do (CI, --runslow), as do credenti's and csd-group's (~0.5 s each); the
#: plain run keeps every kind of edit on cloudtalk and a matrix cell's on csd-group. The tests
#: of one case share an xdist worker, so they share its diff (`diffed`).
PLAIN = {*((p, k) for p, k in CASES if p == "cloudtalk"), ("csd-group", "cell")}
PARAMS = [pytest.param(p, k, marks=[pytest.mark.xdist_group(f"diff-golden-{p}-{k}")]
                       + ([] if (p, k) in PLAIN else [pytest.mark.slow]))
          for p, k in CASES]


def apply_edits(text: str, edits: list[tuple[str, str]]) -> str:
    """The policy text with each edit applied; each must match exactly once."""
    for old, new in edits:
        if old == "drop":
            pattern = re.compile(rf"(?ms)^  - id: {re.escape(new)}\n.*?(?=^  - id: |^\S)")
            found = pattern.findall(text)
            assert len(found) == 1, f"rule `{new}` found {len(found)} times"
            text = pattern.sub("", text)
            continue
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def edited(base: Path, policy: str, kind: str) -> Path:
    """A copy of bundled `policy` at base/<kind>/<policy> with the kind's edits applied."""
    folder = base / kind / policy
    shutil.copytree(RULES / policy, folder)
    path = folder / "policy.yaml"
    path.write_text(apply_edits(path.read_text("utf-8"), EDITS[policy, kind]), "utf-8")
    return folder


def reports(base: Path, policy: str, kind: str, d=None) -> dict[str, str]:
    """The text and JSON reports of bundled `policy` against its edited copy (or of its diff
    `d`, made under `base`), with the edited copy's temporary folder written `edited/`."""
    if d is None:
        d = diff_policies(policy, str(edited(base, policy, kind)))
    prefix = str(base) + os.sep
    return {fmt: render(d, fmt).replace(prefix, "edited/") for fmt in ("text", "json")}


@pytest.fixture(scope="module")
def diffed(tmp_path_factory):
    """diffed(policy, kind) -> (base, diff): each case's diff made once for this module's
    tests (the semantic part decides the whole fact space twice: ~3 s for zmanda)."""
    base = tmp_path_factory.mktemp("diff-golden")
    made: dict[tuple[str, str], object] = {}

    def get(policy: str, kind: str):
        if (policy, kind) not in made:
            made[policy, kind] = diff_policies(policy, str(edited(base, policy, kind)))
        return base, made[policy, kind]

    return get


def regenerate_all(base: Path) -> None:
    for policy, kind in CASES:
        (GOLDEN / policy).mkdir(parents=True, exist_ok=True)
        for fmt, report in reports(base, policy, kind).items():
            ext = "txt" if fmt == "text" else "json"
            (GOLDEN / policy / f"{kind}.{ext}").write_text(report, "utf-8")


@pytest.mark.parametrize("policy,kind", PARAMS)
def test_golden_static_and_semantic_diff(diffed, policy, kind):
    base, d = diffed(policy, kind)
    got = reports(base, policy, kind, d)
    if os.environ.get("TP_REGEN_GOLDEN"):
        (GOLDEN / policy).mkdir(parents=True, exist_ok=True)
        for fmt, report in got.items():
            (GOLDEN / policy / f"{kind}.{'txt' if fmt == 'text' else 'json'}").write_text(
                report, "utf-8")
        pytest.skip("golden file regenerated: review it by hand")
    for fmt, report in got.items():
        golden = GOLDEN / policy / f"{kind}.{'txt' if fmt == 'text' else 'json'}"
        assert golden.exists(), f"missing {golden}: TP_REGEN_GOLDEN=1 writes it"
        assert report == golden.read_text("utf-8"), f"{golden} differs (TP_REGEN_GOLDEN=1 " \
            "rewrites it; review the change by hand)"


@pytest.mark.parametrize("policy,kind", PARAMS)
def test_every_edit_is_reported_statically(diffed, policy, kind):
    _, d = diffed(policy, kind)
    expected = {"target": "plans", "cell": "cells" if policy in ("csd-group", "zmanda")
                else "rules", "removed-rule": "rules", "exclusion": "rules",
                "calendar-hours": "calendars"}[kind]
    assert {e.section for e in d.entries} == {expected}
    change = {"removed-rule": "removed", "exclusion": "added"}.get(kind, "changed")
    assert {e.change for e in d.entries} == {change}
    assert all(e.old_at or e.new_at for e in d.entries)
    # a calendar's hours move due times, never the decision at one instant
    assert (d.semantic.changed == 0) == (kind == "calendar-hours"), d.semantic


def _decide(evaluator: Evaluator, compiled, ticket: dict):
    try:
        return evaluator.evaluate(compiled, ticket)
    except (TicketError, EvaluationError):
        return None


@pytest.mark.slow
@pytest.mark.parametrize("policy,kind", PARAMS)
def test_semantic_regions_equal_brute_force(diffed, policy, kind):
    """Every point of the space decided under both versions (own loop, own evaluator): the
    changed points and their old → new values are exactly the reported regions."""
    base, d = diffed(policy, kind)
    folder = str(base / kind / policy)
    old, new = load_side(policy), load_side(folder)
    space, why = fact_space(old, new)
    assert why is None and d.semantic.skipped is None
    assert d.semantic.points == len(list(itertools.product(*space.values())))
    evaluator = Evaluator()
    brute: dict[tuple, tuple[dict, dict]] = {}
    by_priority: dict[tuple, int] = {}
    for values in itertools.product(*space.values()):
        ticket = ticket_at(dict(zip(space, values, strict=True)))
        a = signature(_decide(evaluator, old.compiled, ticket))
        b = signature(_decide(evaluator, new.compiled, ticket))
        if a != b:
            keys = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
            brute[values] = ({k: a.get(k) for k in keys}, {k: b.get(k) for k in keys})
            key = (str(a.get("priority")), str(b.get("priority")))
            by_priority[key] = by_priority.get(key, 0) + 1
    reported: dict[tuple, tuple[dict, dict]] = {}
    for r in d.semantic.regions:
        cells = [space[p] if v == ANY else v for p, v in r.facts]
        points = list(itertools.product(*cells))
        assert len(points) == r.count
        for p in points:
            assert p not in reported, f"regions overlap at {p}"
            reported[p] = (r.old, r.new)
    assert reported.keys() == brute.keys()
    assert reported == brute
    assert {(o, n): c for o, n, c in d.semantic.by_priority} == by_priority
    assert d.decisions_change == bool(brute)


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--regen"]:
        sys.exit("usage: python tests/test_diff_golden.py --regen")
    with tempfile.TemporaryDirectory() as tmp:
        regenerate_all(Path(tmp))
