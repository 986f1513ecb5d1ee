"""Calendar arithmetic: which real instants are open, due times and elapsed open time.

Ground truth: a real instant is open iff its local wall-clock time in the calendar's zone, on
its local date, lies in an open interval of that date. Internally each UTC month is turned
once into sorted, merged open intervals in epoch microseconds with running totals, so
`due` and `elapsed` are a few bisections per month crossed, never a walk over minutes.

Month tables are kept in a bounded LRU per calendar (`MONTH_CACHE_SIZE`), zone copies of a
customer calendar in a bounded LRU per calendar (`ZONE_COPY_CACHE_SIZE`); see `cache_info`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from engine.calendars.hours import DayHours
from engine.calendars.instants import from_us, month_index, span_us, to_us
from engine.calendars.spec import Definition, definition_of, describe
from engine.calendars.zones import (
    EPOCH,
    holiday_dates,
    holiday_years,
    month_bounds,
    zone_exists,
    zone_segments,
)

if TYPE_CHECKING:
    from functools import _CacheInfo  # the CacheInfo named tuple; typeshed has no public name

__all__ = ["DUE_CACHE_SIZE", "MONTH_CACHE_SIZE", "ZONE_COPY_CACHE_SIZE", "Calendar", "Clock",
           "build_calendar"]

#: Month tables kept per calendar, and per zone copy of a customer calendar: 10 2/3 years, so
#: one evaluation (a due time up to a year of open time, then the time left until it) never
#: rebuilds a month it built, on calendars with at least ~70 open hours a month. A month of
#: Mon–Fri 09:00–17:00 with holidays is ~3.5 KB (it grows with the intervals in a month).
MONTH_CACHE_SIZE = 128
#: Due times kept per calendar (and per zone copy), by (start, within): a ticket decided again
#: (an update, a re-evaluation, a replay) reads its due time instead of computing it (~1.5 µs).
#: An entry is ~0.2 KB.
DUE_CACHE_SIZE = 512
#: Zone copies kept per customer calendar (`for_zone`), each with its own month tables.
ZONE_COPY_CACHE_SIZE = 64

Clock = Literal["business", "calendar"]

_EPOCH = EPOCH
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_US = 1_000_000
_DAY_S = 86_400
_GUARD_US = (3 * 365 + 1) * _DAY_S * _US  # give up after 3 years without an opening

_Key = TypeVar("_Key", contravariant=True)
_Value = TypeVar("_Value", covariant=True)


class _Cached(Protocol[_Key, _Value]):
    """A one-argument function wrapped in `functools.lru_cache`."""

    def __call__(self, key: _Key, /) -> _Value: ...

    def cache_info(self) -> _CacheInfo: ...


class _Cached2(Protocol):
    """`Calendar.due` wrapped in `functools.lru_cache`."""

    def __call__(self, start: datetime, within: timedelta, /) -> datetime: ...

    def cache_info(self) -> _CacheInfo: ...


# --------------------------------------------------------------------------- time helpers


class CalendarRangeError(ValueError):
    """An instant outside the years a calendar is exact for: the years its public holidays
    are known for."""


def _check_exact(calendar: Calendar, us: int) -> int:
    """`us` (epoch µs) when it lies in the years the calendar is exact for; else raise."""
    lo, hi = calendar._exact
    if not lo <= us < hi:
        definition = calendar._definition
        assert definition.country is not None  # a calendar without holidays is exact always
        first, last = holiday_years(definition.country, definition.subdivision)
        shown = from_us(us, calendar.zone).isoformat()
        raise CalendarRangeError(
            f"calendar `{calendar.name}` is exact for {first}-{last} only (the years public "
            f"holidays of {definition.country} are known for); `{shown}` is outside them")
    return us


_ALWAYS_EXACT = (-(1 << 80), 1 << 80)  # beyond any datetime's epoch µs
_ZERO = timedelta(0)


@lru_cache(maxsize=1024)
def _exact_span(country: str, subdivision: str | None, zone: tzinfo) -> tuple[int, int]:
    """Epoch µs of the first and after the last local instant of the holidays' known years."""
    first, last = holiday_years(country, subdivision)
    return (to_us(datetime(first, 1, 1, tzinfo=zone)),
            to_us(datetime(last + 1, 1, 1, tzinfo=zone)))


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True, slots=True)
class _Month:
    """Open intervals of one UTC month in epoch µs, with running open totals."""

    starts: list[int]
    ends: list[int]
    before: list[int]  # open µs in the month before interval i starts
    upto: list[int]  # open µs in the month up to the end of interval i
    total: int
    lo: int
    hi: int

    def open_before(self, us: int) -> int:
        """Open µs in [month start, us), for us inside the month."""
        i = bisect.bisect_right(self.starts, us) - 1
        if i < 0:
            return 0
        return self.before[i] + min(us, self.ends[i]) - self.starts[i]

    def instant_at(self, amount: int) -> int:
        """The earliest instant with `amount` (> 0, <= total) open µs before it in the month."""
        i = bisect.bisect_left(self.upto, amount)
        return self.ends[i] - (self.upto[i] - amount)


_NO_MONTH = _Month([], [], [], [], 0, 0, 0)  # the hot month of a calendar not used yet


class Calendar:
    """An immutable business-hours calendar; see docs/calendars.md for the semantics."""

    __slots__ = ("_name", "_clock", "_customer", "_zone", "_definition", "_month",
                 "_copies", "_root", "_describe", "_hot", "_dues", "_exact")

    # The slots, set once in __init__ (through object.__setattr__: the class is immutable).
    _name: str
    _clock: Clock
    _customer: bool  # customer calendar: its zone is the customer's
    _zone: ZoneInfo
    _definition: Definition
    _month: _Cached[int, _Month]
    _copies: _Cached[ZoneInfo, Calendar] | None
    _root: Calendar
    _describe: str
    _hot: tuple[int, _Month]  # the month last used: (index, month)
    _dues: _Cached2
    _exact: tuple[int, int]  # epoch µs of the span it is exact for (its holidays' known years)

    def __init__(self, name: str, definition: Definition, zone: ZoneInfo,
                 root: Calendar | None = None) -> None:
        put = object.__setattr__
        clock: Clock = "calendar" if definition.preset == "24x7" else "business"
        # month index -> _Month, built on first use; bounded LRU (MONTH_CACHE_SIZE)
        month: _Cached[int, _Month] = lru_cache(maxsize=MONTH_CACHE_SIZE)(
            partial(_build_month, definition, zone))
        # zone -> this customer calendar in that zone; bounded LRU (ZONE_COPY_CACHE_SIZE)
        copies: _Cached[ZoneInfo, Calendar] | None = (
            lru_cache(maxsize=ZONE_COPY_CACHE_SIZE)(partial(Calendar, name, definition, root=self))
            if root is None and definition.zone_key is None else None)
        put(self, "_name", name)
        put(self, "_clock", clock)
        put(self, "_customer", definition.zone_key is None)
        put(self, "_zone", zone)
        put(self, "_definition", definition)
        put(self, "_month", month)
        put(self, "_copies", copies)
        put(self, "_root", root or self)
        put(self, "_describe", describe(definition, zone, root is not None))
        put(self, "_hot", (0, _NO_MONTH))
        put(self, "_exact", _ALWAYS_EXACT if definition.country is None else
            _exact_span(definition.country, definition.subdivision, zone))
        # (start, within) -> due time; bounded LRU (DUE_CACHE_SIZE): a ticket decided again
        put(self, "_dues", lru_cache(maxsize=DUE_CACHE_SIZE)(partial(_due, self)))

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"calendar `{self._name}` is immutable")

    def __repr__(self) -> str:
        return f"<Calendar {self._name!r}: {self._describe}>"

    def __copy__(self) -> Calendar:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> Calendar:
        return self

    def __reduce__(
        self,
    ) -> tuple[Callable[[str, Definition, ZoneInfo, ZoneInfo], Calendar],
               tuple[str, Definition, ZoneInfo, ZoneInfo]]:
        return _restore, (self._name, self._definition, self._root._zone, self._zone)

    @property
    def name(self) -> str:
        return self._name

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def customer_zone(self) -> bool:
        return self._customer

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def describe(self) -> str:
        """One line, e.g. "Mon–Fri 09:00–17:00 Europe/Bratislava, public holidays SK"."""
        return self._describe

    def for_zone(self, tz: ZoneInfo | str | None) -> Calendar:
        """Customer calendars: this calendar in `tz` (None: the fallback); others: self."""
        root = self._root
        if not self._customer:
            return self
        if tz is None:
            return root
        if isinstance(tz, str):
            if not zone_exists(tz):
                raise ValueError(f"unknown time zone `{tz}`")
            tz = ZoneInfo(tz)
        if tz == root._zone:
            return root
        copies = root._copies
        assert copies is not None  # a customer calendar's root keeps zone copies
        return copies(tz)

    def cache_info(self) -> dict[str, object]:
        """This calendar's bounded caches: name -> `functools` CacheInfo (hits, misses, size).

        `months`: its month tables; `due_times`: due times by (start, within); `zone_copies`
        (customer calendars, not their copies): the zone copies `for_zone` keeps. Global
        caches: `engine.calendars.cache_info()`.
        """
        info: dict[str, object] = {"months": self._month.cache_info(),
                                   "due_times": self._dues.cache_info()}
        if self._copies is not None:
            info["zone_copies"] = self._copies.cache_info()
        return info

    def is_open(self, at: datetime) -> bool:
        """Whether the instant `at` is open time."""
        us = _check_exact(self, to_us(at))
        if self._clock == "calendar":
            return True
        month = self._at(us)[1]
        i = bisect.bisect_right(month.starts, us) - 1
        return i >= 0 and us < month.ends[i]

    def next_opening(self, at: datetime) -> datetime:
        """`at` (in self.zone) if open, else the next instant that is; ValueError after 3 years."""
        us = _check_exact(self, to_us(at))
        if self._clock == "calendar":
            return at.astimezone(self._zone)
        index, month = self._at(us)
        i = bisect.bisect_right(month.starts, us) - 1
        if i >= 0 and us < month.ends[i]:
            return at.astimezone(self._zone)
        if i + 1 < len(month.starts):
            return from_us(month.starts[i + 1], self._zone)
        while True:
            index += 1
            month = self._month(index)
            if month.starts:
                return from_us(month.starts[0], self._zone)
            self._guard(us, month.hi)

    def due(self, start: datetime, within: timedelta) -> datetime:
        """The earliest instant t with `within` of open time in [start, t), in self.zone."""
        if start.__class__ is datetime and start.tzinfo.__class__ is timezone and \
                within.__class__ is timedelta:
            if self._clock == "calendar" and self._exact is _ALWAYS_EXACT and within >= _ZERO:
                # around the clock: adding is exact for a fixed offset, and cheaper than the
                # cache's lookup (beyond datetime's years: the computed path's error)
                try:
                    return (start + within).astimezone(self._zone)
                except OverflowError:
                    pass
            # kept by (start, within): equal instants share one answer. A fixed UTC offset only
            # (a ticket's times): a zone's fold makes two instants equal as datetimes (PEP 495)
            return self._dues(start, within)
        return _due(self, start, within)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Open time in [start, end); the negative of elapsed(end, start) if end < start."""
        a, b = _check_exact(self, to_us(start)), _check_exact(self, to_us(end))
        if b < a:
            return -self.elapsed(end, start)
        if self._clock == "calendar":
            return timedelta(0, 0, b - a)
        first, month = self._at(a)
        last = month_index(b)
        if first == last:
            return timedelta(0, 0, month.open_before(b) - month.open_before(a))
        total = month.total - month.open_before(a)
        for index in range(first + 1, last):
            total += self._month(index).total
        total += self._month(last).open_before(b)
        return timedelta(0, 0, total)

    # ----------------------------------------------------------------------- internals

    def _at(self, us: int) -> tuple[int, _Month]:
        """The index and table of the month holding `us`: the month last used, else the LRU's
        (which becomes the one last used)."""
        hot = self._hot
        month = hot[1]
        if month.lo <= us < month.hi:
            return hot
        index = month_index(us)
        hot = index, self._month(index)
        object.__setattr__(self, "_hot", hot)
        return hot

    def _guard(self, last_open_us: int, searched_to_us: int) -> None:
        if searched_to_us - last_open_us > _GUARD_US:
            since = from_us(last_open_us, self._zone).isoformat()
            raise ValueError(
                f"calendar `{self._name}` has no open time within 3 years after `{since}`"
            )


def _due(calendar: Calendar, start: datetime, within: timedelta) -> datetime:
    """`Calendar.due`, computed (a function, so that the LRU holds no bound method)."""
    us = _check_exact(calendar, to_us(start))
    need = span_us(within)
    if need < 0:
        raise ValueError(f"invalid target `{within}`: must not be negative")
    if need == 0:
        return start.astimezone(calendar._zone)
    if calendar._clock == "calendar":
        return from_us(us + need, calendar._zone)
    index, month = calendar._at(us)
    amount = month.open_before(us) + need
    last_open = us if amount - need == month.total else month.ends[-1]
    while amount > month.total:
        amount -= month.total
        index += 1
        month = calendar._month(index)
        if month.total:
            last_open = month.ends[-1]
        else:
            calendar._guard(last_open, month.hi)
    return from_us(_check_exact(calendar, month.instant_at(amount)), calendar._zone)


def _build_month(definition: Definition, zone: tzinfo, index: int) -> _Month:
    """The open intervals of UTC month `index` for a calendar of `definition` in `zone`."""
    lo, hi = month_bounds(index)
    segments = zone_segments(zone, index)
    pieces: list[tuple[int, int]] = []
    first_day = lo // _DAY_S - 2
    last_day = (hi - 1) // _DAY_S + 2
    for day_number in range(first_day, last_day + 1):
        hours = _hours_on(definition, date.fromordinal(day_number + _EPOCH_ORDINAL))
        wall_midnight = day_number * _DAY_S
        for start_min, end_min in hours:
            wall_a = wall_midnight + start_min * 60
            wall_b = wall_midnight + end_min * 60
            for seg_lo, seg_hi, offset in segments:
                a = max(wall_a - offset, seg_lo)
                b = min(wall_b - offset, seg_hi)
                if a < b:
                    pieces.append((a, b))
    return _pack(sorted(pieces), lo, hi)


def _hours_on(definition: Definition, day: date) -> DayHours:
    """The open intervals of `day`: its override; else none if closed (a listed date or a
    public holiday); else its weekday's hours."""
    overrides = definition.overrides or {}
    if day in overrides:
        return overrides[day]
    if day in definition.dates:
        return ()
    if definition.country is not None and day in holiday_dates(
        definition.country, definition.subdivision, day.year
    ):
        return ()
    return definition.weekly[day.weekday()]


def _restore(name: str, definition: Definition, root_zone: ZoneInfo, zone: ZoneInfo) -> Calendar:
    """Unpickle: the root calendar, or its copy in `zone` for a customer calendar."""
    root = Calendar(name, definition, root_zone)
    return root if zone == root_zone else root.for_zone(zone)


def _pack(pieces: list[tuple[int, int]], lo: int, hi: int) -> _Month:
    starts: list[int] = []
    ends: list[int] = []
    for a, b in pieces:
        a, b = a * _US, b * _US
        if ends and a <= ends[-1]:
            ends[-1] = max(ends[-1], b)
        else:
            starts.append(a)
            ends.append(b)
    before: list[int] = []
    upto: list[int] = []
    total = 0
    for a, b in zip(starts, ends, strict=True):
        before.append(total)
        total += b - a
        upto.append(total)
    return _Month(starts, ends, before, upto, total, lo * _US, hi * _US)


def build_calendar(name: str, spec: object) -> Calendar:
    """A `Calendar` from a spec that `check_calendar_spec` accepts; ValueError otherwise."""
    definition = definition_of(name, spec)
    zone = ZoneInfo(definition.zone_key or definition.fallback_key or "UTC")
    return Calendar(name, definition, zone)
