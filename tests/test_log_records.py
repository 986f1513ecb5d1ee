"""The log record: fast serialisation is exactly the canonical JSON, facts are the input digest's
preimage, audit fields and sensitive hashes, SLA status, UUIDv7 ids."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
from log_helpers import NOW, example_entries, tickets

from engine import Evaluator, bundled, load_policy
from engine.core.decision import Decision, canonical_json, sha256_of
from engine.ops.log import records, serialize
from engine.ops.log.ids import uuid7, uuid7_time_ms
from engine.ops.log.records import decision_of, sla_status
from engine.ops.log.sources import source_of
from engine.timeline.evaluator import TimelineEvaluator

KEY = b"k" * 32


@pytest.fixture(scope="module")
def evaluator():
    ev = Evaluator()
    yield TimelineEvaluator(ev)   # as `engine.evaluate`: decisions with history and clocks
    ev.close()


def _check_record(decision, cp, ticket):
    prepared = records.prepare(decision, cp, ticket, source_of(cp), KEY)
    text = prepared.text(7, "2026-01-01T00:00:00.000Z")
    record = json.loads(text)
    assert canonical_json(record) == text                     # canonical by construction
    assert record["seq"] == 7 and record["format"] == records.FORMAT
    outcome = json.loads(prepared.outcome_text)
    assert canonical_json(outcome) == prepared.outcome_text
    assert prepared.outcome_digest == record["outcome_digest"] == sha256_of(outcome)
    assert decision_of(record, outcome) == decision.to_json()   # the full decision, exactly
    assert set(record["decision"]) <= set(serialize.PER_TICKET)
    assert set(outcome) == set(serialize.PER_OUTCOME)
    sla = decision.to_json()["sla"]
    assert serialize.sla_state(decision.sla) == sla_status(sla) == prepared.sla_status
    assert record["facts"] == decision.input_facts
    assert record["decision"]["input_digest"] == sha256_of(record["facts"])
    return record, outcome


def test_golden_decisions_serialise_exactly(evaluator):
    for decision, cp, ticket, golden in example_entries(evaluator):
        record, outcome = _check_record(decision, cp, ticket)
        assert decision_of(record, outcome) == golden
        assert list(decision_of(record, outcome)) == list(golden)   # the same key order


@pytest.mark.parametrize("policy_id", sorted(bundled()))
@pytest.mark.parametrize("cache", [True, False])
def test_generated_decisions_serialise_exactly(evaluator, policy_id, cache):
    """Cached outcomes (shared parts, re-matched traces) and fresh ones alike."""
    cp = load_policy(policy_id)
    batch = tickets(cp, 200, seed=5)
    now = NOW if cache else None   # with `now`: `remaining`, some of it negative
    for decision, ticket in zip(evaluator.evaluate_many(cp, batch, cache=cache, now=now), batch,
                                strict=True):
        _check_record(decision, cp, ticket)
        _check_record(decision.with_request_id("r-1"), cp, ticket)


def test_serialiser_knows_every_decision_key(evaluator):
    decision, *_ = example_entries(evaluator)[0]
    keys = set(decision.with_request_id("x").to_json())
    assert keys == set(serialize.PER_TICKET) | set(serialize.PER_OUTCOME), (
        "Decision.to_json changed: list the new key in serialize.PER_TICKET or PER_OUTCOME")


def test_a_decision_read_from_json_cannot_be_logged(evaluator):
    decision, cp, ticket, _ = example_entries(evaluator)[0]
    with pytest.raises(ValueError, match="carries no facts"):
        records.prepare(Decision.from_json(decision.to_json()), cp, ticket, source_of(cp), KEY)


def test_policy_and_request_must_agree(evaluator):
    (d1, cp1, t1, _), (d2, cp2, *_rest) = example_entries(evaluator)[:2]
    if cp1.id == cp2.id:
        cp2 = load_policy("zmanda")
    with pytest.raises(ValueError, match="logged with policy"):
        records.prepare(d1, cp2, t1, source_of(cp2), KEY)
    with pytest.raises(ValueError, match="answers request"):
        records.prepare(d1.with_request_id("a"), cp1, t1, source_of(cp1), KEY, "b")


def test_audit_fields_and_sensitive_hashes(make_policy, evaluator):
    cp = make_policy("""
        audit_fields: [subject, customer.account]
        sensitive: [customer.email]
        rules:
          - id: p1-prod
            when: {environment: production}
            then: {assign: P1}
    """)
    ticket = {"id": "T-9", "submitted_at": "2026-03-02T10:00:00+01:00",
              "environment": "production", "subject": "Router down",
              "customer": {"account": "ACME-1", "email": "ops@acme.example"}}
    record, _ = _check_record(evaluator.evaluate(cp, ticket), cp, ticket)
    expected = "hmac-sha256:" + hmac.new(KEY, b'"ops@acme.example"', hashlib.sha256).hexdigest()
    assert record["audit"] == {"subject": "Router down", "customer.account": "ACME-1",
                               "customer.email": expected}
    assert "ops@acme" not in json.dumps(record)
    assert record["facts"]["environment"] == "production"
    del ticket["subject"]   # absent audit fields are left out
    assert "subject" not in _check_record(evaluator.evaluate(cp, ticket), cp, ticket)[0]["audit"]


def test_sla_status():
    assert sla_status(None) == "none"
    assert sla_status({"met": True}) == "met"
    assert sla_status({"met": False}) == "breached"
    assert sla_status({"met": None, "remaining": "-PT1H"}) == "overdue"
    assert sla_status({"met": None, "remaining": "PT1H"}) == "open"
    assert sla_status({"met": None}) == "open"


def test_uuid7_layout_and_order():
    ids = [uuid7() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)      # time-ordered, and monotonic within a millisecond
    u = uuid.UUID(ids[0])
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert abs(uuid7_time_ms(uuid7()) - time.time() * 1000) < 2000
