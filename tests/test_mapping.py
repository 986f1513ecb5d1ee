"""Helpdesk payload mappings (issue 9, part 2): the bundled Zendesk and Jira mappings turn their
example payloads into the hand-written tickets' decisions; bad mappings are rejected at the
mapping file's line and column; payload problems point at the payload."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import ROOT

from cli import main
from engine import app, bundled, evaluate, load_policy
from engine.check.mapping import apply_mapping, load_mapping
from engine.load import load_yaml_file
from engine.load.mappings import bundled_mappings

PAYLOADS = sorted(p for p in (ROOT / "examples").glob("*/*.json")
                  if p.parent.name in ("zendesk", "jira"))
MAPPING_SCHEMA = json.loads((ROOT / "schemas" / "mapping.schema.json").read_text())


def policy_of(stem: str) -> str:
    return next(pid for pid in sorted(bundled(), key=len, reverse=True)
                if stem.startswith(pid + "-"))


def test_bundled_mappings_and_their_examples():
    assert set(bundled_mappings()) == {"zendesk", "jira"}
    assert {p.parent.name for p in PAYLOADS} == {"zendesk", "jira"}
    for path in bundled_mappings().values():
        doc, diags = load_yaml_file(path)
        assert not diags
        jsonschema.validate(doc.data, MAPPING_SCHEMA)
        for pid in bundled():  # a mapping is written for tickets, not for one policy
            found, problems = load_mapping(path, load_policy(pid).policy.facts)
            assert found is not None, problems


@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"{p.parent.name}/{p.stem}" for p in PAYLOADS])
def test_mapped_payload_decides_as_the_hand_written_ticket(payload):
    twin = ROOT / "examples" / f"{payload.stem}.json"
    policy = policy_of(payload.stem)
    mapped = app.decide(policy, payload, mapping=payload.parent.name)
    by_hand = app.decide(policy, twin)
    assert mapped.ok and by_hand.ok, (mapped.diagnostics, by_hand.diagnostics)
    assert mapped.diagnostics == () and mapped.decision.warnings == ()
    assert mapped.decision.to_json() == by_hand.decision.to_json()
    written = json.loads(twin.read_text("utf-8"))
    ignored = set(load_policy(policy).policy.ignore_fields)
    assert mapped.ticket_data == {k: v for k, v in written.items() if k not in ignored}


def test_mapping_is_one_pure_step():
    payload = json.loads((ROOT / "examples/jira/zmanda-jira-trial.json").read_text())
    before = copy.deepcopy(payload)
    mapping, _ = app.mapping_for("jira", load_policy("zmanda"))
    first, second = apply_mapping(mapping, payload), apply_mapping(mapping, payload)
    assert first == second and payload == before
    assert first.ticket["submitted_at"] == "2026-12-25T10:00:00.000+01:00"  # `+0100` converted
    assert first.origins["customer.timezone"].prefix == "/fields/reporter/timeZone"


def test_the_premium_due_time_of_a_jira_trial_is_shown_in_the_reporters_zone():
    decided = app.decide("zmanda", ROOT / "examples/jira/zmanda-jira-trial.json", mapping="jira")
    assert decided.decision.sla.due_at.isoformat() == "2026-12-25T10:15:00+01:00"
    assert decided.decision.sla.met is True  # answered at 10:12 (the SLA's completed cycle)


# ---- bad mappings: file:line:col of the mapping ---------------------------------------------

BAD = """\
id: bad
title: A mapping with mistakes
facts:
  id: key
  submitted_at: "fields.created |"
  enviroment: fields.environment
  priority: fields.priority.name
  channel:
    from: fields.channel
    map: {Web: portl}
"""


def _bad(tmp_path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, "utf-8")
    return path


def test_a_bad_mapping_is_rejected_with_file_line_col(tmp_path):
    found, diags = load_mapping(_bad(tmp_path), load_policy("cloudtalk").policy.facts)
    assert found is None
    got = sorted((d.code, d.location.line, d.location.column, d.hint) for d in diags)
    assert got == [
        ("mapping_bad_expression", 5, 34, got[0][3]),   # where it ends too early, after `|`
        ("mapping_bad_value", 10, 16, "did you mean `portal`?"),
        ("mapping_unknown_fact", 6, 3, "did you mean `environment`?"),
        ("mapping_unknown_fact", 7, 3, "`priority` is decided by the policy, not read from a "
                                       "ticket; map the helpdesk's priority to "
                                       "`requested_priority`"),
    ]
    assert all(d.location.file.endswith("bad.yaml") for d in diags)


@pytest.mark.parametrize("expression, column", [
    ("fields.[", 9), ("a[?id==`1`", 11), ("foo bar", 5), ("'unterminated", 1)])
def test_expression_errors_point_at_the_offending_character(tmp_path, expression, column):
    path = tmp_path / "m.yaml"
    path.write_text(f"id: m\ntitle: M\nfacts:\n  id: {json.dumps(expression)}\n", "utf-8")
    _, diags = load_mapping(path, load_policy("cloudtalk").policy.facts)
    (d,) = diags
    assert (d.code, d.location.line) == ("mapping_bad_expression", 4)
    assert d.location.column == 7 + column, d.render()


def test_cli_rejects_a_bad_mapping_before_reading_the_payload(tmp_path):
    path = _bad(tmp_path)
    done = subprocess.run([sys.executable, "cli.py", "evaluate", "-p", "cloudtalk", "--mapping",
                           str(path), "examples/zendesk/cloudtalk-zendesk-staging.json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert f"{path}:5:34: error[mapping_bad_expression]" in done.stderr
    assert f"{path}:6:3: error[mapping_unknown_fact]: unknown fact `enviroment`" in done.stderr


def test_an_unknown_mapping_is_a_usage_error():
    r = CliRunner().invoke(main, ["evaluate", "-p", "cloudtalk", "--mapping", "zendesc",
                                  "examples/zendesk/cloudtalk-zendesk-staging.json"])
    assert r.exit_code == 2
    assert "error[unknown_mapping]: no mapping `zendesc`" in r.stderr
    assert "did you mean `zendesk`?" in r.stderr


def test_a_schema_problem_of_the_mapping_file(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("id: m\ntitle: M\nfacts:\n  id: {from: key, requird: true}\n", "utf-8")
    _, diags = load_mapping(path, load_policy("cloudtalk").policy.facts)
    assert [(d.code, d.location.line, d.hint) for d in diags] == [
        ("mapping_schema", 4, "did you mean `required`?")]


# ---- payload problems: at the payload, naming the mapping's line -----------------------------

def _payload(tmp_path, change) -> str:
    data = json.loads((ROOT / "examples/zendesk/cloudtalk-zendesk-staging.json").read_text())
    change(data)
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(data, indent=2), "utf-8")
    return str(path)


def _line_of(path: str, text: str) -> int:
    return next(i for i, line in enumerate(Path(path).read_text().splitlines(), 1)
                if text in line)


def test_an_unmapped_value_points_at_the_payload_and_the_mapping(tmp_path):
    path = _payload(tmp_path, lambda d: d["ticket"].update(priority="critical"))
    r = app.decide("cloudtalk", Path(path), mapping="zendesk")
    (d,) = r.diagnostics
    assert r.status == app.Status.INPUT_ERROR and d.code == "mapping_unmapped_value"
    assert (d.location.file, d.location.line) == (path, _line_of(path, '"priority": "critical"'))
    assert d.location.pointer == "/ticket/priority"
    mapping_line = _line_of(str(ROOT / "mappings/zendesk.yaml"), "requested_priority:")
    assert f"mappings/zendesk.yaml:{mapping_line}:3" in d.hint
    assert "`urgent`, `high`, `normal`, `low`" in d.hint


def test_every_problem_of_a_payload_is_reported_at_once(tmp_path):
    def two_problems(d):
        d["ticket"]["priority"] = "critical"
        d["users"][0]["iana_time_zone"] = "Europe/Prag"
    path = _payload(tmp_path, two_problems)
    r = app.decide("cloudtalk", Path(path), mapping="zendesk")
    assert sorted(d.code for d in r.diagnostics) == ["mapping_unmapped_value",
                                                     "ticket_unknown_timezone"]


def test_a_missing_required_value(tmp_path):
    path = _payload(tmp_path, lambda d: d["ticket"].pop("created_at"))
    r = app.decide("cloudtalk", Path(path), mapping="zendesk")
    assert [(d.code, d.location.pointer) for d in r.diagnostics] == [
        ("mapping_missing_value", "/ticket/created_at")]


def test_a_mapped_ticket_problem_is_placed_in_the_payload(tmp_path):
    def bad_zone(d):
        d["users"][0]["iana_time_zone"] = "Europe/Prag"
        d["ticket"]["custom_fields"][1]["value"] = "prod"
    path = _payload(tmp_path, bad_zone)
    r = app.decide("cloudtalk", Path(path), mapping="zendesk")
    got = {d.code: d for d in r.diagnostics}
    assert set(got) == {"ticket_unknown_timezone", "ticket_enum"}
    zone = got["ticket_unknown_timezone"]
    assert zone.location.pointer == "/users" and zone.location.file == path
    assert "did you mean `Europe/Prague`?" in zone.hint and "mappings/zendesk.yaml:" in zone.hint
    assert got["ticket_enum"].location.pointer == "/ticket/custom_fields"


def test_defaults_and_value_maps(tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("""\
id: m
title: M
facts:
  id: {from: ref, required: true}
  submitted_at: {from: opened, convert: timestamp}
  environment: {from: env, default: production}
  customer.reachable: {from: on_call, map: {"true": true, "false": false}}
  category: {default: question}
""", "utf-8")
    payload = tmp_path / "p.json"
    payload.write_text(json.dumps({"ref": "X-1", "opened": "2026-03-02T10:00:00+0100",
                                   "on_call": False}), "utf-8")
    r = app.decide("credenti", payload, mapping=mapping)
    assert r.ok, r.diagnostics
    assert r.ticket_data == {"id": "X-1", "submitted_at": "2026-03-02T10:00:00+01:00",
                             "environment": "production", "customer": {"reachable": False},
                             "category": "question"}


def test_explain_and_why_not_take_the_mapping():
    payload = "examples/jira/zmanda-jira-matrix-override.json"
    r = CliRunner().invoke(main, ["explain", "-p", "zmanda", "-m", "jira", payload])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("ticket ZM-501 under zmanda")
    r = CliRunner().invoke(main, ["explain", "-p", "zmanda", "-m", "jira", "--why-not",
                                  "trial-gets-premium", payload])
    assert r.exit_code == 0 and "customer.segment" in r.stdout


def test_the_mapped_decision_is_what_evaluate_gives_for_the_mapped_ticket():
    payload = ROOT / "examples/zendesk/csd-group-zendesk-unclassified.json"
    decided = app.decide("csd-group", payload, mapping="zendesk")
    assert decided.decision == evaluate(load_policy("csd-group"), decided.ticket_data)
