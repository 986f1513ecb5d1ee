"""The calendars' epoch-µs helpers (`engine.calendars.instants`) against their plain datetime
forms, and the month a calendar keeps hot against a calendar that never used one.

`to_us`, `from_us` and `month_index` replaced datetime arithmetic (a subtraction and a
timedelta division, an addition and `astimezone`, a datetime built to read its month) on the
due-time path; each must give exactly what the plain form gives, offsets and folds included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendars import build_calendar
from engine.calendars.instants import from_us, month_index, span_us, to_us

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-9, minutes=-30)), ZoneInfo("Europe/Berlin"),
                         ZoneInfo("America/Sao_Paulo"), ZoneInfo("Australia/Lord_Howe"),
                         ZoneInfo("Asia/Ho_Chi_Minh")])
# 1900-2999: the years a ticket may carry, on both sides of the month table's 1970-2199
MOMENTS_US = st.integers(min_value=-2_208_988_800 * 10**6, max_value=32_503_680_000 * 10**6 - 1)


@settings(max_examples=400, deadline=None)
@given(MOMENTS_US, ZONES)
def test_from_us_is_the_plain_addition(us: int, zone: timezone | ZoneInfo) -> None:
    plain = (EPOCH + timedelta(microseconds=us)).astimezone(zone)
    fast = from_us(us, zone)
    assert (fast, fast.utcoffset(), fast.fold, fast.tzinfo) == \
        (plain, plain.utcoffset(), plain.fold, plain.tzinfo)
    assert fast.isoformat() == plain.isoformat()


@settings(max_examples=400, deadline=None)
@given(MOMENTS_US, ZONES)
def test_to_us_and_month_index_are_the_plain_forms(us: int, zone: timezone | ZoneInfo) -> None:
    moment = (EPOCH + timedelta(microseconds=us)).astimezone(zone)
    assert to_us(moment) == (moment - EPOCH) // ONE_US == us
    utc = EPOCH + timedelta(microseconds=us)
    assert month_index(us) == utc.year * 12 + utc.month - 1


@given(st.timedeltas(min_value=timedelta(days=-3000), max_value=timedelta(days=3000)))
def test_span_us_is_the_timedelta_division(span: timedelta) -> None:
    assert span_us(span) == span // ONE_US


@pytest.mark.parametrize("bad, message", [
    (datetime(2026, 3, 2, 9, 30), "naive datetime `2026-03-02T09:30:00`: a time zone is required"),
    ("2026-03-02T09:30:00Z", "invalid instant `2026-03-02T09:30:00Z`: expected an aware datetime"),
])
def test_to_us_names_what_is_not_an_instant(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_us(bad)  # type: ignore[arg-type]


SPEC = {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["09:00-17:00"]},
        "holidays": {"country": "DE"}}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=40 * 24 * 3600 * 10**6),
                          st.integers(min_value=1, max_value=200 * 3600)), min_size=1, max_size=12))
def test_the_hot_month_changes_no_answer(calls: list[tuple[int, int]]) -> None:
    """Calls hopping between months on one calendar answer as a fresh calendar answers each."""
    used = build_calendar("office", SPEC)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for offset_us, within_s in calls:
        at = start + timedelta(microseconds=offset_us)
        within = timedelta(seconds=within_s)
        fresh = build_calendar("office", SPEC)
        assert used.due(at, within) == fresh.due(at, within)
        assert used.is_open(at) == fresh.is_open(at)
        assert used.next_opening(at) == fresh.next_opening(at)
        later = at + within * 3
        assert used.elapsed(at, later) == fresh.elapsed(at, later)
