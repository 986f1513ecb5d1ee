"""Tests for engine.lint: one faulty fixture per code, a clean policy, the bundled policies, CLI."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.author.lint import CODES, lint_policy
from engine.check.files import check_file
from engine.core.diagnostics import Diagnostic
from engine.load import load_yaml_file
from engine.load.policies import display_path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "lint"
BUNDLED = sorted(ROOT.glob("rules/*/policy.yaml"))

# fixture -> [(code, severity, text of the line reported, rule id)]
EXPECTED: dict[str, list[tuple[str, str, str, str | None]]] = {
    "table_incomplete": [
        ("table_incomplete", "warning", "- id: impact-urgency", "impact-urgency")],
    "table_overlap": [
        ("table_overlap", "error", '- [high, "*", P2]', "impact-urgency[2]")],
    "table_row_unreachable": [
        ("table_row_unreachable", "warning", "- [high, [high, low], P2]", "impact-urgency[3]")],
    "rule_conflict": [("rule_conflict", "warning", "- id: how-to-is-p2", "how-to-is-p2")],
    "rule_shadowed": [("rule_shadowed", "warning", "- id: staging-how-to", "staging-how-to")],
    "rule_unreachable": [
        ("rule_unreachable", "warning", "- id: prod-and-staging", "prod-and-staging"),
        ("rule_unreachable", "warning", "- id: p4-upgrade", "p4-upgrade"),
        ("rule_unreachable", "warning", "- id: unguaranteed-note", "unguaranteed-note")],
    "default_unreachable": [("default_unreachable", "warning", "- id: fallback", "fallback")],
    "reclassify_cycle": [
        ("reclassify_cycle", "error", "- id: staging-p2-down", "staging-p2-down")],
    "plan_missing_target": [
        ("plan_missing_target", "warning", "targets: {P1: PT1H, P2: PT4H}", "plans.standard")],
    "plan_no_targets": [("plan_no_targets", "warning", "  community:", "plans.community")],
    "missing_because": [("missing_because", "warning", "- id: fallback", "fallback")],
    "missing_source": [("missing_source", "warning", "  standard:", "plans.standard")],
    "unused_calendar": [("unused_calendar", "info", "  office:", None)],
    "unused_fact": [("unused_fact", "info", "  seats:", None)],
    "unused_source": [("unused_source", "info", "- id: old-terms", None)],
}


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if line.rstrip().endswith(needle):
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def lint_file(path: Path) -> list[Diagnostic]:
    model, diags = check_file(path)
    assert model is not None, "\n".join(d.render() for d in diags)
    assert not [d for d in diags if d.severity == "error"], diags
    return lint_policy(model)


def lint_text(tmp_path: Path, *parts: str, name: str = "policy.yaml") -> list[Diagnostic]:
    """Lint a policy written as YAML parts, each dedented on its own and joined."""
    path = tmp_path / name
    path.write_text("\n".join(textwrap.dedent(p).strip("\n") for p in parts) + "\n", "utf-8")
    return lint_file(path)


def codes(diags: list[Diagnostic]) -> list[str]:
    return [d.code for d in diags]


# ---- one fixture per code ---------------------------------------------------------------

def test_every_code_has_a_fixture():
    assert set(CODES) == {c for spec in EXPECTED.values() for c, *_ in spec}
    assert {p.stem for p in FIXTURES.glob("*.yaml")} == set(EXPECTED) | {"clean"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str):
    path = FIXTURES / f"{name}.yaml"
    diags = lint_file(path)
    got = [(d.code, d.severity, d.location.line, d.rule) for d in diags]
    want = [(code, sev, line_of(path, needle), rule) for code, sev, needle, rule in EXPECTED[name]]
    assert got == want, "\n".join(d.render() for d in diags)
    for d in diags:
        assert d.severity == CODES[d.code]
        assert d.location.file == display_path(path)
        assert d.location.column is not None
        assert d.hint
        assert d.message and not d.message.endswith(".")


def test_clean_policy_has_no_findings():
    assert lint_file(FIXTURES / "clean.yaml") == []


@pytest.mark.parametrize("path", BUNDLED, ids=[p.parent.name for p in BUNDLED])
def test_bundled_policy_lints_clean(path: Path):
    diags = lint_file(path)
    assert diags == [], "\n".join(d.render() for d in diags)


def test_diagnostics_sorted_by_location():
    for path in FIXTURES.glob("*.yaml"):
        diags = lint_file(path)
        assert diags == sorted(diags, key=Diagnostic.sort_key)


# ---- messages ---------------------------------------------------------------------------

def test_table_incomplete_names_the_gaps_and_absence():
    [d] = lint_file(FIXTURES / "table_incomplete.yaml")
    assert "2 of 9" in d.message
    assert "impact=low, urgency=high" in d.message
    assert "impact=low, urgency=medium" in d.message
    assert "without `impact` or `urgency` match no row" in d.message


def test_table_incomplete_caps_the_list(tmp_path: Path):
    diags = lint_text(tmp_path, POLICY_HEAD, """
        tables:
          - id: only-high
            inputs: [impact, urgency, category]
            rows:
              - [high, high, "*", P1]
              - ["*", "*", "*", P1]
            hit: first
            because: b
            source: {document: terms, quote: q}
          - id: sparse
            inputs: [impact, urgency]
            rows:
              - [high, high, P1]
            because: b
            source: {document: terms, quote: q}
        rules:
          - id: fallback
            then: {default: P3}
            because: b
            source: {document: terms, quote: q}
        """)
    [d] = [d for d in diags if d.code == "table_incomplete"]
    assert d.rule == "sparse"
    assert "8 of 9" in d.message and "and 3 more" in d.message


def test_table_shared_when_limits_the_combinations(tmp_path: Path):
    diags = lint_text(tmp_path, POLICY_HEAD, """
        tables:
          - id: severe
            when: {impact: [high, medium]}
            inputs: [impact, urgency]
            rows:
              - [high, "*", P1]
              - [medium, "*", P2]
            because: b
            source: {document: terms, quote: q}
        rules:
          - id: fallback
            then: {default: P3}
            because: b
            source: {document: terms, quote: q}
        """)
    assert diags == []


def test_first_hit_overlap_is_not_reported(tmp_path: Path):
    diags = lint_text(tmp_path, POLICY_HEAD, """
        tables:
          - id: catch-all
            hit: first
            inputs: [impact]
            rows:
              - [high, P1]
              - [medium, P2]
              - ["*", P3]
            because: b
            source: {document: terms, quote: q}
        rules: []
        """)
    assert diags == []


def test_priority_chained_rules_do_not_conflict(tmp_path: Path):
    diags = lint_text(tmp_path, POLICY_HEAD, CHOSEN, """
          - id: p1-staging
            when: {priority: P1, environment: staging}
            then: {reclassify: P2}
            because: b
            source: {document: terms, quote: q}
          - id: p2-staging
            when: {priority: P2, environment: staging}
            then: {reclassify: P3}
            because: b
            source: {document: terms, quote: q}
        """)
    assert diags == []


@pytest.mark.parametrize(("salience", "conflict"), [(10, False), (0, True)])
def test_specific_default_above_general_default(tmp_path: Path, salience: int, conflict: bool):
    diags = lint_text(tmp_path, POLICY_HEAD, CHOSEN.replace("fallback", "general"), f"""
        - id: questions
          salience: {salience}
          when: {{category: [how_to, question]}}
          then: {{default: P2}}
          because: b
          source: {{document: terms, quote: q}}
        - id: outage
          when: {{category: outage}}
          then: {{reclassify: P1}}
          because: b
          source: {{document: terms, quote: q}}
        """)
    # with a higher salience the specific default fires first and turns the general one off
    assert [(d.code, d.rule) for d in diags] == ([("rule_conflict", "questions")] if conflict
                                                 else [])


def test_rules_in_one_group_do_not_conflict(tmp_path: Path):
    diags = lint_text(tmp_path, POLICY_HEAD, CHOSEN, """
          - id: staging
            group: g
            when: {priority: P1, environment: staging}
            then: {reclassify: P3}
            because: b
            source: {document: terms, quote: q}
          - id: how-to
            group: g
            when: {priority: P1, category: how_to}
            then: {reclassify: P2}
            because: b
            source: {document: terms, quote: q}
        """)
    assert diags == []


PLANS_AND_TARGETS = """
  - id: trial
    when: {customer.segment: trial}
    then: {use_plan: standard}
    because: b
    source: {document: terms, quote: q}
  - id: phone
    when: {channel: phone}
    then: {use_plan: other}
    because: b
    source: {document: terms, quote: q}
  - id: fast
    %s
    when: {impact: high}
    then: {target: {within: PT15M, calendar: always}}
    because: b
    source: {document: terms, quote: q}
"""


def test_conflicting_plans_and_targets(tmp_path: Path):
    diags = lint_text(tmp_path, POLICY_HEAD, CHOSEN, PLANS_AND_TARGETS % "salience: 5",
                      name="p.yaml")
    found = [(d.code, d.rule) for d in diags]
    assert ("rule_conflict", "phone") in found
    assert ("rule_conflict", "fast") in found   # against plan `standard`'s targets, once
    assert len([d for d in diags if d.rule == "fast"]) == 2   # once per plan
    plan_msg = next(d.message for d in diags if d.rule == "fast")
    assert "targets of plan" in plan_msg and "replaces it" in plan_msg
    assert "`salience: 5`" in plan_msg


def test_a_rules_target_refining_the_plans_default_is_no_conflict(tmp_path: Path):
    """Issue 9: the documented pattern (docs/policy-format.md, Stages) — a rule's target fires
    after the plan's and refines it for the tickets the rule matches — is not reported."""
    diags = lint_text(tmp_path, POLICY_HEAD, CHOSEN, PLANS_AND_TARGETS % "stage: target",
                      name="p.yaml")
    assert [(d.code, d.rule) for d in diags] == [("rule_conflict", "phone")]


def test_cycle_with_steps_and_fact_levels(tmp_path: Path):
    diags = lint_text(tmp_path, POLICY_HEAD, CHOSEN, """
          - id: down
            when: {environment: staging}
            then: {reclassify: {down: 1}}
            because: b
            source: {document: terms, quote: q}
          - id: up
            repeat: true
            when: {category: outage, priority: [P2, P3]}
            then: {reclassify: {up: 1}}
            because: b
            source: {document: terms, quote: q}
        """)
    [d] = diags
    assert (d.code, d.severity, d.rule) == ("reclassify_cycle", "error", "down")
    assert "`down`" in d.message and "`up`" in d.message


def test_cycle_within_one_group_is_not_reported(tmp_path: Path):
    diags = lint_text(tmp_path, POLICY_HEAD, CHOSEN, """
          - id: a
            group: g
            when: {priority: P2, environment: staging}
            then: {reclassify: P3}
            because: b
            source: {document: terms, quote: q}
          - id: b
            group: g
            when: {priority: P3, environment: staging}
            then: {reclassify: P2}
            because: b
            source: {document: terms, quote: q}
        """)
    assert "reclassify_cycle" not in codes(diags)


def test_three_rule_cycle_reported_once(tmp_path: Path):
    diags = lint_text(tmp_path, POLICY_HEAD, CHOSEN, """
          - id: one
            when: {priority: P1, environment: staging}
            then: {reclassify: P2}
            because: b
            source: {document: terms, quote: q}
          - id: two
            when: {priority: P2, environment: staging}
            then: {reclassify: P3}
            because: b
            source: {document: terms, quote: q}
          - id: three
            when: {priority: P3, category: outage}
            then: {reclassify: P1}
            because: b
            source: {document: terms, quote: q}
        """)
    cycles = [d for d in diags if d.code == "reclassify_cycle"]
    assert len(cycles) == 1 and cycles[0].rule == "one"
    assert all(f"`{r}`" in cycles[0].message for r in ("one", "two", "three"))


def test_numeric_contradiction_and_defaulted_fact(tmp_path: Path):
    facts = """
        facts:
          seats: {type: integer}
          tier: {type: string, enum: [gold, silver], default: silver}
        """
    diags = lint_text(tmp_path, POLICY_HEAD, facts, CHOSEN, """
          - id: seats
            when: {seats: {gt: 10}, all: [{seats: {lt: 11}}]}
            then: {note: x}
            because: b
            source: {document: terms, quote: q}
          - id: tier
            when: {tier: {present: false}}
            then: {note: other}
            because: b
            source: {document: terms, quote: q}
        """)
    assert [(d.code, d.rule) for d in diags] == [("rule_unreachable", "seats"),
                                                 ("rule_unreachable", "tier")]


def test_missing_target_excused_by_no_guarantee(tmp_path: Path):
    head = POLICY_HEAD.replace("targets: {P1: PT1H, P2: PT4H, P3: PT8H}",
                               "targets: {P1: PT1H, P2: PT4H}")
    diags = lint_text(tmp_path, head, CHOSEN, """
          - id: p3-best-effort
            when: {priority: P3}
            then: {no_guarantee: P3 is best effort}
            because: b
            source: {document: terms, quote: q}
        """)
    assert diags == []


def test_table_undocumented(tmp_path: Path):
    diags = lint_text(tmp_path, POLICY_HEAD, """
        tables:
          - id: t
            hit: first
            inputs: [impact]
            rows:
              - [high, P1]
              - [medium, P2]
              - ["*", P3]
        rules: []
        """)
    line = line_of(tmp_path / "policy.yaml", "- id: t")
    assert [(d.code, d.rule, d.location.line) for d in diags] == [
        ("missing_because", "t", line), ("missing_source", "t", line)]


# ---- locations without the Document -----------------------------------------------------

def test_lint_with_document_matches_fallback():
    for path in FIXTURES.glob("*.yaml"):
        model, _ = check_file(path)
        doc, _ = load_yaml_file(display_path(path))
        assert lint_policy(model, doc) == lint_policy(model)


def test_lint_when_the_file_is_gone(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    shutil.copy(FIXTURES / "rule_conflict.yaml", path)
    model, _ = check_file(path)
    path.unlink()
    [d] = lint_policy(model)
    assert (d.code, d.rule) == ("rule_conflict", "how-to-is-p2")
    assert d.location.line == line_of(FIXTURES / "rule_conflict.yaml", "- id: how-to-is-p2")


# ---- CLI --------------------------------------------------------------------------------

def run_cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_lint_clean_exits_0():
    result = run_cli("lint", str(FIXTURES / "clean.yaml"))
    assert result.exit_code == 0, result.output
    assert "1 file(s) linted, 0 finding(s)" in result.output


def test_cli_lint_findings_text_exits_1():
    path = FIXTURES / "rule_conflict.yaml"
    result = run_cli("lint", str(path))
    assert result.exit_code == 1
    line = line_of(path, "- id: how-to-is-p2")
    assert f":{line}:5: warning[rule_conflict]: rules `staging-is-p3` and `how-to-is-p2`" \
        in result.output
    assert "hint: make the conditions exclusive" in result.output
    assert "1 file(s) linted, 1 finding(s)" in result.output


def test_cli_lint_json_exits_1():
    paths = [str(FIXTURES / "reclassify_cycle.yaml"), str(FIXTURES / "unused_fact.yaml")]
    result = run_cli("lint", "--format", "json", *paths)
    assert result.exit_code == 1
    out = json.loads(result.stdout)  # machine-readable output goes to stdout
    assert [(d["code"], d["severity"], d["rule"]) for d in out] == [
        ("reclassify_cycle", "error", "staging-p2-down"), ("unused_fact", "info", None)]
    assert out[0]["line"] == line_of(FIXTURES / "reclassify_cycle.yaml", "- id: staging-p2-down")
    assert all(d["hint"] for d in out)


def test_cli_lint_json_clean_exits_0():
    result = run_cli("lint", "--format", "json", str(FIXTURES / "clean.yaml"))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_cli_lint_invalid_policy_reports_validation(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    text = (FIXTURES / "clean.yaml").read_text("utf-8").replace(
        "environment: staging", "environment: stagin")
    path.write_text(text, "utf-8")
    result = run_cli("lint", str(path))
    assert result.exit_code == 1
    assert "error[unknown_value]" in result.output and "did you mean `staging`?" in result.output


@pytest.mark.parametrize("path", BUNDLED, ids=[p.parent.name for p in BUNDLED])
def test_cli_lint_bundled_by_id(path: Path):
    result = run_cli("lint", path.parent.name)
    assert result.exit_code == 0, result.output


# ---- shared policy text for the inline cases --------------------------------------------

POLICY_HEAD = """
    id: inline
    title: Inline lint case
    version: "1"
    sources:
      - id: terms
        title: Terms
    levels: [P1, P2, P3]
    calendars:
      always: 24x7
    plans:
      standard:
        channels: [portal]
        calendar: always
        targets: {P1: PT1H, P2: PT4H, P3: PT8H}
        because: b
        source: {document: terms, quote: q}
      other:
        channels: [phone]
        calendar: always
        targets: {P1: PT2H, P2: PT4H, P3: PT8H}
        because: b
        source: {document: terms, quote: q}
    default_plan: standard
"""

# Rule lists are written flush left (`- id:` under `rules:`), so later parts can add items.
CHOSEN = """
    rules:
    - id: chosen
      when: {requested_priority: {present: true}}
      then: {assign: {fact: requested_priority}}
      because: b
      source: {document: terms, quote: q}
    - id: fallback
      then: {default: P3}
      because: b
      source: {document: terms, quote: q}
"""


@pytest.mark.parametrize(("pid", "old", "new", "missing"), [
    ("cloudtalk", "targets: {P1: PT3H, P2: PT6H, P3: PT9H}", "targets: {P1: PT3H, P2: PT6H}", "P3"),
])
def test_conditional_rules_do_not_hide_a_missing_plan_target(tmp_path, pid, old, new, missing):
    """A beta-only `no_guarantee` covers some tickets, not the plan's whole level."""
    from engine.check.files import check_file

    source = (ROOT / "rules" / pid / "policy.yaml").read_text("utf-8")
    assert old in source
    path = tmp_path / "policy.yaml"
    path.write_text(source.replace(old, new), "utf-8")
    model, diags = check_file(path)
    assert model is not None and diags == []
    found = [d for d in lint_policy(model) if d.code == "plan_missing_target"]
    assert len(found) == 1 and f"`{missing}`" in found[0].message
