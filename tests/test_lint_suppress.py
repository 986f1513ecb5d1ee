"""A rule marks a lint finding as intended: `lint: {ignore: {CODE: "why"}}` (issue 9).

The schema accepts it (a non-empty reason per code; an unknown code is a validation error with
"did you mean"), the model carries it, lint leaves the finding out of its count and lists it as
suppressed with the reason in `--format json` (a count in text).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.author.lint import CODES, RULE_CODES, lint_policy, lint_report
from engine.check.checks import policy_schema
from engine.check.files import check_file
from engine.load import load_yaml_file
from engine.load.policies import display_path

FIXTURES = Path(__file__).parent / "fixtures" / "lint"
CONFLICT = (FIXTURES / "rule_conflict.yaml").read_text("utf-8")
RULE = "  - id: how-to-is-p2\n"
REASON = "a how-to question filed from staging is P2: the how-to clause is the later one"


def write(tmp_path: Path, ignore: str, rule: str = RULE) -> Path:
    """The rule_conflict fixture with `lint:` written into rule `rule` (YAML flow text)."""
    assert rule in CONFLICT
    path = tmp_path / "policy.yaml"
    path.write_text(CONFLICT.replace(rule, f"{rule}    lint: {ignore}\n"), "utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                if needle in line)


def test_the_schema_names_exactly_the_codes_a_rule_can_be_reported_with():
    ignorable = policy_schema()["$defs"]["lintIgnore"]["properties"]
    assert sorted(ignorable) == sorted(RULE_CODES)
    assert set(RULE_CODES) <= set(CODES)


def test_every_finding_at_an_authors_rule_has_an_ignorable_code():
    """Over every lint fixture: what lint reports at a rule of `rules:`, a rule may ignore."""
    for path in FIXTURES.glob("*.yaml"):
        model, _ = check_file(path)
        assert model is not None
        authored = {r.id for r in model.rules if r.origin == "rule"}
        for d in lint_policy(model):
            if d.rule in authored:
                assert d.code in RULE_CODES, (path.name, d.code)


def test_the_model_carries_the_ignores(tmp_path: Path):
    model, diags = check_file(write(tmp_path, f'{{ignore: {{rule_conflict: "{REASON}"}}}}'))
    assert model is not None and diags == []
    rule = next(r for r in model.rules if r.id == "how-to-is-p2")
    assert rule.lint_ignore == (("rule_conflict", REASON),)
    assert next(r for r in model.rules if r.id == "chosen").lint_ignore == ()


def test_a_suppressed_finding_is_not_reported_but_listed_with_its_reason(tmp_path: Path):
    path = write(tmp_path, f'{{ignore: {{rule_conflict: "{REASON}"}}}}')
    model, _ = check_file(path)
    assert model is not None
    assert lint_policy(model) == []
    doc, _ = load_yaml_file(display_path(path))
    report = lint_report(model, doc)
    assert report.findings == ()
    [s] = report.suppressed
    assert (s.diagnostic.code, s.diagnostic.rule, s.reason) == (
        "rule_conflict", "how-to-is-p2", REASON)
    assert s.at.pointer == "/rules/3/lint/ignore/rule_conflict"
    assert s.at.line == line_of(path, "lint: {ignore:")


def test_only_the_named_code_at_the_named_rule_is_suppressed(tmp_path: Path):
    # the conflict is reported at `how-to-is-p2`: an ignore on another rule does not hide it,
    # nor an ignore of another code on the same rule
    for ignore, rule in [(f'{{ignore: {{rule_conflict: "{REASON}"}}}}', "  - id: chosen\n"),
                         ('{ignore: {rule_shadowed: "not this one"}}', RULE)]:
        model, _ = check_file(write(tmp_path, ignore, rule))
        assert model is not None
        assert [(d.code, d.rule) for d in lint_policy(model)] == [
            ("rule_conflict", "how-to-is-p2")]
        assert lint_report(model).suppressed == ()


@pytest.mark.parametrize(("ignore", "code", "needle"), [
    ('{ignore: {rule_conflcit: "why"}}', "schema_unknown_property",
     "did you mean `rule_conflict`?"),
    ('{ignore: {table_overlap: "why"}}', "schema_unknown_property", "rule_conflict"),
    ('{ignore: {rule_conflict: ""}}', "schema_pattern", "a reason"),
    ('{ignore: {rule_conflict: "   "}}', "schema_pattern", "a reason"),
    ('{ignore: {rule_conflict: 3}}', "schema_type", "a string"),
    ("{ignore: {}}", "schema_minProperties", ""),
    ('{ignroe: {rule_conflict: "why"}}', "schema_unknown_property", "did you mean `ignore`?"),
])
def test_bad_ignores_are_validation_errors(tmp_path: Path, ignore: str, code: str, needle: str):
    path = write(tmp_path, ignore)
    model, diags = check_file(path)
    assert model is None and diags
    assert all(d.severity == "error" and d.location.line == line_of(path, "lint: {")
               for d in diags), [d.render() for d in diags]
    d = diags[0]  # (a misspelt `ignore` is also reported as missing)
    assert d.code == code and needle in d.render(), d.render()


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_lint_json_lists_the_suppressed_finding_and_exits_0(tmp_path: Path):
    path = write(tmp_path, f'{{ignore: {{rule_conflict: "{REASON}"}}}}')
    result = run("lint", "--format", "json", str(path))
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)
    assert (entry["code"], entry["rule"]) == ("rule_conflict", "how-to-is-p2")
    assert entry["suppressed"] == {"reason": REASON, "line": line_of(path, "lint: {ignore:"),
                                   "pointer": "/rules/3/lint/ignore/rule_conflict"}


def test_lint_json_marks_unsuppressed_findings_with_null():
    result = run("lint", "--format", "json", str(FIXTURES / "rule_conflict.yaml"))
    assert result.exit_code == 1
    [entry] = json.loads(result.stdout)
    assert entry["code"] == "rule_conflict" and entry["suppressed"] is None


def test_lint_text_counts_the_suppressed(tmp_path: Path):
    result = run("lint", str(write(tmp_path, f'{{ignore: {{rule_conflict: "{REASON}"}}}}')))
    assert result.exit_code == 0, result.output
    assert "1 file(s) linted, 0 finding(s), 1 suppressed" in result.output
    assert "rule_conflict" not in result.output


def test_validate_accepts_the_ignores(tmp_path: Path):
    result = run("validate", str(write(tmp_path, f'{{ignore: {{rule_conflict: "{REASON}"}}}}')))
    assert result.exit_code == 0, result.output
