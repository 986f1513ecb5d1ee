"""The use cases of engine.app called directly: data back, never output, exits or raised input
errors."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import BASE, ROOT, policy_text

from engine import app
from engine.app import Status
from engine.usecases import base

EXAMPLE = ROOT / "examples" / "cloudtalk-staging-p1.json"
TEXT = EXAMPLE.read_text("utf-8")


@pytest.fixture(autouse=True)
def _quiet(capsys):
    """No use case prints anything."""
    yield
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def codes(result) -> list[str]:
    return [d.code for d in result.diagnostics]


# --------------------------------------------------------------------------- decide


@pytest.mark.parametrize("source", [TEXT, TEXT.encode(), b"\xef\xbb\xbf" + TEXT.encode(),
                                    io.BytesIO(TEXT.encode()), EXAMPLE],
                         ids=["str", "bytes", "bom", "stream", "path"])
def test_decide_takes_text_bytes_a_stream_or_a_path(source):
    r = app.decide("cloudtalk", source, source_name="t.json")
    assert r.ok and r.status == "ok" and r.diagnostics == ()
    assert r.decision.priority == "P3" and r.policy.id == "cloudtalk"
    assert r.ticket_data["id"] == "CT-1042"


def test_decide_with_now():
    r = app.decide("cloudtalk", TEXT, now_text="2026-03-09T09:00:00+01:00")
    assert r.ok and r.decision.sla.remaining == timedelta(hours=8, minutes=30)


@pytest.mark.parametrize(("text", "code"), [
    ('{"id": "x",', "json_syntax"),
    ('{"id": "a", "id": "b", "submitted_at": "2026-01-01T00:00:00Z"}', "json_duplicate_key"),
    ('{"id": "a", "submitted_at": "2026-01-01T00:00:00Z", "n": NaN}', "json_non_finite"),
    ('{"id": "a"}', "ticket_missing_field"),
    ('[1, 2]', "ticket_type"),
    ('{"id": "a", "submitted_at": "2026-01-01T00:00:00"}', "ticket_no_offset"),
    ('{"id": "\\ud800", "submitted_at": "2026-01-01T00:00:00Z"}', "ticket_encoding"),
    ("", "json_syntax"),
])
def test_bad_tickets_come_back_as_diagnostics(text, code):
    r = app.decide("cloudtalk", text, source_name="in.json")
    assert r.status == Status.INPUT_ERROR and not r.ok and r.decision is None
    assert code in codes(r)
    assert all(str(d.location).startswith("in.json") for d in r.diagnostics)


def test_ticket_problems_are_located_in_the_text():
    text = ('{\n  "id": 5,\n  "submitted_at": "2026-01-01T00:00:00",\n'
            '  "environment": "prod",\n  "customer": {"reachable": "no"}\n}')
    r = app.decide("cloudtalk", text, source_name="t.json")
    assert [(d.location.line, d.location.column) for d in r.diagnostics] == [
        (2, 9), (3, 19), (4, 18), (5, 29)]
    assert r.diagnostics[2].location.pointer == "/environment"
    assert r.diagnostics[2].hint == "did you mean `production`?"


def test_unreadable_tickets():
    r = app.decide("cloudtalk", Path("/nonexistent/ticket.json"))
    assert r.status == Status.INPUT_ERROR and codes(r) == ["file_unreadable"]
    assert r.diagnostics[0].location.file == "/nonexistent/ticket.json"
    r = app.decide("cloudtalk", b'{"id": "caf\xe9"}', source_name="<stdin>")
    [d] = r.diagnostics
    assert d.code == "file_unreadable" and (d.location.file, d.location.line) == ("<stdin>", 1)


def test_bad_now_is_reported_with_every_ticket_problem():
    r = app.decide("cloudtalk", '{"id": 5, "submitted_at": "2026-01-01T00:00:00Z"}',
                   source_name="<stdin>", now_text="yesterday")
    assert r.status == Status.INPUT_ERROR
    assert {d.code: str(d.location) for d in r.diagnostics} == {
        "bad_now": "--now", "ticket_type": "<stdin>:1:8"}


def test_bad_now_and_unreadable_ticket_together():
    r = app.decide("cloudtalk", Path("/nonexistent.json"), now_text="2026-01-01T00:00")
    assert sorted(codes(r)) == ["bad_now", "file_unreadable"]


def test_policy_problems_are_reported_alone():
    r = app.decide("cloudtlak", "[", now_text="yesterday")
    assert r.status == Status.POLICY_ERROR and r.policy is None
    assert codes(r) == ["unknown_policy"] and r.diagnostics[0].hint == "did you mean `cloudtalk`?"


def test_an_invalid_policy_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntitle: t\nversion: 1\nsources: []\nlevels: [P1]\nrules: []\non: 1\n")
    r = app.decide(bad, TEXT)
    assert r.status == Status.POLICY_ERROR and "yaml_ambiguous_bool" in codes(r)


@pytest.fixture
def closed(tmp_path) -> Path:
    """A policy whose `office` calendar is open one hour, on 2 March 2026."""
    base = BASE.replace('hours: {mon-fri: ["09:00-17:00"]}',
                        'hours: {}\n    overrides: {"2026-03-02": ["09:00-10:00"]}')
    path = tmp_path / "closed.yaml"
    path.write_text(policy_text("rules:\n  - {id: p1, then: {assign: P1}}\n", base), "utf-8")
    return path


def test_a_policy_that_fails_to_decide(closed):
    r = app.decide(closed, json.dumps({"id": "T", "submitted_at": "2026-03-02T10:30:00+01:00"}))
    assert r.status == Status.FAILED and r.decision is None
    [d] = r.diagnostics
    assert d.code == "calendar_exhausted" and d.location.file == r.policy.policy.file


# --------------------------------------------------------------------------- the policy cache


def test_a_second_decide_reuses_the_compiled_policy(monkeypatch):
    app.clear_policy_cache()
    loads = []
    real = base.load_policy   # the use cases compile a policy in engine/usecases/base.py
    monkeypatch.setattr(base, "load_policy", lambda p: loads.append(p) or real(p))
    first = app.decide("cloudtalk", TEXT)
    second = app.decide("cloudtalk", TEXT.encode(), cache=False)
    third = app.decide(ROOT / "rules" / "cloudtalk", TEXT)  # the same file, named otherwise
    assert first.ok and second.ok and third.ok
    assert first.policy is second.policy is third.policy
    assert len(loads) == 1
    assert app.compiled("cloudtalk")[0] is first.policy


def test_a_changed_policy_file_is_recompiled(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(policy_text("rules:\n  - {id: p1, then: {assign: P1}}\n"), "utf-8")
    ticket = json.dumps({"id": "T", "submitted_at": "2026-03-02T10:30:00+01:00"})
    first = app.decide(path, ticket)
    assert app.decide(path, ticket).policy is first.policy
    path.write_text(policy_text("rules:\n  - {id: p2, then: {assign: P2}}\n"), "utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = app.decide(path, ticket)
    assert second.policy is not first.policy and second.decision.priority == "P2"
    path.write_text("rules: [", "utf-8")
    assert app.decide(path, ticket).status == Status.POLICY_ERROR


# --------------------------------------------------------------------------- why not


def test_why_not():
    r = app.why_not("cloudtalk", TEXT, "p1-how-to-is-general")
    assert r.ok and r.decided.decision.priority == "P3"
    [report] = r.report["reports"]
    assert report["rule"] == "p1-how-to-is-general" and report["fired"] is False


def test_why_not_unknown_rule_and_bad_ticket():
    r = app.why_not("cloudtalk", TEXT, "p1-production-onyl")
    assert r.status == Status.INPUT_ERROR and codes(r) == ["unknown_rule"]
    assert r.diagnostics[0].hint == "did you mean `p1-production-only`?"
    r = app.why_not("cloudtalk", "{", "p1-production-only")
    assert r.status == Status.INPUT_ERROR and codes(r) == ["json_syntax"] and r.report is None


# --------------------------------------------------------------------------- validate and lint


def test_check_paths(tmp_path):
    r = app.check_paths([str(ROOT / "rules")], lint=True)
    assert (r.files, r.diagnostics, r.findings, r.unusable_paths) == (4, (), 0, False)
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntitle: t\nversion: 1\nsources: []\nlevels: [P1]\nrules: []\non: 1\n")
    r = app.check_paths([str(bad), str(tmp_path / "missing.yaml")], lint=False)
    assert r.files == 1 and r.errors == r.findings >= 1 and r.unusable_paths
    assert {"yaml_ambiguous_bool", "unknown_policy"} <= set(codes(r))


def test_lint_counts_every_finding():
    fixture = ROOT / "tests" / "fixtures" / "lint" / "unused_fact.yaml"
    validated = app.check_paths([str(fixture)], lint=False)
    linted = app.check_paths([str(fixture)], lint=True)
    assert validated.findings == 0 and linted.findings == len(linted.diagnostics) > 0
    assert linted.errors == 0  # an info finding still fails lint


# --------------------------------------------------------------------------- policy tests


def test_run_policy_tests():
    r = app.run_policy_tests([ROOT / "rules" / "zmanda"], min_coverage=100)
    assert r.passed > 0 and r.failed == () and r.low_coverage == ()
    assert [c.policy_id for c in r.coverage] == ["zmanda"] and r.coverage[0].percent == 100
    assert not r.bad_test_files


def test_run_policy_tests_bad_paths(tmp_path):
    r = app.run_policy_tests([tmp_path / "nope"])
    assert r.bad_test_files and codes(r) == ["test_path_missing"] and r.results == ()


# --------------------------------------------------------------------------- calendars


def test_due_and_elapsed():
    r = app.due("cloudtalk", "office", "2026-03-06T16:30:00+01:00", "PT3H")
    assert r.ok and r.due.isoformat() == "2026-03-09T11:30:00+01:00"
    r = app.due("zmanda", "standard", "2026-03-06T16:00:00+09:00", "PT2H", timezone="Asia/Tokyo")
    assert r.due == datetime.fromisoformat("2026-03-09T09:00:00+09:00")
    r = app.elapsed("cloudtalk", "office", "2026-03-09T10:00:00+01:00",
                    "2026-03-06T16:30:00+01:00")
    assert r.ok and r.elapsed == -timedelta(hours=1, minutes=30)


@pytest.mark.parametrize(("args", "kw", "code", "option"), [
    (("ofice", "2026-03-06T16:30:00Z", "PT1H"), {}, "unknown_calendar", "--calendar"),
    (("office", "2026-03-06T16:30:00", "PT1H"), {}, "bad_timestamp", "--from"),
    (("office", "2026-03-06T16:30:00Z", "3h"), {}, "bad_duration", "--within"),
    (("office", "2026-03-06T16:30:00Z", "PT0S"), {}, "bad_duration", "--within"),
    (("office", "2026-03-06T16:30:00Z", "PT1H"), {"timezone": "Europe/Pariss"},
     "unknown_timezone", "--timezone"),
    (("office", "2026-03-06T16:30:00Z", "PT1H"), {"timezone": "Europe/Paris"},
     "fixed_timezone", "--timezone"),
])
def test_due_bad_options_one_diagnostic_at_the_option(args, kw, code, option):
    r = app.due("cloudtalk", *args, **kw)
    assert r.status == Status.INPUT_ERROR and r.due is None
    [d] = r.diagnostics
    assert (d.code, d.location.file) == (code, option)


def test_a_calendar_without_open_time_ahead(closed):
    r = app.due(closed, "office", "2026-03-02T10:30:00+01:00", "PT1H")
    assert [(d.code, d.location.file) for d in r.diagnostics] == [
        ("calendar_exhausted", "--calendar")]
    assert r.status == Status.INPUT_ERROR  # as the CLI: exit 2, not 3


def test_calendar_queries_on_an_unknown_policy():
    assert app.due("nope", "office", "x", "y").status == Status.POLICY_ERROR
    r = app.elapsed("nope", "office", "x", "y")
    assert r.status == Status.POLICY_ERROR and codes(r) == ["unknown_policy"]
    r = app.elapsed("cloudtalk", "office", "2026-03-02T10:00:00Z", "tomorrow")
    assert [(d.code, d.location.file) for d in r.diagnostics] == [("bad_timestamp", "--to")]


# --------------------------------------------------------------------------- bundled policies


def test_list_policies():
    r = app.list_policies()
    assert r.ok and [p.id for p in r.policies] == ["cloudtalk", "credenti", "csd-group",
                                                   "zmanda"]
    row = r.policies[0].to_json()
    assert list(row) == ["id", "version", "digest", "title", "file", "effective_from",
                         "effective_until"]
    assert row["digest"].startswith("sha256:")
    assert row["effective_from"] is None  # the bundled policies are undated single versions
