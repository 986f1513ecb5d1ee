"""Unit tests for engine.calendars: spec checking, DST semantics, API behaviour."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.calendars import Calendar, build_calendar, check_calendar_spec

BERLIN = ZoneInfo("Europe/Berlin")
BRATISLAVA = ZoneInfo("Europe/Bratislava")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")
CAIRO = ZoneInfo("Africa/Cairo")
H = timedelta(hours=1)

OFFICE = {"timezone": "Europe/Bratislava", "hours": {"mon-fri": ["09:00-17:00"]},
          "holidays": {"country": "SK"}}


def _codes(spec: object) -> list[tuple[str, str]]:
    return [(pointer, code) for pointer, code, _, _ in check_calendar_spec(spec)]


def _issue(spec: object, code: str) -> tuple[str, str, str, str | None]:
    found = [issue for issue in check_calendar_spec(spec) if issue[1] == code]
    assert found, check_calendar_spec(spec)
    return found[0]


def _always(zone: str, **extra: object) -> Calendar:
    return build_calendar("test", {"timezone": zone, "hours": {"mon-sun": ["00:00-24:00"]},
                                   **extra})


# --------------------------------------------------------------------------- valid specs


@pytest.mark.parametrize("spec", [
    "24x7",
    "24x5",
    OFFICE,
    {"preset": "24x7", "timezone": "Europe/Bratislava"},
    {"preset": "24x5", "timezone": "Europe/Berlin",
     "holidays": {"country": "DE", "subdivision": "BY"}, "overrides": {"2026-12-24": []}},
    {"timezone": "customer", "fallback_timezone": "UTC", "hours": {"mon-fri": ["08:00-17:00"]}},
    {"timezone": "UTC", "hours": {"sat-mon": ["10:00-12:00", "12:00-14:00"], "wed": []}},
    {"timezone": "UTC", "hours": {}, "overrides": {date(2026, 5, 2): ["10:00-11:00"]},
     "holidays": {"dates": [date(2026, 5, 1), "2026-05-03"]}},
])
def test_valid_specs_have_no_issues(spec: object) -> None:
    assert check_calendar_spec(spec) == []
    assert isinstance(build_calendar("ok", spec), Calendar)


# --------------------------------------------------------------------------- every code


@pytest.mark.parametrize(("spec", "pointer", "code"), [
    ({"timezone": "UTC", "hours": {"mon": ["9-17"]}}, "/hours/mon/0", "calendar_bad_interval"),
    ({"timezone": "UTC", "hours": {"mon": ["09:00-24:30"]}}, "/hours/mon/0",
     "calendar_bad_interval"),
    ({"timezone": "UTC", "hours": {"mon": ["24:00-24:00"]}}, "/hours/mon/0",
     "calendar_bad_interval"),
    ({"timezone": "UTC", "hours": {"mon": ["08:00-12:00", "22:00-06:00"]}}, "/hours/mon/1",
     "calendar_interval_order"),
    ({"timezone": "UTC", "hours": {"mon": ["09:00-12:00", "11:00-17:00"]}}, "/hours/mon/1",
     "calendar_overlap"),
    ({"timezone": "UTC", "hours": {"mon": ["12:00-17:00", "09:00-12:00"]}}, "/hours/mon/1",
     "calendar_overlap"),
    ({"timezone": "UTC", "hours": {"mon-fri": ["09:00-17:00"], "fri": ["10:00-12:00"]}},
     "/hours/fri", "calendar_duplicate_day"),
    ({"timezone": "Europe/Bratslava", "hours": {"mon": ["09:00-17:00"]}}, "/timezone",
     "calendar_unknown_timezone"),
    ({"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": {"country": "XX"}},
     "/holidays/country", "calendar_unknown_country"),
    ({"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]},
      "holidays": {"country": "DE", "subdivision": "BYY"}},
     "/holidays/subdivision", "calendar_unknown_subdivision"),
    ({"timezone": "UTC", "hours": {"mon": []}}, "/hours", "calendar_no_open_time"),
    ({"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]},
      "holidays": {"dates": ["2026-02-30"]}}, "/holidays/dates/0", "calendar_bad_date"),
    ({"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}, "overrides": {"24.12.2026": []}},
     "/overrides/24.12.2026", "calendar_bad_date"),
    ("24x6", "", "calendar_bad_preset"),
    ({"preset": "24/7", "timezone": "UTC"}, "/preset", "calendar_bad_preset"),
    ({"timezone": "customer", "hours": {"mon": ["09:00-17:00"]}}, "",
     "calendar_missing_fallback"),
    ({"preset": "24x7", "timezone": "UTC", "holidays": {"country": "SK"}}, "/holidays",
     "calendar_preset_conflict"),
    ({"preset": "24x7", "timezone": "UTC", "overrides": {"2026-12-24": []}}, "/overrides",
     "calendar_preset_conflict"),
    ({"preset": "24x5", "timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}}, "/hours",
     "calendar_preset_conflict"),
    ({"timezone": "UTC", "hours": {"monday": ["09:00-17:00"]}}, "/hours/monday",
     "calendar_bad_day"),
    ({"timezone": "UTC", "hourz": {"mon": ["09:00-17:00"]}}, "/hourz", "calendar_bad_spec"),
    (42, "", "calendar_bad_spec"),
])
def test_each_code_on_a_bad_spec(spec: object, pointer: str, code: str) -> None:
    assert (pointer, code) in _codes(spec)
    with pytest.raises(ValueError, match="invalid calendar `bad`"):
        build_calendar("bad", spec)


def test_messages_are_one_line_lowercase_with_backticks() -> None:
    bad = {"timezone": "Europe/Bratslava", "hours": {"mon": ["9-17", "22:00-06:00"]},
           "holidays": {"country": "Slovakia"}}
    issues = check_calendar_spec(bad)
    assert len(issues) == 4
    for _, code, message, hint in issues:
        assert code.startswith("calendar_")
        assert "\n" not in message and message[0].islower() and "`" in message
        assert hint is None or "\n" not in hint


@pytest.mark.parametrize(("spec", "code", "hint"), [
    ({"timezone": "Europe/Bratslava", "hours": {"mon": ["09:00-17:00"]}},
     "calendar_unknown_timezone", "did you mean `Europe/Bratislava`?"),
    ({"timezone": "Berlin", "hours": {"mon": ["09:00-17:00"]}},
     "calendar_unknown_timezone", "did you mean `Europe/Berlin`?"),
    ({"timezone": "costumer", "fallback_timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}},
     "calendar_unknown_timezone", "did you mean `customer`?"),
    ({"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": {"country": "sk"}},
     "calendar_unknown_country", "did you mean `SK`?"),
    ({"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]},
      "holidays": {"country": "Slovakia"}}, "calendar_unknown_country", "did you mean `SK`?"),
    ({"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]},
      "holidays": {"country": "DE", "subdivision": "BYY"}},
     "calendar_unknown_subdivision", "did you mean `BY`?"),
    ({"timezone": "UTC", "hours": {"monday-friday": ["09:00-17:00"]}}, "calendar_bad_day",
     "did you mean `mon-fri`?"),
    ({"timezone": "UTC", "hours": {"mon": ["9:00-17:00"]}}, "calendar_bad_interval",
     "did you mean `09:00-17:00`?"),
    ("24/7", "calendar_bad_preset", "did you mean `24x7`?"),
])
def test_hints(spec: object, code: str, hint: str) -> None:
    assert _issue(spec, code)[3] == hint


def test_shift_across_midnight_hint() -> None:
    spec = {"timezone": "UTC", "hours": {"fri": ["22:00-06:00"]}}
    _, _, message, hint = _issue(spec, "calendar_interval_order")
    assert message == "interval `22:00-06:00` does not end after it starts"
    assert hint is not None and hint.startswith("a shift across midnight is written as two")


def test_override_that_opens_counts_as_open_time() -> None:
    spec = {"timezone": "UTC", "hours": {}, "overrides": {"2026-05-02": ["10:00-11:00"]}}
    assert check_calendar_spec(spec) == []
    assert ("", "calendar_no_open_time") in _codes({"timezone": "UTC"})


def test_pointers_are_escaped() -> None:
    assert ("/hours/mon~1fri", "calendar_bad_day") in _codes(
        {"timezone": "UTC", "hours": {"mon/fri": ["09:00-17:00"]}})


def test_check_never_raises_on_garbage() -> None:
    for spec in [None, [], {"hours": None}, {"timezone": 3, "hours": {1: [None]}},
                 {"preset": ["x"]}, {"timezone": "UTC", "hours": {"mon": "09:00-17:00"}},
                 {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": []},
                 {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}, "overrides": []}]:
        assert check_calendar_spec(spec), spec


def test_fallback_only_with_customer() -> None:
    spec = {"timezone": "UTC", "fallback_timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}}
    assert ("/fallback_timezone", "calendar_bad_spec") in _codes(spec)


# --------------------------------------------------------------------------- ground truth


def test_normal_day() -> None:
    office = build_calendar("office", OFFICE)
    start = datetime(2026, 3, 2, 8, 30, tzinfo=BRATISLAVA)
    assert office.due(start, H) == datetime(2026, 3, 2, 10, tzinfo=BRATISLAVA)
    assert office.clock == "business" and not office.customer_zone
    assert office.zone is BRATISLAVA


def test_due_at_closing_not_next_opening() -> None:
    office = build_calendar("office", OFFICE)
    due = office.due(datetime(2026, 3, 2, 16, tzinfo=BRATISLAVA), H)
    assert due == datetime(2026, 3, 2, 17, tzinfo=BRATISLAVA)
    assert not office.is_open(due)


def test_europe_spring_forward_day_lengths() -> None:
    day = datetime(2026, 3, 29, tzinfo=BERLIN)
    next_day = datetime(2026, 3, 30, tzinfo=BERLIN)
    assert _always("Europe/Berlin").elapsed(day, next_day) == 23 * H
    workday = build_calendar("w", {"timezone": "Europe/Berlin", "hours": {"sun": ["08:00-17:00"]}})
    assert workday.elapsed(day, next_day) == 9 * H
    early = build_calendar("e", {"timezone": "Europe/Berlin", "hours": {"sun": ["01:00-03:00"]}})
    assert early.elapsed(day, next_day) == 1 * H
    # 02:00-03:00 does not exist that day: an interval inside it is no time at all
    gap = build_calendar("g", {"timezone": "Europe/Berlin",
                               "hours": {"sun": ["02:15-02:45"], "mon": ["09:00-10:00"]}})
    assert gap.elapsed(day, next_day) == timedelta(0)


def test_europe_fall_back_day_lengths() -> None:
    day = datetime(2026, 10, 25, tzinfo=BERLIN)
    next_day = datetime(2026, 10, 26, tzinfo=BERLIN)
    assert _always("Europe/Berlin").elapsed(day, next_day) == 25 * H
    repeated = build_calendar("r", {"timezone": "Europe/Berlin", "hours": {"sun": ["02:00-03:00"]}})
    assert repeated.elapsed(day, next_day) == 2 * H
    start = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)  # first 02:30 (fold=0, +02:00)
    due = repeated.due(start, H)
    assert due.isoformat() == "2026-10-25T02:30:00+01:00" and due.fold == 1


def test_santiago_midnight_changes() -> None:
    always = _always("America/Santiago")
    # 2026-09-06 starts at 01:00: a 23-hour local date
    assert always.elapsed(datetime(2026, 9, 6, 1, tzinfo=SANTIAGO),
                          datetime(2026, 9, 7, tzinfo=SANTIAGO)) == 23 * H
    night = build_calendar("n", {"timezone": "America/Santiago", "hours": {"sun": ["00:00-02:00"]}})
    assert night.elapsed(datetime(2026, 9, 5, tzinfo=UTC), datetime(2026, 9, 8, tzinfo=UTC)) == H
    assert night.next_opening(datetime(2026, 9, 5, 12, tzinfo=SANTIAGO)).isoformat() == \
        "2026-09-06T01:00:00-03:00"
    # 2026-04-04 has 23:00-24:00 twice: a 25-hour local date
    late = build_calendar("l", {"timezone": "America/Santiago", "hours": {"sat": ["22:00-24:00"]}})
    assert late.elapsed(datetime(2026, 4, 4, tzinfo=UTC), datetime(2026, 4, 6, tzinfo=UTC)) == 3 * H


def test_cairo_midnight_changes() -> None:
    always = _always("Africa/Cairo")
    assert always.elapsed(datetime(2026, 4, 24, 1, tzinfo=CAIRO),
                          datetime(2026, 4, 25, tzinfo=CAIRO)) == 23 * H
    fall = datetime(2026, 10, 29, tzinfo=CAIRO)
    assert always.elapsed(fall, datetime(2026, 10, 30, tzinfo=CAIRO)) == 25 * H
    thursday = build_calendar("t", {"timezone": "Africa/Cairo", "hours": {"thu": ["23:00-24:00"]}})
    assert thursday.elapsed(fall, datetime(2026, 10, 30, tzinfo=CAIRO)) == 2 * H


def test_holidays_and_overrides() -> None:
    spec = {**OFFICE, "holidays": {"country": "SK", "dates": ["2026-03-03"]},
            "overrides": {"2026-12-24": ["09:00-12:00"], "2026-03-04": []}}
    calendar = build_calendar("x", spec)
    monday = datetime(2026, 3, 2, 16, tzinfo=BRATISLAVA)
    assert calendar.due(monday, 2 * H) == datetime(2026, 3, 5, 10, tzinfo=BRATISLAVA)
    eve = datetime(2026, 12, 24, 9, tzinfo=BRATISLAVA)  # a holiday, but overridden
    assert calendar.due(eve, 4 * H) == datetime(2026, 12, 28, 10, tzinfo=BRATISLAVA)
    assert "public holidays SK" in calendar.describe()


def test_closed_start_waits_for_opening() -> None:
    office = build_calendar("office", OFFICE)
    saturday = datetime(2026, 3, 7, 12, tzinfo=BRATISLAVA)
    assert not office.is_open(saturday)
    assert office.next_opening(saturday) == datetime(2026, 3, 9, 9, tzinfo=BRATISLAVA)
    tuesday = datetime(2026, 3, 10, 10, tzinfo=BRATISLAVA)
    assert office.next_opening(tuesday) == tuesday and office.is_open(tuesday)
    assert office.elapsed(saturday, datetime(2026, 3, 9, 9, tzinfo=BRATISLAVA)) == timedelta(0)


def test_microseconds_and_other_zones_in_input() -> None:
    office = build_calendar("office", OFFICE)
    start = datetime(2026, 3, 2, 9, 15, 30, 123456, tzinfo=UTC)  # 10:15:30.123456 local
    due = office.due(start, timedelta(hours=6, microseconds=876544))
    assert due.isoformat() == "2026-03-02T16:15:31+01:00"
    assert office.elapsed(start, due) == timedelta(hours=6, microseconds=876544)


def test_elapsed_is_antisymmetric() -> None:
    office = build_calendar("office", OFFICE)
    a = datetime(2026, 3, 2, 10, tzinfo=BRATISLAVA)
    b = datetime(2026, 5, 20, 15, tzinfo=BRATISLAVA)
    assert office.elapsed(b, a) == -office.elapsed(a, b)
    assert office.elapsed(a, a) == timedelta(0)


def test_24x7_is_absolute_time() -> None:
    always = build_calendar("always", {"preset": "24x7", "timezone": "Europe/Bratislava"})
    assert always.clock == "calendar"
    start = datetime(2026, 3, 29, 1, 30, tzinfo=BRATISLAVA)
    assert always.due(start, H).isoformat() == "2026-03-29T03:30:00+02:00"
    assert always.is_open(start)
    assert always.elapsed(start, datetime(2026, 3, 29, 3, 30, tzinfo=BRATISLAVA)) == H
    utc = build_calendar("utc", "24x7")
    assert utc.zone == ZoneInfo("UTC")
    assert utc.due(start, H).tzinfo == ZoneInfo("UTC")


def test_24x5_week_boundaries_in_zone() -> None:
    week = build_calendar("w", {"preset": "24x5", "timezone": "Europe/Berlin"})
    friday = datetime(2026, 3, 6, 23, 30, tzinfo=BERLIN)
    assert week.due(friday, H) == datetime(2026, 3, 9, 0, 30, tzinfo=BERLIN)
    assert build_calendar("u", "24x5").describe() == "24x5 Mon 00:00–Fri 24:00 UTC"


def test_customer_zone_copies() -> None:
    spec = {"timezone": "customer", "fallback_timezone": "UTC",
            "hours": {"mon-fri": ["08:00-17:00"]}}
    base = build_calendar("standard", spec)
    assert base.customer_zone and base.zone == ZoneInfo("UTC")
    assert base.for_zone(None) is base
    ny = base.for_zone(NEW_YORK)
    assert ny is base.for_zone(NEW_YORK) is ny.for_zone(NEW_YORK)
    assert ny.zone is NEW_YORK and ny.customer_zone and ny.name == "standard"
    assert ny.for_zone(None) is base
    start = datetime(2026, 3, 2, 7, 30, tzinfo=NEW_YORK)
    assert ny.due(start, H).isoformat() == "2026-03-02T09:00:00-05:00"
    assert base.due(start, H).isoformat() == "2026-03-02T13:30:00+00:00"
    assert ny.describe() == "Mon–Fri 08:00–17:00 America/New_York (customer time zone)"
    assert base.describe() == "Mon–Fri 08:00–17:00 customer time zone (fallback UTC)"
    office = build_calendar("office", OFFICE)
    assert office.for_zone(NEW_YORK) is office


def test_describe() -> None:
    assert build_calendar("o", OFFICE).describe() == \
        "Mon–Fri 09:00–17:00 Europe/Bratislava, public holidays SK"
    split = {"timezone": "Europe/Berlin",
             "hours": {"mon-thu": ["08:00-12:00", "13:00-17:00"], "fri": ["08:00-14:00"]},
             "holidays": {"country": "DE", "subdivision": "BY", "dates": ["2026-12-31"]}}
    assert build_calendar("s", split).describe() == (
        "Mon–Thu 08:00–12:00 & 13:00–17:00, Fri 08:00–14:00 Europe/Berlin, "
        "public holidays DE-BY, 1 extra closed date")
    assert build_calendar("a", {"preset": "24x7", "timezone": "Asia/Ho_Chi_Minh"}).describe() \
        == "24x7 calendar time, Asia/Ho_Chi_Minh"


def test_immutable_and_hashable() -> None:
    office = build_calendar("office", OFFICE)
    with pytest.raises(AttributeError):
        office.name = "other"  # type: ignore[misc]
    assert {office: 1}[office] == 1


def test_guard_against_endless_search() -> None:
    once = build_calendar("once", {"timezone": "UTC", "hours": {},
                                   "overrides": {"2026-05-02": ["10:00-11:00"]}})
    start = datetime(2026, 5, 2, 10, 30, tzinfo=UTC)
    assert once.due(start, 30 * timedelta(minutes=1)).isoformat() == "2026-05-02T11:00:00+00:00"
    with pytest.raises(ValueError, match="no open time within 3 years"):
        once.due(start, H)
    with pytest.raises(ValueError, match="no open time within 3 years"):
        once.next_opening(datetime(2026, 6, 1, tzinfo=UTC))
    assert once.next_opening(datetime(2024, 1, 1, tzinfo=UTC)).isoformat() == \
        "2026-05-02T10:00:00+00:00"


def test_bad_arguments() -> None:
    office = build_calendar("office", OFFICE)
    with pytest.raises(ValueError, match="naive datetime"):
        office.due(datetime(2026, 3, 2, 9), H)
    with pytest.raises(ValueError, match="must not be negative"):
        office.due(datetime(2026, 3, 2, 9, tzinfo=UTC), -H)
    start = datetime(2026, 3, 7, 9, tzinfo=UTC)
    assert office.due(start, timedelta(0)) == start


def test_long_targets_cross_years() -> None:
    office = build_calendar("office", OFFICE)
    start = datetime(2026, 1, 5, 9, tzinfo=BRATISLAVA)
    due = office.due(start, 5000 * H)
    assert office.elapsed(start, due) == 5000 * H
    assert due.year == 2028


def test_copy_and_pickle() -> None:
    office = build_calendar("office", OFFICE)
    assert copy.copy(office) is office and copy.deepcopy({"o": office})["o"] is office
    again = pickle.loads(pickle.dumps(office))
    start = datetime(2026, 3, 2, 16, tzinfo=BRATISLAVA)
    assert again.describe() == office.describe() and again.due(start, H) == office.due(start, H)
    spec = {"timezone": "customer", "fallback_timezone": "UTC",
            "hours": {"mon-fri": ["08:00-17:00"]}}
    ny = pickle.loads(pickle.dumps(build_calendar("standard", spec).for_zone(NEW_YORK)))
    assert ny.zone is NEW_YORK and ny.for_zone(None).zone == ZoneInfo("UTC")


def test_the_country_codes_are_those_holidays_lists():
    """`zones._countries` reads holidays' registry instead of `list_supported_countries` (which
    imports every country's module): the same codes, aliases included."""
    import holidays

    from engine.calendars import zones
    assert zones._countries() == set(holidays.list_supported_countries(include_aliases=True))
    assert zones.country_exists("SK") and zones.country_exists("UK") and \
        not zones.country_exists("XX")
