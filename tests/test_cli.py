"""The CLI through click's CliRunner and through a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import ROOT, schema_validator

from cli import main

EXAMPLE = str(ROOT / "examples" / "cloudtalk-staging-p1.json")


def run(*args, stdin=None):
    return CliRunner().invoke(main, list(args), input=stdin)


def test_evaluate_prints_decision_json():
    r = run("evaluate", "--policy", "cloudtalk", EXAMPLE)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    schema_validator("decision").validate(d)
    assert d["priority"] == "P3" and d["requested_priority"] == "P1"
    assert [a["type"] for a in d["actions"]] == ["assign", "reclassify"]
    assert d["sla"]["due_at"] == "2026-03-10T09:30:00+01:00"


def test_evaluate_reads_stdin_and_now():
    data = open(EXAMPLE).read()
    r = run("evaluate", "-p", "cloudtalk", "--now", "2026-03-09T09:00:00+01:00", "-", stdin=data)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["sla"]["remaining"] == "PT8H30M"


def test_explain_story_cites_rule_location_and_clause():
    r = run("explain", "-p", "cloudtalk", EXAMPLE)
    assert r.exit_code == 0, r.output
    line = next(x for x in r.stdout.splitlines() if x.startswith("2. "))
    assert line.startswith("2. reclassified P1 → P3 by p1-production-only (rules/cloudtalk/")
    assert 'environment is "staging"' in line
    assert "Deze status is alleen van toepassing op applicaties die in productie zijn" in line


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_explain_formats(fmt):
    r = run("explain", "-p", "cloudtalk", "--format", fmt, EXAMPLE)
    assert r.exit_code == 0, r.output
    if fmt == "json":
        assert json.loads(r.stdout)["story"][0].startswith("1. assigned P1")
    else:
        assert r.stdout.startswith("### Decision for ticket `CT-1042`")
        assert "| 2 | `p1-production-only` |" in r.stdout


def test_why_not_names_failing_condition_and_value():
    r = run("explain", "-p", "cloudtalk", "--why-not", "p1-how-to-is-general", EXAMPLE)
    assert r.exit_code == 0, r.output
    assert 'category is one of "how_to", "question", "feature_request"' in r.stdout
    assert 'but category is "outage"' in r.stdout


def test_why_not_unknown_rule():
    r = run("explain", "-p", "cloudtalk", "--why-not", "p1-production-onyl", EXAMPLE)
    assert r.exit_code == 2
    assert "did you mean `p1-production-only`?" in r.stderr


BAD_INPUTS = {
    "invalid json": ('{"id": "x",', "json_syntax"),
    "duplicate key": ('{"id": "a", "id": "b", "submitted_at": "2026-01-01T00:00:00Z"}',
                      "json_duplicate_key"),
    "nan": ('{"id": "a", "submitted_at": "2026-01-01T00:00:00Z", "n": NaN}', "json_non_finite"),
    "infinity": ('{"id": "a", "submitted_at": "2026-01-01T00:00:00Z", "n": Infinity}',
                 "json_non_finite"),
    "missing field": ('{"id": "a"}', "ticket_missing_field"),
    "wrong type": ('{"id": 3, "submitted_at": "2026-01-01T00:00:00Z"}', "ticket_type"),
    "unknown enum": ('{"id": "a", "submitted_at": "2026-01-01T00:00:00Z", "category": "bug"}',
                     "ticket_enum"),
    "no offset": ('{"id": "a", "submitted_at": "2026-01-01T00:00:00"}', "ticket_no_offset"),
    "impossible date": ('{"id": "a", "submitted_at": "2026-02-29T00:00:00Z"}',
                        "ticket_timestamp"),
    "unknown zone": ('{"id": "a", "submitted_at": "2026-01-01T00:00:00Z", '
                     '"customer": {"timezone": "Europe/Bratslava"}}', "ticket_unknown_timezone"),
    "unknown level": ('{"id": "a", "submitted_at": "2026-01-01T00:00:00Z", '
                      '"requested_priority": "P4"}', "ticket_unknown_level"),
    "unknown plan": ('{"id": "a", "submitted_at": "2026-01-01T00:00:00Z", "plan": "gold"}',
                     "ticket_unknown_plan"),
    "not an object": ('[1, 2]', "ticket_type"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_exit_2_problems_on_stderr_nothing_on_stdout(name):
    text, code = BAD_INPUTS[name]
    r = run("evaluate", "-p", "cloudtalk", "-", stdin=text)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert f"error[{code}]" in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("<stdin>:1:")


def test_every_problem_listed_with_line_and_column():
    text = ('{\n  "id": 5,\n  "submitted_at": "2026-01-01T00:00:00",\n'
            '  "environment": "prod",\n  "customer": {"reachable": "no"}\n}')
    r = run("evaluate", "-p", "cloudtalk", "-", stdin=text)
    assert r.exit_code == 2 and r.stdout == ""
    errors = [x for x in r.stderr.splitlines() if "error[" in x]
    assert [e.split(": ")[0] for e in errors] == ["<stdin>:2:9", "<stdin>:3:19", "<stdin>:4:18",
                                                  "<stdin>:5:29"]
    assert "hint: did you mean `production`?" in r.stderr


def test_unknown_policy_and_unreadable_ticket():
    r = run("evaluate", "-p", "cloudtlak", EXAMPLE)
    assert r.exit_code == 2 and r.stdout == ""
    assert "did you mean `cloudtalk`?" in r.stderr
    r = run("evaluate", "-p", "cloudtalk", "/nonexistent/ticket.json")
    assert r.exit_code == 2 and "error[file_unreadable]" in r.stderr


def test_bad_now_is_an_input_error():
    r = run("evaluate", "-p", "cloudtalk", "--now", "2026-01-01T00:00", EXAMPLE)
    assert r.exit_code == 2 and "--now" in r.stderr and r.stdout == ""


def test_policies_lists_bundled_with_digest():
    r = run("policies", "--format", "json")
    assert r.exit_code == 0
    rows = {p["id"]: p for p in json.loads(r.stdout)}
    assert "cloudtalk" in rows and rows["cloudtalk"]["digest"].startswith("sha256:")


def test_validate_exit_codes(tmp_path):
    assert run("validate", str(ROOT / "rules" / "cloudtalk" / "policy.yaml")).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntitle: t\nversion: 1\nsources: []\nlevels: [P1]\nrules: []\non: 1\n")
    r = run("validate", str(bad))
    assert r.exit_code == 1
    assert ":7:1: error[yaml_ambiguous_bool]" in r.stderr
    assert run("validate", str(tmp_path / "missing.yaml")).exit_code == 2


def test_real_subprocess_round_trip():
    ok = subprocess.run([sys.executable, str(ROOT / "cli.py"), "evaluate", "-p", "cloudtalk",
                         EXAMPLE], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["priority"] == "P3"
    bad = subprocess.run([sys.executable, str(ROOT / "cli.py"), "evaluate", "-p", "cloudtalk",
                          "-"], input='{"id": "x", "submitted_at": "2026-01-01T00:00:00"}',
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "ticket_no_offset" in bad.stderr and "Traceback" not in bad.stderr


def test_validate_and_lint_take_folders_and_report_every_path(tmp_path):
    r = run("validate", str(ROOT / "rules"), str(tmp_path / "missing.yaml"))
    assert r.exit_code == 2
    assert "error[unknown_policy]" in r.stderr and "4 file(s) checked" in r.stderr
    r = run("lint", str(ROOT / "rules"))
    assert r.exit_code == 0 and "4 file(s) linted, 0 finding(s)" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("validate", str(empty)).exit_code == 2


def test_validate_reports_compile_stage_problems(tmp_path):
    from conftest import BASE

    anys = "\n".join("        - any: [{impact: high}, {urgency: high}, {category: outage}]"
                     for _ in range(5))
    bad = tmp_path / "dnf.yaml"
    bad.write_text(BASE + f"rules:\n  - id: huge\n    when:\n      all:\n{anys}\n"
                   "    then: {assign: P1}\n", "utf-8")
    r = run("validate", str(bad))
    assert r.exit_code == 1 and "error[condition_too_complex]" in r.stderr


def test_why_not_uses_the_values_of_the_rules_stage():
    r = run("explain", "-p", "credenti", "--why-not", "s1-customer-stays-reachable",
            str(ROOT / "examples" / "credenti-unreachable-s1.json"))
    assert r.exit_code == 0, r.output
    assert ('needs priority is "S1", but priority was "S2" (step 2 by '
            '`unreachable-s1-downgraded-to-s2`) when its stage `entitle` ran') in r.stdout


def test_why_not_accepts_a_group():
    r = run("explain", "-p", "credenti", "--why-not", "unreachable-downgrade",
            str(ROOT / "examples" / "credenti-unreachable-s1.json"))
    assert r.exit_code == 0, r.output
    assert "`unreachable-s1-downgraded-to-s2` fired at step 2" in r.stdout
    assert "`unreachable-s2-downgraded-to-s3` matched but did not fire" in r.stdout


def test_explanations_carry_the_policy_notes():
    example = str(ROOT / "examples" / "csd-group-unclassified.json")
    for fmt in ("text", "markdown"):
        r = run("explain", "-p", "csd-group", "--format", fmt, example)
        assert r.exit_code == 0 and "not the time to resolve" in r.stdout.replace("\n", " ")


def test_bad_now_is_reported_with_the_tickets_problems():
    r = run("evaluate", "-p", "cloudtalk", "--now", "yesterday", "-",
            stdin='{"id": 5, "submitted_at": "2026-01-01T00:00:00Z"}')
    assert r.exit_code == 2 and r.stdout == ""
    assert "error[bad_now]" in r.stderr and "<stdin>:1:8: error[ticket_type]" in r.stderr
