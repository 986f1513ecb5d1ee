"""evaluate(): ticket validation, the projection cache, SLA fields, the decision schema."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import ROOT, schema_validator, ticket

from engine import TicketError, evaluate, load_policy


@pytest.fixture(scope="module")
def cloudtalk():
    return load_policy("cloudtalk")


BAD_TICKETS = [
    ({"submitted_at": "2026-03-02T10:00:00Z"}, "ticket_missing_field", "/id"),
    (ticket(submitted_at="2026-03-02T10:00:00"), "ticket_no_offset", "/submitted_at"),
    (ticket(submitted_at="2026-02-30T10:00:00Z"), "ticket_timestamp", "/submitted_at"),
    (ticket(submitted_at="yesterday"), "ticket_timestamp", "/submitted_at"),
    (ticket(id=7), "ticket_type", "/id"),
    (ticket(environment="prod"), "ticket_enum", "/environment"),
    (ticket(requested_priority="P7"), "ticket_unknown_level", "/requested_priority"),
    (ticket(plan="gold"), "ticket_unknown_plan", "/plan"),
    (ticket(customer={"timezone": "Mars/Olympus"}), "ticket_unknown_timezone",
     "/customer/timezone"),
    (ticket(customer={"country": "XX"}), "ticket_unknown_country", "/customer/country"),
    (ticket(customer={"reachable": "yes"}), "ticket_type", "/customer/reachable"),
    (ticket(customer="acme"), "ticket_type", "/customer"),
    (ticket(contract={"response_targets": {"P1": "1h"}}), "ticket_duration",
     "/contract/response_targets/P1"),
    (ticket(first_response_at="2026-13-01T00:00:00Z"), "ticket_timestamp", "/first_response_at"),
    (ticket(first_response_at="2026-03-02T09:59:59+01:00"), "ticket_time_order",
     "/first_response_at"),
]


@pytest.mark.parametrize(("data", "code", "pointer"), BAD_TICKETS)
def test_bad_tickets_are_rejected_before_the_engine(cloudtalk, data, code, pointer):
    with pytest.raises(TicketError) as exc:
        evaluate(cloudtalk, data)
    assert (code, pointer) in [(d.code, d.location.pointer) for d in exc.value.diagnostics]


def test_every_problem_is_listed(cloudtalk):
    with pytest.raises(TicketError) as exc:
        evaluate(cloudtalk, {"id": 1, "submitted_at": "x", "environment": "prod", "plan": "p"})
    assert len(exc.value.diagnostics) == 4


def test_fields_no_rule_reads_are_accepted_and_ignored(cloudtalk):
    d = evaluate(cloudtalk, ticket(subject="help", description={"long": "text"}, plan="advanced"))
    assert d.priority == "P3"


def random_ticket(rnd: random.Random, i: int) -> dict:
    submitted = datetime(2026, rnd.randint(1, 12), rnd.randint(1, 28), rnd.randint(0, 23),
                         rnd.randint(0, 59), tzinfo=timezone(timedelta(hours=1)))
    answered = submitted + timedelta(minutes=rnd.randint(1, 5000))
    return {
        "id": f"T{i}",
        "submitted_at": submitted.isoformat(),
        "requested_priority": rnd.choice(["P1", "P2", "P3", None]),
        "agent_priority": rnd.choice([None, None, "P1", "P3"]),
        "plan": rnd.choice(["basic", "professional", "advanced", None]),
        "environment": rnd.choice(["production", "staging", "development", None]),
        "category": rnd.choice(["outage", "how_to", "question", "defect"]),
        "product_stage": rnd.choice(["ga", "beta", None]),
        "first_response_at": rnd.choice([None, answered.isoformat()]),
    }


def test_cache_gives_the_same_decisions_as_the_engine(cloudtalk):
    rnd = random.Random(7)
    for i in range(400):
        t = random_ticket(rnd, i)
        cached = evaluate(cloudtalk, t).to_json()
        cold = evaluate(cloudtalk, t, cache=False).to_json()
        assert cached == cold
        schema_validator("decision").validate(cached)


def test_sla_met_and_remaining(cloudtalk):
    t = ticket(requested_priority="P2", plan="professional", environment="production",
               submitted_at="2026-03-06T16:30:00+01:00",
               first_response_at="2026-03-09T14:00:00+01:00")
    d = evaluate(cloudtalk, t, now=datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    assert d.sla is not None
    # Friday 16:30 + 6 business hours (09-17, Bratislava) = Monday 14:30
    assert d.sla.due_at.isoformat() == "2026-03-09T14:30:00+01:00"
    assert d.sla.met is True
    # now = Monday 10:00 local: 4h30 of open time left
    assert d.to_json()["sla"]["remaining"] == "PT4H30M"


def test_advanced_p1_runs_around_the_clock(cloudtalk):
    t = ticket(requested_priority="P1", plan="advanced", environment="production",
               category="outage", submitted_at="2026-03-29T00:30:00Z")
    d = evaluate(cloudtalk, t)
    assert d.sla is not None and d.sla.clock == "calendar"
    # 01:30 CET + one real hour across the spring-forward jump = 03:30 CEST
    assert d.sla.due_at.isoformat() == "2026-03-29T03:30:00+02:00"


def test_no_guarantee_has_null_sla_and_reason(cloudtalk):
    d = evaluate(cloudtalk, ticket(plan="basic", requested_priority="P1"))
    assert d.sla is None
    assert d.to_json()["sla_reason"] == "plan `basic` has no guaranteed response"
    stated = [e for e in d.trace if any(c.field in ("guaranteed", "sla") for c in e.changes)]
    assert [e.rule for e in stated] == ["plans.basic.no-guarantee"]  # said once, by the rule


def test_now_must_be_aware(cloudtalk):
    with pytest.raises(ValueError):
        evaluate(cloudtalk, ticket(), now=datetime(2026, 1, 1))


def test_ticket_schema_file_agrees_with_fact_catalogue():
    from engine.core.facts import CORE_FACTS

    schema = json.loads(Path(ROOT / "schemas" / "ticket.schema.json").read_text())
    paths = set()
    for name, prop in schema["properties"].items():
        if name == "events":  # not a fact: engine.timeline checks them
            continue
        if prop.get("type") == "object" and "properties" in prop:
            paths |= {f"{name}.{sub}" for sub in prop["properties"]}
        else:
            paths.add(name)
    assert paths == {f.path for f in CORE_FACTS}
    for f in CORE_FACTS:
        if f.type == "enum":
            *parent, leaf = f.path.split(".")
            node = schema["properties"][parent[0]]["properties"][leaf] if parent else \
                schema["properties"][leaf]
            assert [v for v in node["enum"] if v is not None] == list(f.enum), f.path


def _random_bundled_ticket(cp, rnd: random.Random, i: int) -> dict:
    """Any value of every fact the rules read (or none), so cache classes are exercised."""
    policy = cp.policy
    t: dict = {"id": f"R{i}", "submitted_at": datetime(
        2026, rnd.randint(1, 12), rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59),
        tzinfo=UTC).isoformat()}
    for path in cp.key_paths:
        spec = policy.facts[path]
        if spec.type == "level":
            options = [*policy.levels, None]
        elif spec.type == "plan":
            options = [*policy.plans, None]
        elif spec.type == "boolean":
            options = [True, False, None]
        elif spec.type == "targets":
            options = [None, {lvl: f"PT{k + 1}H" for k, lvl in enumerate(policy.levels)},
                       {policy.levels[0]: "PT30M"}]
        else:
            options = [*spec.enum, None]
        value = rnd.choice(options)
        if value is not None:
            *parents, leaf = path.split(".")
            node = t
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
    if rnd.random() < 0.5:
        t.setdefault("customer", {})["timezone"] = rnd.choice(["Asia/Tokyo", "America/Denver"])
    return t


@pytest.mark.parametrize("pid", ["cloudtalk", "credenti", "csd-group", "zmanda"])
def test_cache_classes_are_exact_for_every_bundled_policy(pid):
    from engine.run.evaluator import clear_cache

    cp = load_policy(pid)
    rnd = random.Random(pid)
    tickets = [_random_bundled_ticket(cp, rnd, i) for i in range(600)]
    clear_cache()
    for t in tickets:  # fill the cache, then compare hits (with other values) to the engine
        evaluate(cp, t)
    for t in tickets[::-1]:
        cached = evaluate(cp, t).to_json()
        assert cached == evaluate(cp, t, cache=False).to_json(), t


def test_cache_never_lends_another_files_provenance(tmp_path, cloudtalk):
    source = (ROOT / "rules" / "cloudtalk" / "policy.yaml").read_text("utf-8")
    copy = tmp_path / "shifted.yaml"
    copy.write_text("# a\n# b\n# c\n" + source, "utf-8")
    shifted = load_policy(str(copy))
    assert shifted.digest == cloudtalk.digest  # same content, other file and lines
    t = ticket(requested_priority="P1", environment="staging", plan="professional")


    def cited(policy):
        return next(e.citation for e in evaluate(policy, t).trace
                    if e.rule == "p1-production-only")

    original = cited(cloudtalk)  # fills the cache first
    moved = cited(shifted)
    assert (original.path, moved.path) == ("policy.yaml", "shifted.yaml")
    assert moved.line == original.line + 3


def test_integral_float_counts_as_integer(make_policy):
    from conftest import BASE

    cp = make_policy("rules:\n  - id: big\n    when: {seats: {ge: 9}}\n    then: {assign: P1}\n",
                     BASE + "facts:\n  seats: {type: integer}\n")
    d = evaluate(cp, ticket(seats=9.0), cache=False)
    assert d.priority == "P1" and dict(d.trace[0].matched)["seats"] == 9
    with pytest.raises(TicketError):
        evaluate(cp, ticket(seats=9.5))


def test_missing_field_and_timestamp_errors_carry_hints(cloudtalk):
    with pytest.raises(TicketError) as exc:
        evaluate(cloudtalk, {"id": "x", "submitted_at": "2026-03-02 10:00"})
    assert all(d.hint for d in exc.value.diagnostics)
    with pytest.raises(TicketError) as exc:
        evaluate(cloudtalk, {"submitted_at": "2026-03-02T10:00:00Z"})
    assert exc.value.diagnostics[0].hint == "add `id` to the ticket"
