"""Ticket events: every impossible, misplaced or malformed event is an input error with its JSON
pointer, all of them listed at once (API: TicketError; CLI: exit 2)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner
from conftest import ROOT

from cli import main
from engine import TicketError, evaluate, load_policy
from engine.run.evaluator import evaluate as snapshot

SUBMITTED = "2026-03-10T10:00:00+01:00"


@pytest.fixture(scope="module")
def cloudtalk():
    return load_policy("cloudtalk")


def ticket(*events, **fields) -> dict:
    return {"id": "CT-9", "submitted_at": SUBMITTED, "plan": "professional",
            "requested_priority": "P2", "environment": "production", **fields,
            "events": list(events)}


def at(hour: int, minute: int = 0, day: int = 10) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00+01:00"


def problems(policy, data, **kw) -> list[tuple[str, str]]:
    with pytest.raises(TicketError) as exc:
        evaluate(policy, data, **kw)
    return [(d.code, d.location.pointer) for d in exc.value.diagnostics]


BAD = [
    ({"at": at(9), "type": "reply", "by": "agent"}, "ticket_event_before_submission",
     "/events/0/at"),
    ({"at": "2026-03-10T11:00:00", "type": "reply", "by": "agent"}, "ticket_no_offset",
     "/events/0/at"),
    ({"at": "soon", "type": "reply", "by": "agent"}, "ticket_timestamp", "/events/0/at"),
    ({"type": "reply", "by": "agent"}, "ticket_event_missing_key", "/events/0"),
    ({"at": at(11), "type": "replied", "by": "agent"}, "ticket_event_type", "/events/0/type"),
    ({"at": at(11), "type": "reply", "by": "agent", "channel": "email"},
     "ticket_event_unknown_key", "/events/0/channel"),
    ({"at": at(11), "type": "reply"}, "ticket_event_missing_key", "/events/0"),
    ({"at": at(11), "type": "reply", "by": "bot"}, "ticket_enum", "/events/0/by"),
    ({"at": at(11), "type": "status", "status": "waiting"}, "ticket_enum", "/events/0/status"),
    ({"at": at(11), "type": "status", "status": "open"}, "ticket_event_status",
     "/events/0/status"),
    ({"at": at(11), "type": "status", "status": "reopened"}, "ticket_event_status",
     "/events/0/status"),
    ({"at": at(11), "type": "agent_priority", "level": "P7"}, "ticket_unknown_level",
     "/events/0/level"),
    ({"at": at(11), "type": "fact", "fact": "enviroment", "value": "staging"},
     "ticket_event_fact", "/events/0/fact"),
    ({"at": at(11), "type": "fact", "fact": "submitted_at", "value": at(9)},
     "ticket_event_fact", "/events/0/fact"),
    ({"at": at(11), "type": "fact", "fact": "environment", "value": "prod"}, "ticket_enum",
     "/events/0/value"),
    ({"at": at(11), "type": "fact", "fact": "customer.reachable", "value": "no"}, "ticket_type",
     "/events/0/value"),
    ("reply", "ticket_type", "/events/0"),
]


@pytest.mark.parametrize(("event", "code", "pointer"), BAD, ids=[b[1] + b[2] for b in BAD])
def test_a_bad_event_is_reported_at_its_pointer(cloudtalk, event, code, pointer):
    assert (code, pointer) in problems(cloudtalk, ticket(event))


def test_events_must_be_a_list(cloudtalk):
    data = dict(ticket(), events={"at": at(11)})
    assert problems(cloudtalk, data) == [("ticket_type", "/events")]


def test_out_of_order_and_duplicate_events(cloudtalk):
    reply = {"at": at(12), "type": "reply", "by": "customer"}
    found = problems(cloudtalk, ticket(reply, {"at": at(11), "type": "reply", "by": "agent"},
                                       {"at": at(13), "type": "reply", "by": "customer"},
                                       {"at": at(13), "type": "reply", "by": "customer"}))
    assert found == [("ticket_event_order", "/events/1/at"),
                     ("ticket_event_duplicate", "/events/3")]


def test_nothing_but_a_reopen_after_closed(cloudtalk):
    closed = {"at": at(12), "type": "status", "status": "closed"}
    found = problems(cloudtalk, ticket(
        closed, {"at": at(13), "type": "reply", "by": "agent"},
        {"at": at(14), "type": "agent_priority", "level": "P1"},
        {"at": at(15), "type": "status", "status": "reopened"},
        {"at": at(16), "type": "reply", "by": "agent"}))
    assert found == [("ticket_event_after_close", "/events/1"),
                     ("ticket_event_after_close", "/events/2")]


def test_first_agent_reply_before_first_response_at(cloudtalk):
    found = problems(cloudtalk, ticket({"at": at(11), "type": "reply", "by": "agent"},
                                       first_response_at=at(12)))
    assert found == [("ticket_event_first_response", "/events/0/at")]
    # a first response given before the first agent reply (by phone, say) is consistent
    evaluate(cloudtalk, ticket({"at": at(12), "type": "reply", "by": "agent"},
                               first_response_at=at(11)))


def test_now_before_an_event_or_the_submission(cloudtalk):
    data = ticket({"at": at(12), "type": "reply", "by": "agent"})
    assert problems(cloudtalk, data, now=datetime.fromisoformat(at(11))) == [
        ("ticket_now_before_event", "/events/0/at")]
    assert problems(cloudtalk, data, now=datetime.fromisoformat(at(9))) == [
        ("ticket_now_before_submission", "/submitted_at")]
    assert problems(cloudtalk, {"id": "X", "submitted_at": SUBMITTED},
                    now=datetime.fromisoformat(at(9))) == [
        ("ticket_now_before_submission", "/submitted_at")]


def test_every_problem_at_once_with_the_tickets_own(cloudtalk):
    data = ticket({"at": at(9), "type": "reply", "by": "agent"},
                  {"at": at(11), "type": "status", "status": "open"},
                  {"at": at(12), "type": "fact", "fact": "environment", "value": "prod"},
                  environment="prod")
    assert problems(cloudtalk, data) == [
        ("ticket_enum", "/environment"), ("ticket_event_before_submission", "/events/0/at"),
        ("ticket_event_status", "/events/1/status"), ("ticket_enum", "/events/2/value")]


def test_the_snapshot_evaluator_refuses_events(cloudtalk):
    with pytest.raises(TicketError) as exc:
        snapshot(cloudtalk, ticket({"at": at(11), "type": "reply", "by": "agent"}))
    assert [d.code for d in exc.value.diagnostics] == ["ticket_events_unsupported"]
    snapshot(cloudtalk, ticket())  # an empty list is a ticket without events


def test_cli_lists_every_bad_event_and_exits_2(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(ticket(
        {"at": at(9), "type": "reply", "by": "agent"},
        {"at": at(11), "type": "agent_priority", "level": "P9"},
        {"at": at(10, 30), "type": "status", "status": "pending"})), "utf-8")
    r = CliRunner().invoke(main, ["evaluate", "-p", "cloudtalk", str(path)])
    assert r.exit_code == 2 and r.stdout == ""
    lines = [line for line in r.stderr.splitlines() if "error[" in line]
    assert [line.split(": ")[1] for line in lines] == [
        "error[ticket_event_before_submission]", "error[ticket_unknown_level]",
        "error[ticket_event_order]"]
    assert all(line.startswith(f"{path}:") for line in lines)  # placed at file:line:col


def test_ticket_schema_describes_events():
    schema = json.loads((ROOT / "schemas" / "ticket.schema.json").read_text("utf-8"))
    kinds = {b["properties"]["type"]["const"]
             for b in schema["$defs"]["event"]["oneOf"]}
    assert kinds == {"priority_requested", "agent_priority", "fact", "status", "reply"}


def test_too_many_events(cloudtalk):
    many = [{"at": at(11), "type": "reply", "by": "customer"}] * 10_001
    assert problems(cloudtalk, ticket(*many)) == [("ticket_range", "/events")]
