"""`ticket-policy due` and `elapsed`: one instant or duration on stdout; bad input exits 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(("policy", "calendar", "start", "within", "zone", "due"), [
    # Friday 16:30 + 3 business hours (09-17 Bratislava) = Monday 11:30
    ("cloudtalk", "office", "2026-03-06T16:30:00+01:00", "PT3H", None,
     "2026-03-09T11:30:00+01:00"),
    # exactly at closing: due at 17:00, not the next opening
    ("cloudtalk", "office", "2026-03-02T09:00:00+01:00", "PT8H", None,
     "2026-03-02T17:00:00+01:00"),
    # 24x7 across the autumn change: one real hour
    ("credenti", "24x7", "2026-10-25T02:30:00+02:00", "PT1H", None,
     "2026-10-25T02:30:00+01:00"),
    # the customer's zone
    ("zmanda", "standard", "2026-03-06T16:00:00+09:00", "PT2H", "Asia/Tokyo",
     "2026-03-09T09:00:00+09:00"),
    # German holiday: 25-26 Dec closed, the clock starts on Monday 28 Dec
    ("credenti", "8x5", "2026-12-24T16:00:00+01:00", "PT2H", None,
     "2026-12-28T10:00:00+01:00"),
])
def test_due(policy, calendar, start, within, zone, due):
    args = ["due", "-p", policy, "-c", calendar, "--from", start, "--within", within]
    if zone:
        args += ["--timezone", zone]
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert r.stdout == due + "\n"


def test_elapsed_and_negative():
    r = run("elapsed", "-p", "cloudtalk", "-c", "office", "--from", "2026-03-06T16:30:00+01:00",
            "--to", "2026-03-09T10:00:00+01:00")
    assert r.exit_code == 0 and r.stdout == "PT1H30M\n"
    r = run("elapsed", "-p", "cloudtalk", "-c", "office", "--from", "2026-03-09T10:00:00+01:00",
            "--to", "2026-03-06T16:30:00+01:00")
    assert r.exit_code == 0 and r.stdout == "-PT1H30M\n"


@pytest.mark.parametrize(("args", "code"), [
    (["--from", "2026-03-06T16:30:00", "--within", "PT1H"], "bad_timestamp"),
    (["--from", "2026-03-06T16:30:00Z", "--within", "PT0S"], "bad_duration"),
    (["--from", "2026-03-06T16:30:00Z", "--within", "-PT1H"], "bad_duration"),
    (["--from", "2026-03-06T16:30:00Z", "--within", "3h"], "bad_duration"),
    (["--from", "2026-03-06T16:30:00Z", "--within", "PT1H", "--timezone", "Europe/Pariss"],
     "unknown_timezone"),
])
def test_due_bad_input(args, code):
    r = run("due", "-p", "zmanda", "-c", "standard", *args)
    assert r.exit_code == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"error[{code}]" in lines[0]


def test_unknown_calendar_one_line_with_hint():
    r = run("due", "-p", "cloudtalk", "-c", "ofice", "--from", "2026-03-06T16:30:00Z",
            "--within", "PT1H")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip() == ("--calendar: error[unknown_calendar]: policy `cloudtalk` has no "
                                "calendar `ofice`; hint: did you mean `office`?")
