"""The policy test runner (engine/testing.py): discovery, matching, diff output, coverage, exit
codes, --min-coverage and invalid test files, on a small policy written per test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from engine.author import policytest as testing
from engine.author.policytest import collect, discover, matching, run_case, run_cli

MINI = """\
# yaml-language-server: $schema=../../schemas/policy.schema.json
id: mini
title: Mini
version: "1"
sources: [{id: doc, title: The document}]
levels: [P1, P2, P3]
calendars:
  office: {timezone: Europe/Berlin, hours: {mon-fri: ["09:00-17:00"]}}
plans:
  std:
    channels: [email, portal]
    calendar: office
    targets: {P1: PT1H, P2: PT4H, P3: PT24H}
default_plan: std
rules:
  - id: chosen
    when: {requested_priority: {present: true}}
    then: {assign: {fact: requested_priority}}
  - id: fallback
    then: {default: P3}
  - id: staging
    when: {priority: P1, environment: staging}
    then: {reclassify: P3}
"""

ALL_RULES = ["chosen", "fallback", "staging", "plans.std.P1", "plans.std.P2", "plans.std.P3"]

# Fri 16:30 with 1 business hour on Mon-Fri 09:00-17:00: 30 min on Friday, Monday 09:30.
GOOD = """\
# header
cases:
  - note: a chosen P1 is kept and due Monday 09:30
    ticket: {id: T-1, submitted_at: "2026-03-06T16:30:00+01:00", requested_priority: P1}
    expect:
      priority: P1
      actions: [{type: assign, from: null, to: P1}]
      sla: {target: PT1H, due_at: "2026-03-09T09:30:00+01:00"}
      channels: [portal, email]
      fired: [chosen, plans.std.P1]
      not_fired: [staging, fallback]
  - note: staging P1 becomes P3
    ticket: {id: T-2, submitted_at: "2026-03-02T09:00:00+01:00", requested_priority: P1,
             environment: staging}
    expect: {priority: P3, fired: [staging]}
"""


@pytest.fixture
def mini(tmp_path):
    """A policy folder `mini/` with `policy.yaml`; write(name, text) adds a test file."""
    folder = tmp_path / "mini"
    (folder / "tests").mkdir(parents=True)
    (folder / "policy.yaml").write_text(MINI, encoding="utf-8")

    def write(name: str, text: str) -> Path:
        path = folder / "tests" / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    write.folder = folder
    return write


def run(paths, min_coverage=None) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = run_cli([str(p) for p in paths], min_coverage, lines.append)
    return code, "\n".join(lines).splitlines()


def one_case(expect: str, ticket: str = "{id: T-1, submitted_at: \"2026-03-02T09:00:00+01:00\", "
             "requested_priority: P2}", now: str | None = None) -> str:
    text = "# header\ncases:\n  - note: the case under test\n"
    text += f"    ticket: {ticket}\n"
    if now:
        text += f"    now: \"{now}\"\n"
    text += "    expect:\n" + textwrap.indent(textwrap.dedent(expect).rstrip() + "\n", "      ")
    return text


# --------------------------------------------------------------------------- passing runs


def test_passing_run_prints_coverage_and_totals(mini):
    mini("good.yaml", GOOD)
    code, out = run([mini.folder])
    assert code == 0
    assert out[-1] == "2 passed, 0 failed"
    assert "coverage mini: 4/6 rules (66.6%)" in out
    assert "  not fired: fallback" in out and "  not fired: plans.std.P2" in out
    assert not any(line.startswith("FAIL") for line in out)


def test_full_coverage_is_100_percent(mini):
    mini("good.yaml", GOOD)
    mini("more.yaml", one_case("{priority: P2}") + "  - note: no level\n"
         "    ticket: {id: T-3, submitted_at: \"2026-03-02T09:00:00+01:00\"}\n"
         "    expect: {priority: P3}\n")
    code, out = run([mini.folder], min_coverage=100)
    assert code == 0
    assert "coverage mini: 6/6 rules (100%)" in out
    assert out[-1] == "4 passed, 0 failed"


def test_min_coverage_below_threshold_fails(mini):
    mini("good.yaml", GOOD)
    code, out = run([mini.folder], min_coverage=80)
    assert code == 1
    assert "coverage mini is below --min-coverage 80%" in out
    assert out[-1] == "2 passed, 0 failed"
    assert run([mini.folder], min_coverage=60)[0] == 0


def test_discovery_ignores_policy_files_and_dedupes(mini, tmp_path):
    path = mini("good.yaml", GOOD)
    assert [c.index for c in discover([tmp_path])] == [1, 2]
    assert len(discover([path, mini.folder, mini.folder / "tests"])) == 2


def test_case_ids_and_lines(mini):
    mini("good.yaml", GOOD)
    cases = discover([mini.folder])
    assert [c.line for c in cases] == [3, 12]
    assert cases[0].id.endswith("good.yaml#1") and cases[1].where.endswith("good.yaml:12")
    assert cases[0].note == "a chosen P1 is kept and due Monday 09:30"


def test_policy_key_names_a_bundled_id_or_a_relative_path(tmp_path, mini):
    loose = tmp_path / "elsewhere"
    loose.mkdir()
    (loose / "by_id.yaml").write_text(
        "policy: cloudtalk\ncases:\n  - note: default P3\n    ticket: {id: T, submitted_at: "
        "\"2026-03-02T09:00:00+01:00\"}\n    expect: {priority: P3}\n", encoding="utf-8")
    (loose / "by_path.yaml").write_text(
        "policy: ../mini/policy.yaml\ncases:\n  - note: default P3\n    ticket: {id: T, "
        "submitted_at: \"2026-03-02T09:00:00+01:00\"}\n    expect: {priority: P3}\n",
        encoding="utf-8")
    code, out = run([loose / "by_id.yaml", loose / "by_path.yaml"])
    assert code == 0, out
    assert any(line.startswith("coverage cloudtalk:") for line in out)
    assert any(line.startswith("coverage mini:") for line in out)


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize("expect", [
    "sla: {target: PT4H, due_at: \"2026-03-02T12:00:00Z\"}",       # an instant, another offset
    "sla: {timezone: Europe/Berlin, met: null, clock: business}",
    "channels: [portal, email]",                                   # order does not matter
    "actions: [{to: P2}]",
    "notes: []",
    "plan: std",
    "obligations: []",
    "sla_reason: null",
    "requested_priority: P2",
    "policy: {id: mini, version: \"1\"}",
])
def test_matching_passes(mini, expect):
    mini("case.yaml", one_case(expect))
    assert run_case(discover([mini.folder])[0]) == []


def test_durations_compare_by_length(mini):
    # 24 business hours from Mon 09:00: three 8-hour days, due Wednesday 17:00
    mini("case.yaml", one_case(
        "sla: {target: PT24H, due_at: \"2026-03-04T17:00:00+01:00\"}",
        ticket="{id: T, submitted_at: \"2026-03-02T09:00:00+01:00\"}"))
    assert run_case(discover([mini.folder])[0]) == []


def test_remaining_with_now_and_negative_remaining(mini):
    mini("a.yaml", one_case("sla: {due_at: \"2026-03-02T13:00:00+01:00\", remaining: PT3H}",
                            now="2026-03-02T10:00:00+01:00"))
    mini("b.yaml", one_case("sla: {remaining: -PT1H}", now="2026-03-02T14:00:00+01:00"))
    assert [run_case(c) for c in discover([mini.folder])] == [[], []]


@pytest.mark.parametrize("expect, fragment", [
    ("priority: P1", '-  "priority": "P1"'),
    ("sla: null", '-  "sla": null'),
    ("sla: {met: true}", '-    "met": true'),
    ("channels: [email]", '-    "email"\n+    "email",'),
    ("actions: [{to: P2}, {to: P1}]", '-    },\n-    {\n-      "to": "P1"'),
    ("plan: null", '-  "plan": null'),
    ("notes: [a note]", "notes: missing `a note`"),
    ("fired: [staging]", "fired: expected `staging` to fire"),
    ("not_fired: [chosen]", "not_fired: expected `chosen` not to fire"),
    ("error: ticket_enum", "expected error `ticket_enum`, but the ticket was decided"),
])
def test_mismatches_are_reported_with_a_diff(mini, expect, fragment):
    mini("case.yaml", one_case(expect))
    problems = run_case(discover([mini.folder])[0])
    assert problems and fragment in "\n".join(problems)


def test_failure_output_names_file_line_note_and_diff(mini):
    mini("bad.yaml", one_case("priority: P1"))
    code, out = run([mini.folder])
    assert code == 1
    text = "\n".join(out)
    assert "bad.yaml:3: the case under test" in text and out[0].startswith("FAIL ")
    assert "--- expected" in text and "+++ actual" in text
    assert '-  "priority": "P1"' in text and '+  "priority": "P2"' in text
    assert out[-1] == "0 passed, 1 failed"


def test_error_cases(mini):
    mini("a.yaml", one_case("error: ticket_enum", ticket="{id: T, submitted_at: "
                            "\"2026-03-02T09:00:00+01:00\", environment: prod}"))
    mini("b.yaml", one_case("error: ticket_unknown_level", ticket="{id: T, submitted_at: "
                            "\"2026-03-02T09:00:00+01:00\", environment: prod}"))
    mini("c.yaml", one_case("priority: P2", ticket="{id: T, submitted_at: \"2026-03-02\"}"))
    a, b, c = (run_case(x) for x in discover([mini.folder]))
    assert a == []
    assert "expected error `ticket_unknown_level`, got [ticket_enum]" in b[0]
    assert "the ticket was rejected: [ticket_timestamp]" in c[0]


def test_error_cases_fire_nothing(mini):
    mini("a.yaml", one_case("error: ticket_enum", ticket="{id: T, submitted_at: "
                            "\"2026-03-02T09:00:00+01:00\", environment: prod}"))
    code, out = run([mini.folder])
    assert code == 0
    assert "coverage mini: 0/6 rules (0%)" in out


SCHEMA = """{
  "type": "object", "required": ["priority", "nope"],
  "properties": {
    "sla": {"oneOf": [{"type": "null"}, {
      "type": "object", "additionalProperties": false, "required": ["target", "met"],
      "properties": {"target": {"type": "string"}, "met": {"type": ["boolean", "null"]},
                     "due_at": {"type": "string"}}}]}
  }
}"""


@pytest.fixture
def decision_schema(tmp_path, monkeypatch):
    schema = tmp_path / "decision.schema.json"
    schema.write_text(SCHEMA, encoding="utf-8")
    monkeypatch.setattr(matching, "_DECISION_SCHEMA", schema)
    matching._decision_validator.cache_clear()
    yield schema
    matching._decision_validator.cache_clear()


def test_decisions_are_validated_against_the_decision_schema(mini, decision_schema):
    mini("case.yaml", one_case("priority: P2"))
    problems = run_case(discover([mini.folder])[0])
    assert any("schemas/decision.schema.json" in p and "nope" in p for p in problems)


def test_expectations_must_fit_the_decision_schema(mini, decision_schema):
    mini("ok.yaml", one_case("sla: {met: null}"))               # a subset: `required` waived
    mini("bad.yaml", one_case("sla: {due: \"2026-03-02T13:00:00+01:00\"}"))
    cases, diags = collect([mini.folder])
    assert [c.file.rsplit("/", 1)[-1] for c in cases] == ["ok.yaml"]
    assert [d.code for d in diags] == ["test_schema"]
    assert "`expect.sla` cannot match a decision" in diags[0].message
    assert "'due' was unexpected" in diags[0].message
    assert str(diags[0].location).endswith("bad.yaml:6:12")


# --------------------------------------------------------------------------- bad test files


@pytest.mark.parametrize("text, code, where", [
    ("cases: [\n", "yaml_syntax", None),
    ("cases:\n  - note: x\n    ticket: {id: T}\n    expect: {prioirty: P1}\n",
     "test_unknown_key", ":4:14"),
    ("cases:\n  - note: x\n    ticket: {id: T}\n    expect: {fired: [chosne]}\n",
     "test_unknown_rule", ":4:22"),
    ("cases:\n  - ticket: {id: T}\n    expect: {priority: P1}\n", "test_missing_key", ":2:5"),
    ("cases:\n  - note: x\n    ticket: {id: T}\n    expect: {error: ticket_enum, priority: P1}\n",
     "test_error_with_decision", ":4:34"),
    ("cases:\n  - note: x\n    ticket: {id: T}\n    now: \"2026-03-02T10:00:00\"\n"
     "    expect: {priority: P1}\n", "test_bad_now", ":4:10"),
    ("cases:\n  - note: x\n    ticket: {id: T}\n    expect: {sla: {target: 4h}}\n",
     "test_type", ":4:28"),
    ("cases:\n  - note: x\n    ticket: {id: T}\n    expect: {}\n", "test_type", ":4:13"),
    ("cases: []\n", "test_type", ":1:8"),
    ("- just a list\n", "test_bad_file", None),
    ("cases:\n  - note: x\n    tickets: {id: T}\n    expect: {priority: P1}\n",
     "test_unknown_key", ":3:5"),
    ("policy: nosuch\ncases:\n  - note: x\n    ticket: {id: T}\n    expect: {priority: P1}\n",
     "test_unknown_policy", ":1:9"),
    ("cases:\n  - note: x\n    ticket: {id: T}\n    expect: {met: yes}\n",
     "yaml_ambiguous_bool", None),
])
def test_bad_test_files_are_diagnosed(mini, text, code, where):
    path = mini("broken.yaml", text)
    mini("good.yaml", GOOD)
    cases, diags = collect([mini.folder])
    assert code in [d.code for d in diags]
    diag = next(d for d in diags if d.code == code)
    assert diag.location.file and diag.location.file.endswith("broken.yaml")
    if where:
        assert str(diag.location).endswith(where), str(diag.location)
    assert all(c.file.endswith("good.yaml") for c in cases)
    exit_code, out = run([mini.folder])
    assert exit_code == 2
    assert any(str(path.name) in line and f"error[{code}]" in line for line in out)
    assert out[-1] == "2 passed, 0 failed"   # the valid file still ran
    with pytest.raises(testing.DiagnosticError):
        discover([mini.folder])


def test_test_file_without_a_policy(tmp_path):
    (tmp_path / "loose.yaml").write_text(
        "cases:\n  - note: x\n    ticket: {id: T}\n    expect: {priority: P1}\n", encoding="utf-8")
    code, out = run([tmp_path / "loose.yaml"])
    assert code == 2
    assert any("error[test_no_policy]" in line for line in out)


def test_invalid_policy_is_reported(mini):
    (mini.folder / "policy.yaml").write_text(MINI.replace("levels: [P1, P2, P3]",
                                                          "levels: [P1, P2]"), encoding="utf-8")
    mini("good.yaml", GOOD)
    code, out = run([mini.folder])
    assert code == 2
    assert any("error[test_bad_policy]" in line for line in out)
    assert any("unknown_level" in line for line in out)


def test_missing_path_and_no_tests(tmp_path):
    code, out = run([tmp_path / "nope"])
    assert code == 2 and any("error[test_path_missing]" in line for line in out)
    (tmp_path / "empty").mkdir()
    code, out = run([tmp_path / "empty"])
    assert code == 2 and any("error[no_tests]" in line for line in out)
    assert out[-1] == "0 passed, 0 failed"


# --------------------------------------------------------------------------- the CLI


def test_cli_exit_codes(mini):
    runner = CliRunner()
    mini("good.yaml", GOOD)
    result = runner.invoke(cli.main, ["test", str(mini.folder)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "2 passed, 0 failed"
    result = runner.invoke(cli.main, ["test", "--min-coverage", "100", str(mini.folder)])
    assert result.exit_code == 1
    mini("bad.yaml", one_case("priority: P1"))
    result = runner.invoke(cli.main, ["test", str(mini.folder)])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "2 passed, 1 failed"
    mini("broken.yaml", "cases: [\n")
    assert runner.invoke(cli.main, ["test", str(mini.folder)]).exit_code == 2


def test_cli_bundled_rules_pass_with_full_coverage():
    root = Path(__file__).resolve().parent.parent
    result = CliRunner().invoke(cli.main, ["test", "--min-coverage", "100",
                                           str(root / "rules")])
    assert result.exit_code == 0, result.output
    last = result.output.splitlines()[-1]
    assert last.endswith(" passed, 0 failed") and int(last.split()[0]) >= 60
