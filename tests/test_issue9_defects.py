"""Regression tests for the defects issue 9 found by trying the tool as a new user would; each
failed before the fix (they use only interfaces that existed then)."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner
from conftest import ROOT, ticket

from cli import main
from engine import TicketError, evaluate, load_policy


def run(*args):
    return CliRunner().invoke(main, list(args))


# ---- Credenti S3/S4: business hours on every plan -------------------------------------------

@pytest.fixture(scope="module")
def credenti():
    return load_policy("credenti")


def test_credenti_s3_filed_on_saturday_on_24x7_falls_due_in_business_hours(credenti):
    d = evaluate(credenti, ticket(submitted_at="2026-03-07T10:00:00+01:00",
                                  requested_priority="S3", plan="24x7",
                                  contract={"response_targets": {"S3": "PT4H"}}))
    # was Saturday 14:00 beside "contact the customer during business hours only"
    assert d.sla.due_at.isoformat() == "2026-03-09T13:00:00+01:00"
    assert (d.sla.calendar, d.sla.clock) == ("8x5", "business")
    assert [o.duty for o in d.obligations] == ["contact the customer during business hours only"]


@pytest.mark.parametrize("plan", ["24x5", "24x7"])
def test_credenti_s4_counts_business_hours_and_s1_s2_keep_the_plans_calendar(credenti, plan):
    targets = {"response_targets": {"S1": "PT2H", "S2": "PT2H", "S4": "PT2H"}}
    friday_night = "2026-03-06T22:00:00+01:00"
    s4 = evaluate(credenti, ticket(submitted_at=friday_night, requested_priority="S4",
                                   plan=plan, contract=targets))
    assert s4.sla.due_at.isoformat() == "2026-03-09T11:00:00+01:00"
    for level in ("S1", "S2"):
        d = evaluate(credenti, ticket(submitted_at=friday_night, requested_priority=level,
                                      plan=plan, contract=targets))
        assert d.sla.calendar == plan


def test_the_s3_target_cites_the_s3_business_hours_sentence(credenti):
    d = evaluate(credenti, ticket(requested_priority="S3", plan="24x7",
                                  contract={"response_targets": {"S3": "PT4H"}}))
    (event,) = [e for e in d.trace if any(c.field == "target" for c in e.changes)]
    assert "Schweregradstufe 3 wird sich Credenti nur während der Geschäftszeiten" \
        in event.source["quote"]


CONTRACT_ON_ANOTHER_CALENDAR = """
rules:
  - id: default-p3
    then: {default: P3}
  - id: p3-quote-in-office-hours
    when: {priority: P3, entitlement.guaranteed: true}
    then: {target: {within: contract, calendar: office}}
"""


def test_a_contract_target_may_count_on_another_calendar_than_the_plans(make_policy):
    base = """\
id: quoted
title: Quoted targets
version: "1"
sources: [{id: doc, title: The document}]
levels: [P1, P2, P3]
calendars:
  office: {timezone: Europe/Berlin, hours: {mon-fri: ["09:00-17:00"]}}
  always: {preset: 24x7, timezone: Europe/Berlin}
plans:
  quoted:
    calendar: always
    targets:
      P1: contract
      P2: {within: contract, calendar: office}
default_plan: quoted
"""
    cp = make_policy(CONTRACT_ON_ANOTHER_CALENDAR, base=base)
    quote = {"response_targets": {"P2": "PT2H", "P3": "PT2H"}}
    saturday = "2026-03-07T10:00:00+01:00"
    d = evaluate(cp, ticket(submitted_at=saturday, contract=quote))
    assert d.priority == "P3" and d.sla.rule == "p3-quote-in-office-hours"
    assert (d.sla.calendar, d.sla.due_at.isoformat()) == ("office", "2026-03-09T11:00:00+01:00")


def test_a_plan_level_contract_target_on_another_calendar(make_policy):
    base = """\
id: quoted
title: Quoted targets
version: "1"
sources: [{id: doc, title: The document}]
levels: [P1, P2, P3]
calendars:
  office: {timezone: Europe/Berlin, hours: {mon-fri: ["09:00-17:00"]}}
  always: {preset: 24x7, timezone: Europe/Berlin}
plans:
  quoted:
    calendar: always
    targets:
      P1: contract
      P2: contract
      P3: {within: contract, calendar: office}
default_plan: quoted
"""
    cp = make_policy("rules:\n  - {id: chosen, when: {requested_priority: {present: true}}, "
                     "then: {assign: {fact: requested_priority}}}\n", base=base)
    quote = {"response_targets": {"P1": "PT2H", "P3": "PT2H"}}
    saturday = "2026-03-07T10:00:00+01:00"
    p1 = evaluate(cp, ticket(submitted_at=saturday, requested_priority="P1", contract=quote))
    p3 = evaluate(cp, ticket(submitted_at=saturday, requested_priority="P3", contract=quote))
    assert p1.sla.due_at.isoformat() == "2026-03-07T12:00:00+01:00"
    assert (p3.sla.calendar, p3.sla.due_at.isoformat()) == ("office", "2026-03-09T11:00:00+01:00")


# ---- each Credenti level cites its own sentence ---------------------------------------------

@pytest.mark.parametrize("level", ["S1", "S2", "S3", "S4"])
def test_each_chosen_severity_cites_its_own_sentence(credenti, level):
    d = evaluate(credenti, ticket(requested_priority=level, plan="8x5"))
    (assigned,) = [e for e in d.trace if any(c.field == "priority" and c.after == level
                                             for c in e.changes)]
    n = level[1]
    assert f"Schweregrad {n} auswählen" in assigned.source["quote"], assigned.source["quote"]


# ---- `ticket-policy test` without a path tests ./rules --------------------------------------

MINI = """\
id: mini
title: Mini
version: "1"
sources: [{id: doc, title: Doc}]
levels: [P1, P2]
rules:
  - id: all-p2
    then: {assign: P2}
    because: Everything is P2.
    source: {document: doc, quote: "P2"}
"""


def test_policy_test_without_a_path_tests_the_current_folders_rules(tmp_path, monkeypatch):
    (tmp_path / "rules" / "mini" / "tests").mkdir(parents=True)
    (tmp_path / "rules" / "mini" / "policy.yaml").write_text(MINI, "utf-8")
    (tmp_path / "rules" / "mini" / "tests" / "cases.yaml").write_text(textwrap.dedent("""\
        cases:
          - note: everything is P2
            ticket: {id: T-1, submitted_at: "2026-03-02T10:00:00Z"}
            expect: {priority: P2}
        """), "utf-8")
    monkeypatch.chdir(tmp_path)
    r = run("test")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "testing rules/ (mini)"
    assert "coverage mini: 1/1 rules (100%)" in r.stdout
    assert "cloudtalk" not in r.stdout and "1 passed, 0 failed" in r.stdout


def test_policy_test_without_a_path_outside_a_project_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("test")
    assert r.exit_code == 2
    assert "no `rules` folder" in r.stdout and "coverage" not in r.stdout


# ---- a discarded target is shown as discarded -----------------------------------------------

def test_a_target_on_a_ticket_without_a_guarantee_is_traced_as_discarded(make_policy, tmp_path):
    cp = make_policy("""
rules:
  - id: default-p3
    then: {default: P3}
  - id: beta-no-guarantee
    when: {product_stage: beta}
    then: {no_guarantee: beta products have no guaranteed response}
  - id: how-to-in-eight-hours
    when: {category: how_to}
    then: {target: PT8H}
""")
    d = evaluate(cp, ticket(product_stage="beta", category="how_to"))
    assert d.sla is None and d.sla_reason == "beta products have no guaranteed response"
    last = d.trace[-1].to_json()
    assert (last["kind"], last["rule"]) == ("no_sla", None)
    assert last["changes"] == [{"field": "target", "before": {
        "metric": "first_response", "within": "PT8H", "calendar": "office", "basis": "rule"},
        "after": None, "reason": "beta products have no guaranteed response"}]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(ticket(product_stage="beta", category="how_to")), "utf-8")
    r = run("explain", "-p", cp.policy.file, str(path))
    assert "response target PT8H on `office` discarded: beta products have no guaranteed " \
           "response" in r.stdout


# ---- machine-readable output on stdout; --error-format json ---------------------------------

@pytest.mark.parametrize("command", ["validate", "lint"])
def test_validate_and_lint_json_go_to_stdout(tmp_path, command):
    path = tmp_path / "bad.yaml"
    path.write_text(MINI.replace("assign: P2", "assign: P7"), "utf-8")
    r = run(command, "--format", "json", str(path))
    assert r.exit_code == 1
    problems = json.loads(r.stdout)
    assert [p["code"] for p in problems] == ["unknown_level"]
    assert r.stderr == ""


@pytest.mark.parametrize("command", ["evaluate", "explain"])
def test_evaluate_and_explain_report_problems_as_json(tmp_path, command):
    path = tmp_path / "t.json"
    path.write_text('{"id": "T-1", "submitted_at": "2026-03-02T10:00:00", "plan": "gold"}',
                    "utf-8")
    r = run(command, "-p", "cloudtalk", "--error-format", "json", str(path))
    assert r.exit_code == 2 and r.stdout == ""
    problems = json.loads(r.stderr)
    assert {(p["code"], p["line"], p["column"]) for p in problems} == {
        ("ticket_no_offset", 1, 31), ("ticket_unknown_plan", 1, 62)}
    assert all(p["file"] == str(path) for p in problems)


# ---- holidays: only the years where the calendar is exact -----------------------------------

def test_tickets_beyond_the_years_of_known_holidays_are_rejected():
    cloudtalk = load_policy("cloudtalk")  # office hours with Slovak holidays (1993-2100)
    data = ticket(submitted_at="2150-03-02T10:00:00+01:00", plan="professional")
    with pytest.raises(TicketError) as exc:
        evaluate(cloudtalk, data)
    (problem,) = exc.value.diagnostics
    assert (problem.code, problem.location.pointer) == ("ticket_calendar_range", "/submitted_at")
    assert "exact for 1993-2100 only" in problem.message
    ok = evaluate(cloudtalk, ticket(submitted_at="2100-03-02T10:00:00+01:00",
                                    plan="professional"))
    assert ok.sla is not None
    around_the_clock = evaluate(load_policy("csd-group"),
                                ticket(submitted_at="2900-03-02T10:00:00+07:00"))
    assert around_the_clock.sla is not None  # no holidays: exact up to 2999


def test_the_cli_says_why_a_far_future_ticket_is_refused(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(ticket(submitted_at="2150-03-02T10:00:00+01:00",
                                      plan="professional")), "utf-8")
    r = run("evaluate", "-p", "cloudtalk", str(path))
    assert r.exit_code == 2
    assert "error[ticket_calendar_range]: calendar `office` is exact for 1993-2100 only" \
        in r.stderr


def test_due_outside_the_exact_years_is_an_option_error():
    r = run("due", "-p", "cloudtalk", "-c", "office", "--from", "2101-01-04T10:00:00+01:00",
            "--within", "PT1H")
    assert r.exit_code == 2
    assert "--from: error[calendar_range]: calendar `office` is exact for 1993-2100 only" \
        in r.stderr


# ---- 24x7 due times in the customer's zone --------------------------------------------------

def test_around_the_clock_due_times_are_shown_in_the_customers_zone():
    zmanda = load_policy("zmanda")
    data = ticket(submitted_at="2026-12-25T10:00:00+01:00", urgency="high", impact="high",
                  plan="premium", customer={"timezone": "Europe/Warsaw"})
    sla = evaluate(zmanda, data).sla
    assert (sla.timezone, sla.due_at.isoformat()) == ("Europe/Warsaw",
                                                      "2026-12-25T10:15:00+01:00")
    del data["customer"]
    sla = evaluate(zmanda, data).sla  # the same instant, in the calendar's zone
    assert (sla.timezone, sla.due_at.isoformat()) == ("UTC", "2026-12-25T09:15:00+00:00")


def test_the_golden_example_shows_the_zone(tmp_path):
    golden = json.loads((ROOT / "tests/golden/decisions/zmanda-trial.json").read_text())
    assert golden["sla"]["due_at"] == "2026-12-25T10:15:00+01:00"
