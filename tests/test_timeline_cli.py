"""Timelines from the command line (`--at`, the dated story, `--why-not` at an instant), and the
policy format's `metrics` and `once`, checked with file:line:col."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import BASE, ROOT, schema_validator

from cli import main
from engine.core.model import CLOCK_RULES

RAISE = str(ROOT / "examples" / "timelines" / "cloudtalk-raise-to-p1.json")
CREDENTI = str(ROOT / "examples" / "timelines" / "credenti-unreachable-during-s1.json")


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_evaluate_follows_events_and_prints_history_and_clocks():
    r = run("evaluate", "-p", "cloudtalk", RAISE)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    schema_validator("decision").validate(d)
    assert [h["to"] for h in d["history"]] == ["P3", "P1"]
    assert d["clocks"][0]["status"] == "met" and d["sla"]["status"] == "met"


def test_at_shows_the_ticket_as_it_stood():
    r = run("evaluate", "-p", "cloudtalk", "--at", "2026-03-10T14:59:00+01:00", RAISE)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["priority"] == "P3" and d["now"] == "2026-03-10T14:59:00+01:00"
    assert d["sla"]["remaining"] == "PT4H1M"  # 9 h - 10:00-14:59


@pytest.mark.parametrize(("args", "code"), [
    (("--at", "tomorrow"), "bad_at"),
    (("--at", "2026-03-10T14:00:00+01:00", "--now", "2026-03-12T00:00:00Z"), "bad_at"),
    (("--now", "2026-03-10T16:00:00+01:00"), "ticket_now_before_event"),
])
def test_bad_instants_exit_2(args, code):
    r = run("evaluate", "-p", "cloudtalk", *args, RAISE)
    assert r.exit_code == 2 and f"[{code}]" in r.stderr


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_explain_tells_the_dated_story(fmt):
    r = run("explain", "-p", "cloudtalk", "--format", fmt, RAISE)
    assert r.exit_code == 0, r.output
    text = r.stdout
    if fmt == "json":
        lines = json.loads(text)["timeline"]
        assert lines[0].startswith("2026-03-10 10:00+01:00  submitted: P3")
        text = "\n".join(lines)
    else:
        assert ("timeline:" if fmt == "text" else "#### Timeline") in text
    assert "first response within PT9H on `office`, due 2026-03-11 11:00+01:00" in text
    assert "an engineer sets P1: P3 → P1 by agent-reclassification" in text
    assert "due 2026-03-11 10:00+01:00 (was 2026-03-11 11:00+01:00)" in text
    assert "first response given: met" in text


def test_explain_without_events_has_no_timeline_section():
    r = run("explain", "-p", "cloudtalk", str(ROOT / "examples" / "cloudtalk-staging-p1.json"))
    assert r.exit_code == 0 and "timeline:" not in r.stdout


def test_why_not_at_an_instant():
    """Before the unreachability, the downgrade had not fired because the customer was still
    reachable; at the end it fired."""
    before = run("explain", "-p", "credenti", "--why-not", "unreachable-s1-downgraded-to-s2",
                 "--at", "2026-03-08T12:00:00+01:00", CREDENTI)
    assert before.exit_code == 0, before.output
    assert "needs customer.reachable is false, but customer.reachable is true" in before.stdout
    after = run("explain", "-p", "credenti", "--why-not", "unreachable-s1-downgraded-to-s2",
                CREDENTI)
    assert "fired at step" in after.stdout


def test_policy_test_command_runs_timeline_cases():
    r = run("test", str(ROOT / "rules" / "cloudtalk" / "tests" / "timeline.yaml"))
    assert r.exit_code == 0, r.output
    assert r.output.strip().endswith("6 passed, 0 failed")


# --------------------------------------------------------------------------- policy format


@pytest.mark.parametrize(("metrics", "code", "line"), [
    ("metrics:\n  first_response:\n    targets: {std: {P1: PT1H}}\n", "metric_targets", 3),
    ("metrics:\n  resolution:\n    pauses: [pending]\n", "metric_targets", 2),
    ("metrics:\n  first_response:\n    not_promised: never\n", "metric_not_promised", 3),
    ("metrics:\n  next_response:\n    starts: submitted\n    targets: {std: {P1: PT1H}}\n",
     "metric_start", 3),
    ("metrics:\n  resolution:\n    targets: {gold: {P1: PT1H}}\n", "unknown_plan", 3),
    ("metrics:\n  resolution:\n    targets: {std: {P9: PT1H}}\n", "unknown_level", 3),
    ("metrics:\n  resolution:\n    calendar: offce\n    targets: {std: {P1: PT1H}}\n",
     "unknown_calendar", 3),
    ("metrics:\n  resolution:\n    targets: {none: {P1: PT1H}}\n", "missing_calendar", 3),
    ("metrics:\n  resolution:\n    targets: {std: {P1: PT0S}}\n", "bad_duration", 3),
    ("metrics:\n  resolution:\n    on_priority_change: {raise: later}\n"
     "    targets: {std: {P1: PT1H}}\n", "schema_enum", 3),
    ("metrics:\n  resolutoin:\n    targets: {std: {P1: PT1H}}\n", "schema_unknown_property", 2),
])
def test_bad_metrics_are_reported_where_written(check_text, metrics, code, line):
    base_lines = len(BASE.splitlines())
    _, diags = check_text(BASE + metrics + "rules:\n  - {id: r, then: {default: P3}}\n")
    found = [(d.code, d.location.line) for d in diags]
    assert (code, base_lines + line) in found, found


def test_metrics_and_once_are_read_into_the_model(check_text):
    text = BASE + (
        "metrics:\n  first_response:\n    on_priority_change: {raise: sooner}\n"
        "    warn_before: 0.25\n  resolution:\n    pauses: [pending]\n    reopen: resume\n"
        "    targets: {std: {P1: P1D}}\n"
        "rules:\n  - id: r\n    once: true\n    when: {customer.reachable: false}\n"
        "    then: {default: P3}\n")
    model, diags = check_text(text)
    assert diags == [] and model is not None
    first, resolution = model.metrics
    assert (first.on_raise, first.on_lower, first.warn_fraction) == ("sooner", "from_start", 0.25)
    assert resolution.targets["std"]["P1"].calendar == "office"
    assert resolution.reopen == "resume" and resolution.pauses == ("pending",)
    assert [r.once for r in model.rules if r.id == "r"] == [True]
    assert set(CLOCK_RULES) == {"from_start", "from_change", "sooner"}
