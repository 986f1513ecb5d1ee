"""Property tests: engine.calendars against a deliberately naive minute-by-minute reference.

The reference walks real time one UTC minute at a time, converts each minute to the local
wall-clock time of the calendar's zone and asks whether that local time, on that local date,
lies in an open interval. All zones used here change offset on whole minutes and all interval
bounds are whole minutes, so openness is constant within every UTC minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from conftest import campaign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.calendars import DAY_NAMES, build_calendar, check_calendar_spec

# 50 examples in the plain run (200 where the slow tests run); 2,000 in each property's `_long`
# twin, marked slow (run when CI is set or with --runslow: see conftest.py).
QUICK = settings(max_examples=campaign(50, 200), deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
LONG = settings(QUICK, max_examples=2000)

# DST at 02:00 (Berlin, New York) and at midnight (Santiago, Cairo since 2023).
ZONES = ("Europe/Berlin", "America/New_York", "America/Santiago", "Africa/Cairo")
WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_END = datetime(2028, 1, 1, tzinfo=UTC)
CAP_MINUTES = 30 * 24 * 60  # the naive walker never goes further than 30 days
MINUTE = timedelta(minutes=1)


def _transitions(zone: ZoneInfo) -> list[datetime]:
    """UTC instants in 2026–2027 at which the zone's offset changes (naive hourly scan)."""
    found = []
    moment = WINDOW_START
    previous = moment.astimezone(zone).utcoffset()
    while moment < WINDOW_END:
        moment += timedelta(hours=1)
        offset = moment.astimezone(zone).utcoffset()
        if offset != previous:
            found.append(moment)
            previous = offset
    return found


TRANSITIONS = {name: _transitions(ZoneInfo(name)) for name in ZONES}


# --------------------------------------------------------------------------- reference


@dataclass(frozen=True)
class Schedule:
    zone: str
    weekly: tuple[tuple[tuple[int, int], ...], ...]  # minutes, Mon..Sun
    closed: frozenset[date]
    overrides: dict[date, tuple[tuple[int, int], ...]]

    def spec(self) -> dict:
        hours = {DAY_NAMES[d]: [_fmt(i) for i in day] for d, day in enumerate(self.weekly)}
        return {
            "timezone": self.zone,
            "hours": hours,
            "holidays": {"dates": [d.isoformat() for d in sorted(self.closed)]},
            "overrides": {d.isoformat(): [_fmt(i) for i in v] for d, v in self.overrides.items()},
        }


def _fmt(interval: tuple[int, int]) -> str:
    (a, b) = interval
    return f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"


class Reference:
    """Openness of each UTC minute, computed the slow and obvious way."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.zone = ZoneInfo(schedule.zone)

    def is_open(self, minute: int) -> bool:
        local = datetime.fromtimestamp(minute * 60, self.zone)
        day = local.date()
        schedule = self.schedule
        if day in schedule.overrides:
            hours = schedule.overrides[day]
        elif day in schedule.closed:
            hours = ()
        else:
            hours = schedule.weekly[day.weekday()]
        wall = local.hour * 60 + local.minute
        return any(a <= wall < b for a, b in hours)

    def due(self, start: int, target: int) -> int | None:
        """The minute (epoch minutes) at which `target` open minutes have passed, or None."""
        count = 0
        for minute in range(start, start + CAP_MINUTES):
            if self.is_open(minute):
                count += 1
                if count == target:
                    return minute + 1
        return None

    def elapsed(self, start: int, end: int) -> int:
        if end < start:
            return -self.elapsed(end, start)
        return sum(1 for minute in range(start, end) if self.is_open(minute))


def _minutes(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) // MINUTE)


def _instant(minute: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + minute * MINUTE


# --------------------------------------------------------------------------- strategies

# Interval bounds: any minute, with the DST-sensitive hours (00, 01, 02, 03, 23, 24) favoured.
_BOUND = st.one_of(
    st.sampled_from([0, 60, 120, 150, 180, 1380, 1410, 1440]),
    st.integers(0, 48).map(lambda half_hours: half_hours * 30),
    st.integers(0, 1440),
)


@st.composite
def day_hours(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    """Zero to three disjoint intervals (split shifts); touching ones are merged."""
    if draw(st.integers(0, 9)) < 2:
        return ()
    bounds = sorted(set(draw(st.lists(_BOUND, min_size=2, max_size=6))))
    pairs = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds) - 1, 2)]
    return tuple(pairs)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Schedule, int]:
    """A random calendar and a minute-aligned start near it (often near a DST change)."""
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        start = draw(st.integers(_minutes(WINDOW_START), _minutes(WINDOW_END) - 1))
    else:
        change = draw(st.sampled_from(TRANSITIONS[zone]))
        start = _minutes(change) + draw(st.integers(-4 * 1440, 1440))
    weekly = tuple(draw(day_hours()) for _ in range(7))
    if not any(weekly):
        weekly = (((540, 1020),),) + weekly[1:]
    first_day = _instant(start).astimezone(ZoneInfo(zone)).date()
    near = st.integers(-1, 20).map(lambda k: first_day + timedelta(days=k))
    closed = frozenset(draw(st.lists(near, max_size=4)))
    override_days = draw(st.lists(near, max_size=2, unique=True))
    overrides = {day: draw(day_hours()) for day in override_days}
    return Schedule(zone, weekly, closed, overrides), start


def _calendar(schedule: Schedule):
    spec = schedule.spec()
    assert check_calendar_spec(spec) == []
    return build_calendar("random", spec)


# --------------------------------------------------------------------------- properties

Scenario = tuple[Schedule, int]


def _due(scenario: Scenario, target: int) -> None:
    schedule, start = scenario
    calendar = _calendar(schedule)
    reference = Reference(schedule)
    due = calendar.due(_instant(start), target * MINUTE)
    expected = reference.due(start, target)
    if expected is None:  # beyond the walker's reach: check what it did see
        seen = reference.elapsed(start, start + CAP_MINUTES)
        window_end = _instant(start + CAP_MINUTES)
        assert calendar.elapsed(_instant(start), window_end) == seen * MINUTE
        assert due > window_end
        return
    # compare in UTC: == between zones is False for a time in a repeated hour (PEP 495)
    assert due.astimezone(UTC) == _instant(expected)
    assert due.tzinfo == calendar.zone
    assert calendar.elapsed(_instant(start), due) == target * MINUTE


def _elapsed(scenario: Scenario, length: int) -> None:
    schedule, start = scenario
    calendar = _calendar(schedule)
    expected = Reference(schedule).elapsed(start, start + length)
    got = calendar.elapsed(_instant(start), _instant(start + length))
    assert got == expected * MINUTE


def _is_open_and_next_opening(scenario: Scenario, shift: int) -> None:
    schedule, start = scenario
    calendar = _calendar(schedule)
    reference = Reference(schedule)
    minute = start + shift
    assert calendar.is_open(_instant(minute)) == reference.is_open(minute)
    opening = next(
        (m for m in range(minute, minute + CAP_MINUTES) if reference.is_open(m)), None
    )
    if opening is not None:
        assert calendar.next_opening(_instant(minute)).astimezone(UTC) == _instant(opening)


def _round_trip(scenario: Scenario, jitter_us: int, within_us: int) -> None:
    schedule, start_minute = scenario
    calendar = _calendar(schedule)
    start = _instant(start_minute) + timedelta(microseconds=jitter_us)
    within = timedelta(microseconds=within_us)
    due = calendar.due(start, within)
    assert calendar.elapsed(start, due) == within
    assert calendar.elapsed(due, start) == -within
    # the earliest such instant: one microsecond less is not enough (arithmetic in UTC,
    # since aware arithmetic in a zone is wall-clock arithmetic)
    just_before = due.astimezone(UTC) - timedelta(microseconds=1)
    assert calendar.elapsed(start, just_before) < within
    assert calendar.is_open(just_before)


# --------------------------------------------------------------------------- tests

TARGETS = st.integers(1, 60 * 60)  # minutes of open time
LENGTHS = st.integers(-5 * 1440, 5 * 1440)  # minutes, either direction
SHIFTS = st.integers(-3 * 1440, 3 * 1440)  # minutes from the scenario's start
JITTERS = st.integers(0, 59_999_999)  # microseconds past the start minute
WITHINS = st.integers(1, 60 * 3600 * 1_000_000)  # microseconds of open time


@QUICK
@given(scenarios(), TARGETS)
def test_due_matches_reference(scenario: Scenario, target: int) -> None:
    _due(scenario, target)


@pytest.mark.slow
@LONG
@given(scenarios(), TARGETS)
def test_due_matches_reference_long(scenario: Scenario, target: int) -> None:
    _due(scenario, target)


@QUICK
@given(scenarios(), LENGTHS)
def test_elapsed_matches_reference(scenario: Scenario, length: int) -> None:
    _elapsed(scenario, length)


@pytest.mark.slow
@LONG
@given(scenarios(), LENGTHS)
def test_elapsed_matches_reference_long(scenario: Scenario, length: int) -> None:
    _elapsed(scenario, length)


@QUICK
@given(scenarios(), SHIFTS)
def test_is_open_and_next_opening_match_reference(scenario: Scenario, shift: int) -> None:
    _is_open_and_next_opening(scenario, shift)


@pytest.mark.slow
@LONG
@given(scenarios(), SHIFTS)
def test_is_open_and_next_opening_match_reference_long(scenario: Scenario, shift: int) -> None:
    _is_open_and_next_opening(scenario, shift)


@QUICK
@given(scenarios(), JITTERS, WITHINS)
def test_round_trip_with_microseconds(scenario: Scenario, jitter_us: int, within_us: int) -> None:
    _round_trip(scenario, jitter_us, within_us)


@pytest.mark.slow
@LONG
@given(scenarios(), JITTERS, WITHINS)
def test_round_trip_with_microseconds_long(
    scenario: Scenario, jitter_us: int, within_us: int
) -> None:
    _round_trip(scenario, jitter_us, within_us)


# Around the clock, `due` adds the target to a ticket's fixed-offset start instead of computing
# through epoch µs (and skips the due-time cache): the same instant, zone and fold either way.
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
INSTANTS = st.datetimes(datetime(1900, 1, 2), datetime(9999, 12, 30)).map(
    lambda d: d.replace(tzinfo=UTC))


@QUICK
@given(INSTANTS, OFFSETS, st.integers(0, 10**15), st.sampled_from((*ZONES, "UTC")))
def test_around_the_clock_due_is_the_computed_due(moment: datetime, offset: timezone,
                                                  within_us: int, zone: str) -> None:
    from engine.calendars.arithmetic import _due as computed
    calendar = build_calendar("always", {"preset": "24x7", "timezone": zone})
    start = moment.astimezone(offset)
    within = timedelta(microseconds=within_us)
    try:
        expected = computed(calendar, start, within)
    except (OverflowError, ValueError) as exc:
        with pytest.raises(type(exc)):
            calendar.due(start, within)
        return
    got = calendar.due(start, within)
    assert (got, got.tzinfo, got.fold, got.utcoffset()) == \
        (expected, expected.tzinfo, expected.fold, expected.utcoffset())
