"""Timelines: forward chaining over a ticket's events, the priority history, the SLA clocks.

Due times are computed by hand from the calendars (comments give the arithmetic)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

import pytest
from conftest import ROOT, schema_validator
from test_evaluate import random_ticket

from engine import evaluate, load_policy
from engine.core.decision import Decision
from engine.explain.render import render_text
from engine.run.evaluator import evaluate as snapshot
from engine.timeline.clocks import Change, ClockInput, ClockRun
from engine.timeline.evaluator import TimelineEvaluator
from engine.timeline.metrics import config, metrics_of

EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


@pytest.fixture(scope="module")
def cloudtalk():
    return load_policy("cloudtalk")


@pytest.fixture(scope="module")
def credenti():
    return load_policy("credenti")


def ev(at: str, kind: str, **fields) -> dict:
    return {"at": at, "type": kind, **fields}


def t(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


# --------------------------------------------------------------------------- acceptance


def test_cloudtalk_raise_to_p1_at_15_on_a_tuesday(cloudtalk):
    """Professional P3 (9 business hours) from Tue 10:00: due Wed 11:00 (7 h Tue, 2 h Wed). Staff
    raise it to P1 at 15:00, when 5 h have been counted and 4 h are left: the policy counts a
    raise `sooner` — the P1 target (3 h) from the raise, as it is less than what was left —
    so it is due Wed 10:00 (2 h Tue 15:00-17:00, 1 h Wed), not overdue at 15:00."""
    d = evaluate(cloudtalk, {
        "id": "CT-15", "submitted_at": "2026-03-10T10:00:00+01:00", "plan": "professional",
        "requested_priority": "P3", "environment": "production",
        "events": [ev("2026-03-10T15:00:00+01:00", "agent_priority", level="P1")]})
    assert d.priority == "P1"
    h = d.history[-1]
    assert (h.from_, h.to, h.rule, h.event) == ("P3", "P1", "agent-reclassification", 0)
    fr = d.clock("first_response")
    assert fr.status == "running" and fr.breached_at is None
    assert [(p.level, str(p.target), p.counted, p.due_at.isoformat()) for p in fr.phases] == [
        ("P3", "9:00:00", "start", "2026-03-11T11:00:00+01:00"),
        ("P1", "3:00:00", "sooner", "2026-03-11T10:00:00+01:00")]
    assert d.sla.due_at.isoformat() == "2026-03-11T10:00:00+01:00" and d.sla.status == "pending"
    story = render_text(d)
    assert "first response within PT9H on `office`, due 2026-03-11 11:00+01:00" in story
    assert "P3 → P1 by agent-reclassification" in story
    assert "due 2026-03-11 10:00+01:00 (was 2026-03-11 11:00+01:00)" in story


def test_the_same_raise_counted_from_the_start_is_overdue_at_once(make_policy):
    """Zendesk's rule (`from_start`, the default): P1's 1 h from 10:00 fell due at 11:00, so a
    raise at 15:00 is breached at 15:00 — the change, not the past due time."""
    cp = make_policy("""
        rules:
          - id: chosen
            when: {requested_priority: {present: true}}
            then: {assign: {fact: requested_priority}}
          - id: agent
            stage: final
            when: {agent_priority: {present: true}}
            then: {reclassify: {fact: agent_priority}}
        """)
    d = evaluate(cp, {"id": "M-1", "submitted_at": "2026-03-10T10:00:00+01:00",
                      "requested_priority": "P3",
                      "events": [ev("2026-03-10T15:00:00+01:00", "agent_priority", level="P1")]})
    fr = d.clock("first_response")
    assert fr.status == "breached" and fr.phases[-1].counted == "from_start"
    assert fr.due_at.isoformat() == "2026-03-10T11:00:00+01:00"
    assert fr.breached_at.isoformat() == "2026-03-10T15:00:00+01:00"
    assert d.sla.status == "breached" and d.sla.breached_at == fr.breached_at


def test_credenti_unreachable_s1_is_s2_from_that_instant(credenti):
    """24x7 S1 (1 h) from Sat 03:00; unreachable at 03:20: S2 from 03:20, citing the clause; the
    S2 target (4 h) counts from the submission (Credenti's response time runs from it): due
    07:00. The customer is reachable again at 05:00: the downgrade stands (once per case)."""
    d = evaluate(credenti, {
        "id": "CR-7", "submitted_at": "2026-03-07T03:00:00+01:00", "plan": "24x7",
        "requested_priority": "S1",
        "contract": {"response_targets": {"S1": "PT1H", "S2": "PT4H"}},
        "events": [ev("2026-03-07T03:20:00+01:00", "fact", fact="customer.reachable",
                      value=False),
                   ev("2026-03-07T05:00:00+01:00", "fact", fact="customer.reachable",
                      value=True)]})
    assert d.priority == "S2"
    first, down = d.history
    assert (first.to, first.event) == ("S1", None)
    assert (down.at.isoformat(), down.from_, down.to, down.event) == (
        "2026-03-07T03:20:00+01:00", "S1", "S2", 0)
    assert down.rule == "unreachable-s1-downgraded-to-s2"
    assert down.citation.path == "policy.yaml" and down.citation.line > 0
    assert "Stufe 2 herabsetzen" in down.source["quote"]
    assert d.sla.due_at.isoformat() == "2026-03-07T07:00:00+01:00"
    assert [(h.fact, h.value, h.events) for h in d.held] == [("customer.reachable", False, (1,))]
    assert "held: customer.reachable stays false" in render_text(d)


def test_a_correction_lifts_a_reclassification(cloudtalk):
    """p1-production-only is re-derived: correcting `environment` to production restores P1."""
    d = evaluate(cloudtalk, {
        "id": "CT-2", "submitted_at": "2026-03-10T10:00:00+01:00", "plan": "advanced",
        "requested_priority": "P1", "environment": "staging", "category": "outage",
        "events": [ev("2026-03-10T10:30:00+01:00", "fact", fact="environment",
                      value="production")]})
    assert [(h.from_, h.to, h.rule) for h in d.history] == [
        (None, "P3", "p1-production-only"), ("P3", "P1", "customer-chosen-priority")]
    # Advanced P1 runs 24x7: 1 h from the raise (sooner: less than the P3 time left) → 11:30
    assert d.sla.due_at.isoformat() == "2026-03-10T11:30:00+01:00"
    assert d.sla.calendar == "always"


def test_zmanda_customer_override_at_an_instant():
    """Standard (customer's 08-17, UTC here): P3 (8 h) from Mon 08:00; the customer overrides to
    P1 at 10:00 (6 h left): 1 h from the override → due 11:00."""
    cp = load_policy("zmanda")
    d = evaluate(cp, {"id": "Z-1", "submitted_at": "2026-03-09T08:00:00Z",
                      "urgency": "medium", "impact": "medium",
                      "events": [ev("2026-03-09T10:00:00Z", "priority_requested", level="P1")]})
    assert [(h.to, h.rule) for h in d.history] == [("P3", "urgency-impact[5]"),
                                                    ("P1", "customer-override")]
    assert d.requested_priority == "P1"
    assert d.sla.due_at.isoformat() == "2026-03-09T11:00:00+00:00"


# --------------------------------------------------------------------------- pauses, metrics

METRICS = """\
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: ["09:00-17:00"]}
    holidays: {country: DE}
  always: {preset: 24x7, timezone: Europe/Berlin}
plans:
  std:
    channels: [email]
    calendar: office
    targets: {P1: PT1H, P2: PT4H, P3: PT8H}
  premium:
    channels: [email]
    calendar: always
    targets: {P1: PT15M, P2: PT1H, P3: PT4H}
default_plan: std
metrics:
  first_response:
    warn_before: PT30M
  next_response:
    targets: {std: {P1: PT2H, P2: PT4H, P3: PT8H}}
  resolution:
    pauses: [pending, on_hold]
    reopen: resume
    warn_before: 0.25
    targets:
      std: {P1: PT8H, P2: P2D, P3: P5D}
      premium: {P1: PT8H, P2: P1D, P3: P2D}
rules:
  - id: chosen
    when: {requested_priority: {present: true}}
    then: {assign: {fact: requested_priority}}
"""


@pytest.fixture(scope="module")
def metrics_policy(tmp_path_factory):
    base = (ROOT / "tests" / "conftest.py").read_text("utf-8").split('BASE = """\\\n')[1]
    head = base.split("calendars:")[0]
    path = tmp_path_factory.mktemp("m") / "policy.yaml"
    path.write_text(head + METRICS, "utf-8")
    return load_policy(str(path))


def test_a_pause_across_a_holiday_weekend_is_not_counted(metrics_policy):
    """Resolution P1 (8 office hours, DE holidays) from Thu 2 Apr 15:00; pending from 16:00 over
    Good Friday, the weekend and Easter Monday until Tue 10:00: 1 h + 7 h from Tue 10:00 → due
    Tue 17:00; solved Tue 14:00 after 5 h counted: met."""
    d = evaluate(metrics_policy, {
        "id": "R-1", "submitted_at": "2026-04-02T15:00:00+02:00", "requested_priority": "P1",
        "events": [ev("2026-04-02T15:30:00+02:00", "reply", by="agent"),
                   ev("2026-04-02T16:00:00+02:00", "status", status="pending"),
                   ev("2026-04-07T10:00:00+02:00", "status", status="open"),
                   ev("2026-04-07T14:00:00+02:00", "status", status="solved")]})
    res = d.clock("resolution")
    assert res.status == "met" and res.consumed == timedelta(hours=5)
    assert res.due_at.isoformat() == "2026-04-07T17:00:00+02:00"
    assert [(p.start.isoformat(), p.end.isoformat(), p.status) for p in res.paused] == [
        ("2026-04-02T16:00:00+02:00", "2026-04-07T10:00:00+02:00", "pending")]
    # warn when a quarter (2 h) is left: 6 h counted → Tue 10:00 + 5 h = 15:00
    assert res.warn_at.isoformat() == "2026-04-07T15:00:00+02:00"
    fr = d.clock("first_response")
    assert (fr.status, fr.fulfilled_at.isoformat()) == ("met", "2026-04-02T15:30:00+02:00")
    assert fr.warn_at.isoformat() == "2026-04-02T15:30:00+02:00"  # 30 min before 16:00


def test_a_pause_across_the_dst_change_counts_real_time(metrics_policy):
    """Premium resolution P1 (8 h, 24x7 Berlin) from Sat 28 Mar 20:00 CET; pending 22:00 CET to
    Sun 04:00 CEST (5 real hours: 02:00 does not exist); 2 h + 6 h → due 10:00 CEST."""
    d = evaluate(metrics_policy, {
        "id": "R-2", "submitted_at": "2026-03-28T20:00:00+01:00", "requested_priority": "P1",
        "plan": "premium",
        "events": [ev("2026-03-28T22:00:00+01:00", "status", status="pending"),
                   ev("2026-03-29T04:00:00+02:00", "status", status="open")]},
        now=t("2026-03-29T09:00:00+02:00"))
    res = d.clock("resolution")
    assert res.due_at.isoformat() == "2026-03-29T10:00:00+02:00"
    assert res.status == "running" and res.consumed == timedelta(hours=7)
    assert res.remaining == timedelta(hours=1)


def test_reopening_resumes_resolution_and_next_response_cycles(metrics_policy):
    """Resolution resumes after a reopen (the solved stretch is not counted); next_response runs
    a cycle per customer reply after the first response."""
    d = evaluate(metrics_policy, {
        "id": "R-3", "submitted_at": "2026-03-02T09:00:00+01:00", "requested_priority": "P2",
        "events": [ev("2026-03-02T10:00:00+01:00", "reply", by="agent"),
                   ev("2026-03-02T11:00:00+01:00", "reply", by="customer"),
                   ev("2026-03-02T12:00:00+01:00", "reply", by="agent"),
                   ev("2026-03-02T13:00:00+01:00", "status", status="solved"),
                   ev("2026-03-03T09:00:00+01:00", "status", status="reopened"),
                   ev("2026-03-03T10:00:00+01:00", "reply", by="customer")]},
        now=t("2026-03-03T11:00:00+01:00"))
    res = d.clock("resolution")
    # 4 h Mon 09-13, paused (solved) until Tue 09:00, then 2 h: 6 h of P2's 16 h
    assert res.status == "running" and res.consumed == timedelta(hours=6)
    assert [p.status for p in res.paused] == ["solved"]
    nxt = d.clock("next_response")
    assert nxt.status == "running" and nxt.started_at.isoformat() == "2026-03-03T10:00:00+01:00"
    assert [(c.status, c.fulfilled_at.isoformat()) for c in nxt.cycles] == [
        ("met", "2026-03-02T12:00:00+01:00")]
    assert nxt.due_at.isoformat() == "2026-03-03T14:00:00+01:00"  # P2: 4 h from 10:00


def test_no_customer_reply_no_next_response(metrics_policy):
    d = evaluate(metrics_policy, {"id": "R-4", "submitted_at": "2026-03-02T09:00:00+01:00"})
    nxt = d.clock("next_response")
    assert nxt.status == "not_applicable" and "customer reply" in nxt.reason
    assert [c.metric for c in d.clocks] == ["first_response", "next_response", "resolution"]


def test_csd_group_says_resolution_is_not_promised():
    d = evaluate(load_policy("csd-group"), {"id": "C-1", "submitted_at": "2026-03-02T09:00:00Z"})
    res = d.clock("resolution")
    assert res.status == "not_applicable" and "not to resolve" in res.reason
    assert "resolution not applicable" in render_text(d)


# --------------------------------------------------------------------------- at, record


def test_at_gives_the_ticket_as_it_stood(cloudtalk):
    data = {"id": "CT-3", "submitted_at": "2026-03-10T10:00:00+01:00", "plan": "professional",
            "requested_priority": "P3", "environment": "production",
            "first_response_at": "2026-03-11T09:00:00+01:00",
            "events": [ev("2026-03-10T15:00:00+01:00", "agent_priority", level="P1")]}
    before = evaluate(cloudtalk, data, at=t("2026-03-10T14:00:00+01:00"))
    assert before.priority == "P3" and before.sla.met is None and len(before.history) == 1
    assert before.now == t("2026-03-10T14:00:00+01:00")
    after = evaluate(cloudtalk, data)
    assert after.priority == "P1" and after.sla.met is True
    with pytest.raises(ValueError):
        evaluate(cloudtalk, data, now=t("2026-03-12T00:00:00Z"), at=t("2026-03-12T00:00:00Z"))


def test_timeline_decisions_round_trip_and_fit_the_schema(cloudtalk, credenti):
    d = evaluate(cloudtalk, {
        "id": "CT-4", "submitted_at": "2026-03-10T10:00:00+01:00", "plan": "professional",
        "requested_priority": "P1", "environment": "production",
        "events": [ev("2026-03-10T10:20:00+01:00", "agent_priority", level="P3"),
                   ev("2026-03-10T12:00:00+01:00", "status", status="pending"),
                   ev("2026-03-10T13:30:00+01:00", "status", status="open"),
                   ev("2026-03-10T13:45:00+01:00", "reply", by="agent")]})
    data = d.to_json()
    schema_validator("decision").validate(data)
    assert Decision.from_json(data).to_json() == data
    assert Decision.from_json(json.loads(json.dumps(data))) == d


# --------------------------------------------------------------------------- no events


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_without_events_the_decision_is_todays(example):
    policy = load_policy(next(p for p in ("cloudtalk", "credenti", "csd-group", "zmanda")
                              if example.stem.startswith(p)))
    data = json.loads(example.read_text("utf-8"))
    now = max(t("2026-11-21T12:00:00+00:00"), t(data["submitted_at"]))
    full = evaluate(policy, data, now=now).to_json()
    assert [full.pop(k) for k in ("history", "clocks", "held")][2] == []
    assert full == snapshot(policy, data, now=now).to_json()


def test_sla_is_the_first_response_clock_and_the_quick_clock_is_the_full_one(cloudtalk):
    """For random tickets without events: `sla` carries the first_response clock's figures, and
    the clock computed without set-up equals ClockRun's."""
    rnd = random.Random(3)
    metric = metrics_of(cloudtalk.policy)[0]
    for i in range(300):
        data = random_ticket(rnd, i)
        now = None if rnd.random() < 0.3 else t(data["submitted_at"]) + timedelta(
            minutes=rnd.randint(0, 6000))
        d = evaluate(cloudtalk, data, now=now)
        fr = d.clock("first_response")
        if d.sla is None:
            assert fr.status == "not_applicable" and fr.reason == d.sla_reason
            continue
        s = d.sla
        assert (s.target, s.calendar, s.timezone, s.due_at, s.rule, s.clock) == (
            fr.target, fr.calendar, fr.timezone, fr.due_at, fr.rule, fr.clock)
        assert s.status == ("pending" if fr.status == "running" else fr.status)
        assert s.breached_at == fr.breached_at
        checked, _ = cloudtalk.checker.check(data)
        outcome = TimelineEvaluator().evaluator.outcome(cloudtalk, checked)
        cfg = config(metric, cloudtalk.policy, outcome, checked.customer_zone)
        first = checked.first_response_at
        full = ClockRun(ClockInput(metric, checked.submitted_at, (
            Change(checked.submitted_at, -2, cfg.level, cfg, None),), (),
            None if first is None else (first, -1), now or checked.submitted_at,
            cloudtalk.policy.levels)).record()
        assert full == fr


# --------------------------------------------------------------------------- sla (issue 9)


@pytest.mark.parametrize("decide", [evaluate, snapshot], ids=["timeline", "snapshot"])
def test_sla_status_and_nothing_remaining_once_answered(cloudtalk, decide):
    """Professional P2 (6 business hours) from Fri 16:30: due Mon 14:30."""
    base = {"id": "CT-5", "submitted_at": "2026-03-06T16:30:00+01:00", "plan": "professional",
            "requested_priority": "P2", "environment": "production"}
    answered = dict(base, first_response_at="2026-03-09T14:00:00+01:00")
    d = decide(cloudtalk, answered, now=t("2026-03-09T15:00:00+01:00")).to_json()["sla"]
    assert (d["status"], d["met"], "remaining" in d) == ("met", True, False)
    d = decide(cloudtalk, answered, now=t("2026-03-09T10:00:00+01:00")).to_json()["sla"]
    assert (d["status"], d["remaining"]) == ("met", "PT4H30M")  # before the answer
    late = decide(cloudtalk, base, now=t("2026-03-09T16:00:00+01:00")).to_json()["sla"]
    assert (late["status"], late["breached_at"], late["remaining"]) == (
        "breached", "2026-03-09T14:30:00+01:00", "-PT1H30M")
    slow = decide(cloudtalk, dict(base, first_response_at="2026-03-09T15:00:00+01:00"))
    assert (slow.sla.status, slow.sla.breached_at.isoformat()) == (
        "breached", "2026-03-09T14:30:00+01:00")
    assert decide(cloudtalk, base).sla.status == "pending"
