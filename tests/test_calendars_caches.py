"""The calendar caches stay within their documented bounds (docs/calendars.md, "Caches").

A fuzz run once grew RSS to 2.25 GiB after 20,000 evaluations of valid tickets (years
1900–2999, any zone, year-long targets): month tables, zone segments and zone copies were
unbounded. This evaluates due times over random zones and years and asserts on cache sizes
after every evaluation, and that results do not depend on what was evicted.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from conftest import campaign

import engine.calendars as calendars
from engine.calendars import (
    DUE_CACHE_SIZE,
    HOLIDAY_CACHE_SIZE,
    MONTH_CACHE_SIZE,
    SEGMENT_CACHE_SIZE,
    SUBDIVISION_CACHE_SIZE,
    ZONE_COPY_CACHE_SIZE,
    ZONE_NAME_CACHE_SIZE,
    Calendar,
    build_calendar,
)
from engine.core.facts import iana_zones

CUSTOMER = {"timezone": "customer", "fallback_timezone": "UTC",
            "hours": {"mon-fri": ["08:00-17:00"]}, "holidays": {"country": "DE"}}
OFFICE = {"timezone": "Europe/Bratislava", "hours": {"mon-fri": ["09:00-17:00"]},
          "holidays": {"country": "SK"}}
SHARED_BOUNDS = {"zone_segments": SEGMENT_CACHE_SIZE, "holiday_years": HOLIDAY_CACHE_SIZE,
                 "zone_names": ZONE_NAME_CACHE_SIZE, "subdivisions": SUBDIVISION_CACHE_SIZE}
# mostly short targets (each builds a month of a new year: holiday years fill), some year-long
TARGETS = (timedelta(hours=4),) * 8 + (timedelta(days=30), timedelta(days=366))
# 3,600 where the slow tests run (CI, --runslow); the plain run's 900 fill every bound but the
# holiday years' (1,024 country-years: ~2,950 evaluations), which only the full run reaches
EVALUATIONS = campaign(900, 3600)
COUNTRIES = ("DE", "SK", "FR", "NL", "PL", "AT", "CZ", "IT", "BE", "DK", "SE", "NO")


def _within_bounds(calendar: Calendar) -> None:
    info = calendar.cache_info()
    assert info["months"].maxsize == MONTH_CACHE_SIZE
    assert info["months"].currsize <= MONTH_CACHE_SIZE
    assert info["due_times"].maxsize == DUE_CACHE_SIZE
    assert info["due_times"].currsize <= DUE_CACHE_SIZE
    if "zone_copies" in info:
        assert info["zone_copies"].maxsize == ZONE_COPY_CACHE_SIZE
        assert info["zone_copies"].currsize <= ZONE_COPY_CACHE_SIZE
    shared = calendars.cache_info()
    assert set(shared) == set(SHARED_BOUNDS)
    for name, bound in SHARED_BOUNDS.items():
        assert shared[name].maxsize == bound, name
        assert shared[name].currsize <= bound, name


def test_caches_stay_within_their_bounds_over_random_zones_and_years() -> None:
    rng = random.Random(2_250)
    zones = sorted(iana_zones())
    customer = build_calendar("standard", CUSTOMER)
    office = build_calendar("office", OFFICE)
    # holiday calendars are exact only for the years their holidays are known for (1995-2100
    # for every country below; a year-long target runs ~4 years): one country per evaluation
    # in turn, a new year each round, so the holiday-year cache fills past its bound
    others = [build_calendar(f"c-{cc}", {**CUSTOMER, "holidays": {"country": cc}})
              for cc in COUNTRIES]
    for number in range(EVALUATIONS):
        zone = rng.choice(zones)
        if number % 3 == 0:
            base = others[number // 3 % len(others)]
            year = 1995 + (number // (3 * len(others))) % 95
        else:
            base, year = (customer if number % 3 == 1 else office), rng.randint(1995, 2090)
        calendar = base.for_zone(zone)
        start = datetime(year, rng.randint(1, 12), rng.randint(1, 28),
                         rng.randrange(24), rng.randrange(60), tzinfo=UTC)
        within = rng.choice(TARGETS)
        due = calendar.due(start, within)
        assert calendar.elapsed(start, due) == within
        if number % 50 == 0:  # a calendar with empty month tables agrees
            fresh = build_calendar(calendar.name, CUSTOMER if calendar.customer_zone else OFFICE)
            if base in (customer, office):
                assert fresh.for_zone(zone).due(start, within) == due
        for seen in (customer, office, calendar):
            _within_bounds(seen)
    # the bounds were reached, so the assertions above saw eviction at work
    assert office.cache_info()["months"].currsize == MONTH_CACHE_SIZE
    assert customer.cache_info()["zone_copies"].currsize == ZONE_COPY_CACHE_SIZE
    assert calendars.cache_info()["zone_segments"].currsize == SEGMENT_CACHE_SIZE
    if EVALUATIONS >= 3000:
        assert calendars.cache_info()["holiday_years"].currsize == HOLIDAY_CACHE_SIZE


def test_hot_months_and_zone_copies_are_kept() -> None:
    customer = build_calendar("standard", CUSTOMER)
    new_york = customer.for_zone("America/New_York")
    start = datetime(2026, 3, 2, 12, tzinfo=UTC)
    new_york.due(start, timedelta(hours=4))
    built = new_york.cache_info()["months"]
    for hours in range(1, 200):
        new_york.due(start + timedelta(hours=hours), timedelta(hours=4))
    assert new_york.cache_info()["months"].misses <= built.misses + 2
    assert customer.for_zone("America/New_York") is new_york
    assert customer.cache_info()["zone_copies"].currsize == 1
    assert "zone_copies" not in new_york.cache_info()
    assert "zone_copies" not in build_calendar("office", OFFICE).cache_info()


def test_due_times_are_kept_by_instant_and_never_across_a_fold() -> None:
    """A due time asked for again is read back; the same instant with another UTC offset
    shares it; the two wall-clock-equal instants of a fall-back hour (equal as datetimes in
    their zone, PEP 495) are each computed."""
    office = build_calendar("office", {"timezone": "Europe/Berlin",
                                       "hours": {"mon-sun": ["00:00-24:00"]}})
    start = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    first = office.due(start, timedelta(hours=1))
    again = office.due(start.astimezone(timezone(timedelta(hours=5))), timedelta(hours=1))
    assert again is first and office.cache_info()["due_times"].hits == 1
    zone = ZoneInfo("Europe/Berlin")
    early, late = (datetime(2026, 10, 25, 2, 30, fold=f, tzinfo=zone) for f in (0, 1))
    assert early == late  # one wall-clock time, two instants an hour apart
    a, b = office.due(early, timedelta(hours=1)), office.due(late, timedelta(hours=1))
    assert b.astimezone(UTC) - a.astimezone(UTC) == timedelta(hours=1)
    assert office.cache_info()["due_times"].hits == 1  # neither was read from the cache
