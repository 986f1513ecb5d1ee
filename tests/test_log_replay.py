"""Replay re-evaluates logged decisions under the logged policy source and `now`: every golden
decision and a 10,000-ticket log reproduce exactly; a decision that differs is reported with
both traces' differing steps; a record whose source is gone is reported, not skipped."""

from __future__ import annotations

import sqlite3

import pytest
from log_helpers import build_log, example_entries

from engine import Decision, Evaluator
from engine.ops.log import DecisionLog, Entry
from engine.ops.log.query import LogReader
from engine.ops.replay import compare, replay, ticket_of


def test_every_golden_decision_replays_exactly(tmp_path):
    path = tmp_path / "log.db"
    ev = Evaluator()
    found = example_entries(ev)
    with DecisionLog.open(path) as log:
        log.append_many([Entry(d, cp, t, f"r-{i}") for i, (d, cp, t, _) in enumerate(found)])
    ev.close()
    with LogReader(path) as reader:   # the log holds each golden decision exactly
        for i, (_, _, _, golden) in enumerate(found):
            assert reader.get(str(i + 1)).decision_json == {**golden, "request_id": f"r-{i}"}
    report = replay(path)
    assert report.ok, report.to_json()
    assert report.records == report.reproduced == len(found)


def test_a_small_mixed_log_replays(tmp_path):
    path = tmp_path / "log.db"
    build_log(path, 300, seed=4)
    report = replay(path)
    assert report.ok and report.reproduced == 300
    assert replay(path, policy="zmanda").records == 75
    assert replay(path, since="2999-01-01T00:00:00Z").records == 0


@pytest.mark.slow
def test_a_ten_thousand_ticket_log_replays_exactly(tmp_path):
    path = tmp_path / "log.db"
    build_log(path, 10_000, seed=9, chunk=1000)
    report = replay(path)
    assert report.ok, report.to_json()["differences"][:3]
    assert report.reproduced == 10_000


def test_a_decision_that_differs_is_reported_with_its_steps(tmp_path):
    ev = Evaluator()
    (decision, cp, ticket, _), *_ = example_entries(ev)
    ev.close()
    altered = decision.to_json()
    altered["priority"] = "P2" if altered["priority"] != "P2" else "P1"
    altered["trace"][0]["changes"][0]["after"] = "P9"
    forged = Decision(ticket_id=decision.ticket_id, policy=decision.policy, now=decision.now,
                      requested_priority=decision.requested_priority,
                      outcome=Decision.from_json(altered).outcome, sla=decision.sla,
                      inputs=(cp.input_paths, {**decision.input_facts}))
    path = tmp_path / "log.db"
    with DecisionLog.open(path) as log:
        log.append(decision, policy=cp, ticket=ticket)
        log.append(forged, policy=cp, ticket=ticket)
    report = replay(path)
    assert not report.ok and report.reproduced == 1
    (diff,) = report.differences
    assert diff.seq == 2 and "priority" in diff.fields and "trace" in diff.fields
    logged, replayed = diff.steps[0]
    assert logged["changes"][0]["after"] == "P9" and replayed["changes"][0]["after"] != "P9"


def test_a_record_whose_source_is_gone_is_not_replayed(tmp_path):
    path = tmp_path / "log.db"
    build_log(path, 8, seed=2)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM blobs WHERE rowid IN (SELECT rowid FROM blobs LIMIT 1)")
    conn.commit()
    conn.close()
    report = replay(path)
    assert not report.ok and report.not_replayed
    assert "no policy source" in report.not_replayed[0].message


def test_ticket_of_nests_paths_and_compare_names_fields():
    assert ticket_of({"id": "T", "customer.segment": "trial", "customer.timezone": "UTC"}) == \
        {"id": "T", "customer": {"segment": "trial", "timezone": "UTC"}}
    fields, steps = compare({"a": 1, "trace": [{"x": 1}, {"y": 2}]},
                            {"a": 2, "trace": [{"x": 1}]})
    assert fields == ("a", "trace") and steps == (({"y": 2}, None),)
