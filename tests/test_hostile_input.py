"""Inputs that once crashed the process or printed a traceback (found in review)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import ticket

from cli import main
from engine import TicketError, evaluate
from engine.run.evaluator import CalendarError

NUMBER_POLICY = """
rules:
  - id: big-account
    when: {seats: {gt: 100}}
    then: {assign: P1}
"""


def _with_seats(make_policy, decl: str = "{type: number}"):
    from conftest import BASE
    return make_policy(NUMBER_POLICY, BASE + f"facts:\n  seats: {decl}\n")


@pytest.mark.parametrize("value", [1e16, 1e20, -1e20, 1e-300, 5e-324, 0.00009, 2**60])
def test_numbers_the_engine_cannot_take_are_rejected(make_policy, value):
    cp = _with_seats(make_policy)
    with pytest.raises(TicketError) as exc:  # durable_rules segfaulted on these
        evaluate(cp, ticket(seats=value), cache=False)
    assert exc.value.diagnostics[0].code == "ticket_range"


@pytest.mark.parametrize("value", [0, 0.5, 150, 9_999_999_999_999.5, -3])
def test_ordinary_numbers_work(make_policy, value):
    cp = _with_seats(make_policy)
    d = evaluate(cp, ticket(seats=value), cache=False)
    assert (d.priority == "P1") == (value > 100)


def test_number_literal_out_of_engine_range(check_text):
    from conftest import BASE
    _, diags = check_text(BASE + "facts:\n  seats: {type: number}\nrules:\n  - id: r\n"
                          "    when: {seats: {gt: 1.0e+16}}\n    then: {assign: P1}\n")
    assert [d.code for d in diags] == ["number_range"]


@pytest.mark.parametrize(("field", "value", "code"), [
    ("submitted_at", "0001-01-01T00:00:00+01:00", "ticket_timestamp"),
    ("submitted_at", "9999-12-31T16:00:00-01:00", "ticket_timestamp"),
    ("submitted_at", "2026-01-01T00:00:00+25:00", "ticket_timestamp"),
    ("id", "", "ticket_empty"),
    ("id", "\ud800", "ticket_encoding"),
    ("contract", {"response_targets": {"P1": "P99999999D"}}, "ticket_duration"),
    ("contract", {"response_targets": {"P1": "P400D"}}, "ticket_duration"),
])
def test_extreme_values_are_input_errors(make_policy, field, value, code):
    cp = make_policy("rules: []\n")
    with pytest.raises(TicketError) as exc:
        evaluate(cp, ticket(**{field: value}))
    assert code in [d.code for d in exc.value.diagnostics]


def test_calendar_without_open_time_ahead_is_an_evaluation_error(make_policy):
    from conftest import BASE
    base = BASE.replace('hours: {mon-fri: ["09:00-17:00"]}',
                        'hours: {}\n    overrides: {"2026-03-02": ["09:00-10:00"]}')
    cp = make_policy("rules:\n  - {id: p1, then: {assign: P1}}\n", base)
    with pytest.raises(CalendarError) as exc:
        evaluate(cp, ticket(submitted_at="2026-03-02T10:30:00+01:00"))
    assert "calendar `office`" in str(exc.value)


def test_cli_stdin_must_be_utf8():
    r = CliRunner().invoke(main, ["evaluate", "-p", "cloudtalk", "-"],
                           input=b'{"id": "caf\xe9", "submitted_at": "2026-01-01T00:00:00Z"}')
    assert r.exit_code == 2 and r.stdout == ""
    assert "error[file_unreadable]" in r.stderr


def test_cli_lone_surrogate_exit_2_no_traceback():
    r = CliRunner().invoke(main, ["explain", "-p", "cloudtalk", "-"],
                           input='{"id": "\\ud800", "submitted_at": "2026-01-01T00:00:00Z"}')
    assert r.exit_code == 2 and r.stdout == ""
    assert "ticket_encoding" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args", [
    ["due", "-p", "cloudtalk", "-c", "office", "--from", "2026-03-02T10:00:00Z",
     "--within", "P999999D"],
    ["due", "-p", "cloudtalk", "-c", "office", "--from", "9999-12-31T16:00:00+01:00",
     "--within", "PT1H"],
    ["elapsed", "-p", "cloudtalk", "-c", "office", "--from", "2026-03-02T10:00:00Z",
     "--to", "9999-12-31T10:00:00+01:00"],
])
def test_due_and_elapsed_extremes_exit_2(args):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1
