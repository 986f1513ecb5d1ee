"""Business-hours calendars: which real instants are open, and due times over open time.

A calendar spec (from a policy's `calendars:` section) is checked by `check_calendar_spec`
and turned into an immutable `Calendar` by `build_calendar`. See docs/calendars.md.

Ground truth: a real instant is open iff its local wall-clock time in the calendar's zone, on
its local date, lies in an open interval of that date. Internally each UTC month is turned
once into sorted, merged open intervals in epoch microseconds with running totals, so
`due` and `elapsed` are a few bisections per month crossed, never a walk over minutes.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from engine.core.diagnostics import did_you_mean, pointer_join
from engine.core.facts import iana_zones

__all__ = ["Calendar", "CalendarIssue", "CalendarRangeError", "build_calendar",
           "check_calendar_spec"]

CalendarIssue = tuple[str, str, str, str | None]
"""(json_pointer_suffix, code, message, hint) — the pointer is relative to the spec."""

Clock = Literal["business", "calendar"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRESETS = ("24x7", "24x5")
CUSTOMER = "customer"
_SPEC_KEYS = ("preset", "timezone", "fallback_timezone", "hours", "holidays", "overrides")
_HOLIDAY_KEYS = ("country", "subdivision", "dates")
_DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_INTERVAL = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
_LOOSE_INTERVAL = re.compile(
    r"\s*([0-9]{1,2})(?::?([0-9]{2}))?\s*[-–—]\s*([0-9]{1,2})(?::?([0-9]{2}))?\s*"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_US = timedelta(microseconds=1)
_US = 1_000_000
_DAY_S = 86_400
_SAMPLE_S = 6 * 3_600  # offset sampling step when looking for zone transitions
_GUARD_US = (3 * 365 + 1) * _DAY_S * _US  # give up after 3 years without an opening
_MIDNIGHT_DST_HINT = "a shift across midnight is written as two intervals"

Interval = tuple[int, int]  # minutes from local midnight, 0 <= start < end <= 1440
DayHours = tuple[Interval, ...]


# --------------------------------------------------------------------------- spec checking


@dataclass(frozen=True)
class _Definition:
    """A checked spec, normalised."""

    preset: str | None
    zone_key: str | None  # None: the customer's zone
    fallback_key: str | None
    weekly: tuple[DayHours, ...]  # Mon..Sun
    country: str | None = None
    subdivision: str | None = None
    dates: frozenset[date] = frozenset()
    overrides: Mapping[date, DayHours] | None = None


class _Checker:
    """Collects the issues of one spec while normalising it into a `_Definition`."""

    def __init__(self) -> None:
        self.issues: list[CalendarIssue] = []

    def add(self, pointer: str, code: str, message: str, hint: str | None = None) -> None:
        self.issues.append((pointer, code, message, hint))

    def spec(self, spec: object) -> _Definition | None:
        if isinstance(spec, str):
            if spec in PRESETS:
                return _preset_definition(spec, "UTC")
            self.add("", "calendar_bad_preset", f"unknown calendar preset `{spec}`",
                     did_you_mean(spec, PRESETS) or _PRESET_HINT)
            return None
        if not isinstance(spec, Mapping):
            self.add("", "calendar_bad_spec", f"invalid calendar spec `{spec}`",
                     _PRESET_HINT + ", or a mapping with `timezone` and `hours`")
            return None
        for key in spec:
            if key not in _SPEC_KEYS:
                self.add(_ptr(key), "calendar_bad_spec", f"unknown calendar key `{key}`",
                         did_you_mean(key, _SPEC_KEYS) or f"known keys: {_names(_SPEC_KEYS)}")
        if "preset" in spec:
            return self.preset_spec(spec)
        return self.hours_spec(spec)

    def preset_spec(self, spec: Mapping) -> _Definition | None:
        preset = spec["preset"]
        ok = True
        if preset not in PRESETS:
            self.add("/preset", "calendar_bad_preset", f"unknown calendar preset `{preset}`",
                     did_you_mean(preset, PRESETS) or _PRESET_HINT)
            ok = False
        conflicts = ["hours", "fallback_timezone"]
        if preset == "24x7":
            conflicts += ["holidays", "overrides"]
        for key in conflicts:
            if key in spec:
                self.add(_ptr(key), "calendar_preset_conflict",
                         f"`{key}` cannot be combined with preset `{preset}`",
                         _conflict_hint(key, preset))
                ok = False
        zone_key = spec.get("timezone", "UTC")
        if zone_key == CUSTOMER:
            self.add("/timezone", "calendar_preset_conflict",
                     f"preset `{preset}` needs a fixed time zone, not `{CUSTOMER}`",
                     f"write the hours out: `hours: {{{_PRESET_DAYS.get(preset, 'mon-sun')}: "
                     "[\"00:00-24:00\"]}`")
            ok = False
        elif not self.zone("/timezone", zone_key):
            ok = False
        extras = self.extras(spec) if preset == "24x5" else None
        if not ok or preset not in PRESETS or (preset == "24x5" and extras is None):
            return None
        base = _preset_definition(preset, zone_key)
        if extras is None:
            return base
        return _Definition(base.preset, base.zone_key, None, base.weekly, *extras)

    def hours_spec(self, spec: Mapping) -> _Definition | None:
        ok = True
        zone_key = spec.get("timezone")
        fallback = spec.get("fallback_timezone")
        if "timezone" not in spec:
            self.add("", "calendar_unknown_timezone", "calendar has no `timezone`",
                     f"add e.g. `timezone: Europe/Bratislava` or `timezone: {CUSTOMER}`")
            ok = False
        elif zone_key == CUSTOMER:
            if "fallback_timezone" not in spec:
                self.add("", "calendar_missing_fallback",
                         f"`timezone: {CUSTOMER}` needs a `fallback_timezone`",
                         "add e.g. `fallback_timezone: UTC` for tickets without a customer zone")
                ok = False
            else:
                ok = self.zone("/fallback_timezone", fallback) and ok
        else:
            ok = self.zone("/timezone", zone_key, allow_customer=True) and ok
            if "fallback_timezone" in spec:
                self.add("/fallback_timezone", "calendar_bad_spec",
                         f"`fallback_timezone` is only used with `timezone: {CUSTOMER}`",
                         "remove it, or set `timezone: customer`")
                ok = False
        weekly = self.weekly(spec.get("hours", {}))
        extras = self.extras(spec)
        if weekly is None or extras is None:
            return None
        if not any(weekly) and not any(extras[3].values()):
            self.add("/hours" if "hours" in spec else "", "calendar_no_open_time",
                     "calendar has no open time in a normal week",
                     "add opening hours, e.g. `hours: {mon-fri: [\"09:00-17:00\"]}`")
            return None
        if not ok:
            return None
        if zone_key == CUSTOMER:
            return _Definition(None, None, fallback, weekly, *extras)
        return _Definition(None, zone_key, None, weekly, *extras)

    def zone(self, pointer: str, value: object, allow_customer: bool = False) -> bool:
        if isinstance(value, str) and _zone_exists(value):
            return True
        choices = _zone_names() | ({CUSTOMER} if allow_customer else set())
        self.add(pointer, "calendar_unknown_timezone", f"unknown time zone `{value}`",
                 _zone_hint(value, choices) or "use an IANA name like `Europe/Bratislava`")
        return False

    def weekly(self, hours: object) -> tuple[DayHours, ...] | None:
        if not isinstance(hours, Mapping):
            self.add("/hours", "calendar_bad_spec", f"invalid hours `{hours}`",
                     "expected a mapping like `{mon-fri: [\"09:00-17:00\"]}`")
            return None
        days: list[DayHours] = [()] * 7
        owner: dict[int, str] = {}
        ok = True
        for key, value in hours.items():
            pointer = _ptr("hours", key)
            numbers = _parse_days(key)
            if numbers is None:
                self.add(pointer, "calendar_bad_day", f"unknown day `{key}`", _day_hint(key))
                ok = False
                continue
            twice = [n for n in numbers if n in owner]
            if twice:
                day = DAY_NAMES[twice[0]]
                self.add(pointer, "calendar_duplicate_day",
                         f"`{key}` repeats `{day}`, already given by key `{owner[twice[0]]}`",
                         "give each day in one key only")
                ok = False
            intervals = self.intervals(pointer, value)
            if intervals is None:
                ok = False
                continue
            for n in numbers:
                owner.setdefault(n, str(key))
                days[n] = intervals
        return tuple(days) if ok else None

    def intervals(self, pointer: str, value: object) -> DayHours | None:
        if not isinstance(value, list):
            self.add(pointer, "calendar_bad_spec", f"invalid interval list `{value}`",
                     "expected a list like `[\"09:00-17:00\"]`; `[]` means closed")
            return None
        found: list[Interval] = []
        ok = True
        for index, item in enumerate(value):
            interval = self.interval(f"{pointer}/{index}", item)
            if interval is None:
                ok = False
                continue
            if not self.in_order(f"{pointer}/{index}", interval, found):
                ok = False
            found.append(interval)
        return _merge(sorted(found)) if ok else None

    def interval(self, pointer: str, item: object) -> Interval | None:
        match = _INTERVAL.fullmatch(item) if isinstance(item, str) else None
        if match is None:
            self.add(pointer, "calendar_bad_interval", f"invalid interval `{item}`",
                     _interval_hint(item))
            return None
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
            self.add(pointer, "calendar_bad_interval", f"invalid interval `{item}`",
                     "times run from `00:00` to `24:00`; a start is at most `23:59`")
            return None
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            self.add(pointer, "calendar_interval_order",
                     f"interval `{item}` does not end after it starts",
                     f"{_MIDNIGHT_DST_HINT}, e.g. `{item[:5]}-24:00` and `00:00-{item[6:]}` "
                     "on the next day")
            return None
        return start, end

    def in_order(self, pointer: str, interval: Interval, earlier: list[Interval]) -> bool:
        start, end = interval
        for other in earlier:
            if start < other[1] and other[0] < end:
                self.add(pointer, "calendar_overlap",
                         f"interval `{_fmt_interval(interval, '-')}` overlaps "
                         f"`{_fmt_interval(other, '-')}`",
                         "merge the two intervals into one")
                return False
        if earlier and start < max(e for _, e in earlier):
            self.add(pointer, "calendar_overlap",
                     f"interval `{_fmt_interval(interval, '-')}` is listed after a later one",
                     "list a day's intervals in time order")
            return False
        return True

    def extras(
        self, spec: Mapping
    ) -> tuple[str | None, str | None, frozenset[date], dict[date, DayHours]] | None:
        """Holidays and overrides: (country, subdivision, dates, overrides)."""
        holidays = self.holidays(spec.get("holidays", {}))
        overrides = self.overrides(spec.get("overrides", {}))
        if holidays is None or overrides is None:
            return None
        return (*holidays, overrides)

    def holidays(self, spec: object) -> tuple[str | None, str | None, frozenset[date]] | None:
        if not isinstance(spec, Mapping):
            self.add("/holidays", "calendar_bad_spec", f"invalid holidays `{spec}`",
                     "expected a mapping with `country`, `subdivision` and/or `dates`")
            return None
        ok = True
        for key in spec:
            if key not in _HOLIDAY_KEYS:
                self.add(_ptr("holidays", key), "calendar_bad_spec",
                         f"unknown holidays key `{key}`",
                         did_you_mean(key, _HOLIDAY_KEYS) or f"known keys: {_names(_HOLIDAY_KEYS)}")
                ok = False
        country = spec.get("country")
        subdivision = spec.get("subdivision")
        if "country" in spec and not _country_exists(country):
            self.add("/holidays/country", "calendar_unknown_country",
                     f"unknown holiday country `{country}`",
                     _country_hint(country) or "use an ISO 3166 code like `SK`")
            ok = False
        elif "subdivision" in spec:
            ok = self.subdivision(country, subdivision) and ok
        dates = self.dates(spec.get("dates", []))
        if dates is None or not ok:
            return None
        return country, subdivision, dates

    def subdivision(self, country: str | None, subdivision: object) -> bool:
        if country is None:
            self.add("/holidays/subdivision", "calendar_unknown_subdivision",
                     f"subdivision `{subdivision}` needs a `country`",
                     "add e.g. `country: DE` next to `subdivision: BY`")
            return False
        known = _subdivisions(country)
        if isinstance(subdivision, str) and subdivision in known:
            return True
        hint = did_you_mean(subdivision, known) or (
            f"`{country}` has subdivisions {_names(known[:12])}{', …' if len(known) > 12 else ''}"
            if known
            else f"`{country}` has no subdivisions; remove `subdivision`")
        self.add("/holidays/subdivision", "calendar_unknown_subdivision",
                 f"unknown subdivision `{subdivision}` of `{country}`", hint)
        return False

    def dates(self, value: object) -> frozenset[date] | None:
        if not isinstance(value, list):
            self.add("/holidays/dates", "calendar_bad_spec", f"invalid dates `{value}`",
                     "expected a list like `[\"2026-12-31\"]`")
            return None
        found: set[date] = set()
        ok = True
        for index, item in enumerate(value):
            day = _parse_date(item)
            if day is None:
                self.add(f"/holidays/dates/{index}", "calendar_bad_date", f"invalid date `{item}`",
                         "write dates as `YYYY-MM-DD`, e.g. `2026-12-31`")
                ok = False
            else:
                found.add(day)
        return frozenset(found) if ok else None

    def overrides(self, value: object) -> dict[date, DayHours] | None:
        if not isinstance(value, Mapping):
            self.add("/overrides", "calendar_bad_spec", f"invalid overrides `{value}`",
                     "expected a mapping like `{\"2026-12-24\": [\"09:00-12:00\"]}`")
            return None
        found: dict[date, DayHours] = {}
        ok = True
        for key, hours in value.items():
            pointer = _ptr("overrides", key)
            day = _parse_date(key)
            if day is None:
                self.add(pointer, "calendar_bad_date", f"invalid override date `{key}`",
                         "write dates as `YYYY-MM-DD`, e.g. `2026-12-24`")
                ok = False
            if day is not None and day in found:
                self.add(pointer, "calendar_bad_date", f"override date `{key}` given twice",
                         "give each date once")
                ok = False
            intervals = self.intervals(pointer, hours)
            if intervals is None:
                ok = False
            elif day is not None:
                found[day] = intervals
        return found if ok else None


_PRESET_HINT = "use `24x7` or `24x5`"
_PRESET_DAYS = {"24x7": "mon-sun", "24x5": "mon-fri"}


def _conflict_hint(key: str, preset: str) -> str:
    if key == "hours":
        return "drop `preset` to write the hours yourself"
    if key == "fallback_timezone":
        return "presets use a fixed `timezone`"
    return f"a 24x7 calendar is always open; use `24x5` or hours for `{key}`"


def _preset_definition(preset: str, zone_key: str) -> _Definition:
    full: DayHours = ((0, 1440),)
    if preset == "24x7":
        weekly = (full,) * 7
    else:
        weekly = (full,) * 5 + ((), ())
    return _Definition(preset, zone_key, None, weekly, overrides={})


def check_calendar_spec(spec: object) -> list[CalendarIssue]:
    """Every problem of one calendar spec (pointer suffix, code, message, hint); never raises."""
    checker = _Checker()
    try:
        checker.spec(spec)
    except Exception as exc:  # the contract is to report, never to raise
        checker.add("", "calendar_bad_spec", f"cannot read calendar spec: {exc}")
    return checker.issues


def build_calendar(name: str, spec: object) -> Calendar:
    """A `Calendar` from a spec that `check_calendar_spec` accepts; ValueError otherwise."""
    checker = _Checker()
    definition = checker.spec(spec)
    if checker.issues or definition is None:
        pointer, _, message, _ = (checker.issues or [("", "", "invalid spec", None)])[0]
        where = f" at `{pointer}`" if pointer else ""
        raise ValueError(f"invalid calendar `{name}`{where}: {message}")
    zone = ZoneInfo(definition.zone_key or definition.fallback_key or "UTC")
    return Calendar(name, definition, zone)


# --------------------------------------------------------------------------- spec helpers


def _ptr(*parts: object) -> str:
    return pointer_join("", *parts)


def _names(names: object) -> str:
    return ", ".join(f"`{n}`" for n in names)  # type: ignore[attr-defined]


def _parse_days(key: object) -> tuple[int, ...] | None:
    if not isinstance(key, str):
        return None
    parts = key.split("-")
    if not 1 <= len(parts) <= 2 or any(p not in DAY_NAMES for p in parts):
        return None
    first, last = DAY_NAMES.index(parts[0]), DAY_NAMES.index(parts[-1])
    return tuple((first + k) % 7 for k in range((last - first) % 7 + 1))


def _day_hint(key: object) -> str:
    text = str(key).lower()
    parts = [did_you_mean(p, DAY_NAMES) for p in text.split("-")]
    guesses = [p.split("`")[1] for p in parts if p]
    if parts and len(guesses) == len(parts) and len(parts) <= 2:
        return f"did you mean `{'-'.join(guesses)}`?"
    return "use `mon` … `sun` or a range like `mon-fri`"


def _interval_hint(item: object) -> str:
    match = _LOOSE_INTERVAL.fullmatch(item) if isinstance(item, str) else None
    if match:
        h1, m1, h2, m2 = match.groups()
        return f"did you mean `{int(h1):02d}:{m1 or '00'}-{int(h2):02d}:{m2 or '00'}`?"
    return "write intervals as `HH:MM-HH:MM`, e.g. `09:00-17:00`"


def _parse_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return iana_zones()  # the same names tickets may use


@lru_cache(maxsize=512)
def _zone_exists(key: str) -> bool:
    if key not in _zone_names():
        return False
    try:
        ZoneInfo(key)
    except Exception:  # any load failure means "unknown"
        return False
    return True


def _zone_hint(value: object, choices: frozenset[str] | set[str]) -> str | None:
    if not isinstance(value, str):
        return None
    folded = value.strip().lower().replace(" ", "_")
    exact = [c for c in choices if c.lower() == folded]
    if exact:
        return f"did you mean `{exact[0]}`?"
    cities = sorted(c for c in choices if c.rsplit("/", 1)[-1].lower() == folded)
    if cities:
        return f"did you mean `{cities[0]}`?"
    return did_you_mean(value, sorted(choices))


@lru_cache(maxsize=1)
def _countries() -> dict[str, list[str]]:
    return holidays_lib.list_supported_countries(include_aliases=True)


def _country_exists(value: object) -> bool:
    return isinstance(value, str) and value in _countries()


def _country_hint(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    if value.upper() in _countries():
        return f"did you mean `{value.upper()}`?"
    folded = value.lower().replace(" ", "").replace("_", "")
    by_name = _country_names()
    if folded in by_name:
        return f"did you mean `{by_name[folded]}`?"
    close = did_you_mean(folded, by_name)
    if close:
        return f"did you mean `{by_name[close.split('`')[1]]}`?"
    return did_you_mean(value, _countries())


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Lower-case country names (e.g. `slovakia`) to their codes, for hints only."""
    try:
        from holidays.registry import COUNTRIES as registry
    except ImportError:  # pragma: no cover - the registry is an implementation detail
        return {}
    names: dict[str, str] = {}
    for module, entry in registry.items():
        names[module.replace("_", "")] = entry[1]
        names[entry[0].lower()] = entry[1]
    return names


@lru_cache(maxsize=256)
def _subdivisions(country: str) -> list[str]:
    entity = holidays_lib.country_holidays(country)
    aliases = getattr(entity, "subdivisions_aliases", {}) or {}
    return [*entity.subdivisions, *aliases]


def _merge(intervals: list[Interval]) -> DayHours:
    merged: list[list[int]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def _fmt_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _fmt_interval(interval: Interval, dash: str = "–") -> str:
    return f"{_fmt_time(interval[0])}{dash}{_fmt_time(interval[1])}"


# --------------------------------------------------------------------------- time helpers


def _to_us(moment: datetime) -> int:
    if not isinstance(moment, datetime):
        raise ValueError(f"invalid instant `{moment}`: expected an aware datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime `{moment.isoformat()}`: a time zone is required")
    return (moment - _EPOCH) // _ONE_US


def _from_us(us: int, zone: tzinfo) -> datetime:
    return (_EPOCH + timedelta(microseconds=us)).astimezone(zone)


def _month_index(us: int) -> int:
    moment = _EPOCH + timedelta(microseconds=us)
    return moment.year * 12 + moment.month - 1


def _month_bounds(index: int) -> tuple[int, int]:
    """UTC epoch seconds of the month's first instant and of the next month's."""
    year, month = divmod(index, 12)
    start = datetime(year, month + 1, 1, tzinfo=_UTC)
    year, month = divmod(index + 1, 12)
    end = datetime(year, month + 1, 1, tzinfo=_UTC)
    return (start - _EPOCH) // timedelta(seconds=1), (end - _EPOCH) // timedelta(seconds=1)


def _offset(zone: tzinfo, epoch_s: int) -> int:
    offset = datetime.fromtimestamp(epoch_s, zone).utcoffset()
    return offset // timedelta(seconds=1) if offset is not None else 0


_SEGMENTS: dict[tuple[tzinfo, int], tuple[tuple[int, int, int], ...]] = {}


def _zone_segments(zone: tzinfo, index: int) -> tuple[tuple[int, int, int], ...]:
    """(start_s, end_s, utc_offset_s) pieces of constant offset covering UTC month `index`."""
    key = (zone, index)
    cached = _SEGMENTS.get(key)
    if cached is not None:
        return cached
    lo, hi = _month_bounds(index)
    segments: list[tuple[int, int, int]] = []
    seg_start, seg_off = lo, _offset(zone, lo)
    samples = [*range(lo + _SAMPLE_S, hi, _SAMPLE_S), hi - 1]
    for sample in samples:
        sample_off = _offset(zone, sample)
        while sample_off != seg_off:
            change = _first_change(zone, seg_start, sample, seg_off)
            segments.append((seg_start, change, seg_off))
            seg_start, seg_off = change, _offset(zone, change)
    segments.append((seg_start, hi, seg_off))
    result = tuple(segments)
    _SEGMENTS[key] = result
    return result


def _first_change(zone: tzinfo, lo: int, hi: int, offset: int) -> int:
    """The first second in (lo, hi] whose offset differs from `offset` (offset(hi) does)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(zone, mid) == offset:
            lo = mid
        else:
            hi = mid
    return hi


class CalendarRangeError(ValueError):
    """An instant outside the years a calendar is exact for: the years its public holidays
    are known for (`Calendar.exact_years`)."""


@lru_cache(maxsize=256)
def holiday_years(country: str, subdivision: str | None = None) -> tuple[int, int]:
    """The first and last year the holidays library knows `country`'s public holidays for."""
    entity = holidays_lib.country_holidays(country, subdiv=subdivision)
    return entity.start_year, entity.end_year


def _check_exact(calendar: Calendar, us: int) -> int:
    """`us` (epoch µs) when it lies in the years the calendar is exact for; else raise."""
    definition = calendar._definition
    if definition.country is not None:
        lo, hi = _exact_span(definition.country, definition.subdivision, calendar.zone)
        if not lo <= us < hi:
            first, last = holiday_years(definition.country, definition.subdivision)
            shown = _from_us(us, calendar.zone).isoformat()
            raise CalendarRangeError(
                f"calendar `{calendar.name}` is exact for {first}-{last} only (the years public "
                f"holidays of {definition.country} are known for); `{shown}` is outside them")
    return us


@lru_cache(maxsize=1024)
def _exact_span(country: str, subdivision: str | None, zone: tzinfo) -> tuple[int, int]:
    """Epoch µs of the first and after the last local instant of the holidays' known years."""
    first, last = holiday_years(country, subdivision)
    return (_to_us(datetime(first, 1, 1, tzinfo=zone)),
            _to_us(datetime(last + 1, 1, 1, tzinfo=zone)))


@lru_cache(maxsize=1024)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    entity = holidays_lib.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(entity.keys())


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


class Calendar:
    """An immutable business-hours calendar; see docs/calendars.md for the semantics."""

    __slots__ = ("_name", "_clock", "_customer", "_zone", "_definition", "_months",
                 "_copies", "_root", "_describe")

    def __init__(self, name: str, definition: _Definition, zone: tzinfo,
                 root: Calendar | None = None) -> None:
        put = object.__setattr__
        put(self, "_name", name)
        put(self, "_clock", "calendar" if definition.preset == "24x7" else "business")
        put(self, "_customer", definition.zone_key is None)
        put(self, "_zone", zone)
        put(self, "_definition", definition)
        put(self, "_months", {})
        put(self, "_copies", {})
        put(self, "_root", root or self)
        put(self, "_describe", _describe(definition, zone, root is not None))

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"calendar `{self._name}` is immutable")

    def __repr__(self) -> str:
        return f"<Calendar {self._name!r}: {self._describe}>"

    def __copy__(self) -> Calendar:
        return self  # immutable

    def __deepcopy__(self, memo: dict) -> Calendar:
        return self

    def __reduce__(self) -> tuple:
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
            if not _zone_exists(tz):
                raise ValueError(f"unknown time zone `{tz}`")
            tz = ZoneInfo(tz)
        if tz == root._zone:
            return root
        copy = root._copies.get(tz)
        if copy is None:
            copy = Calendar(root._name, root._definition, tz, root)
            root._copies[tz] = copy
        return copy

    def is_open(self, at: datetime) -> bool:
        """Whether the instant `at` is open time."""
        us = _check_exact(self, _to_us(at))
        if self._clock == "calendar":
            return True
        month = self._month(_month_index(us))
        i = bisect.bisect_right(month.starts, us) - 1
        return i >= 0 and us < month.ends[i]

    def next_opening(self, at: datetime) -> datetime:
        """`at` (in self.zone) if open, else the next instant that is; ValueError after 3 years."""
        us = _check_exact(self, _to_us(at))
        if self._clock == "calendar":
            return at.astimezone(self._zone)
        index = _month_index(us)
        month = self._month(index)
        i = bisect.bisect_right(month.starts, us) - 1
        if i >= 0 and us < month.ends[i]:
            return at.astimezone(self._zone)
        if i + 1 < len(month.starts):
            return _from_us(month.starts[i + 1], self._zone)
        while True:
            index += 1
            month = self._month(index)
            if month.starts:
                return _from_us(month.starts[0], self._zone)
            self._guard(us, month.hi)

    def due(self, start: datetime, within: timedelta) -> datetime:
        """The earliest instant t with `within` of open time in [start, t), in self.zone.
        CalendarRangeError when start or t lies outside the years the calendar is exact for."""
        us = _check_exact(self, _to_us(start))
        need = within // _ONE_US
        if need < 0:
            raise ValueError(f"invalid target `{within}`: must not be negative")
        if need == 0:
            return start.astimezone(self._zone)
        if self._clock == "calendar":
            return _from_us(us + need, self._zone)
        index = _month_index(us)
        month = self._month(index)
        amount = month.open_before(us) + need
        last_open = us if amount - need == month.total else month.ends[-1]
        while amount > month.total:
            amount -= month.total
            index += 1
            month = self._month(index)
            if month.total:
                last_open = month.ends[-1]
            else:
                self._guard(last_open, month.hi)
        return _from_us(_check_exact(self, month.instant_at(amount)), self._zone)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Open time in [start, end); the negative of elapsed(end, start) if end < start."""
        a, b = _check_exact(self, _to_us(start)), _check_exact(self, _to_us(end))
        if b < a:
            return -self.elapsed(end, start)
        if self._clock == "calendar":
            return timedelta(microseconds=b - a)
        first, last = _month_index(a), _month_index(b)
        month = self._month(first)
        if first == last:
            return timedelta(microseconds=month.open_before(b) - month.open_before(a))
        total = month.total - month.open_before(a)
        for index in range(first + 1, last):
            total += self._month(index).total
        total += self._month(last).open_before(b)
        return timedelta(microseconds=total)

    # ----------------------------------------------------------------------- internals

    def _guard(self, last_open_us: int, searched_to_us: int) -> None:
        if searched_to_us - last_open_us > _GUARD_US:
            since = _from_us(last_open_us, self._zone).isoformat()
            raise ValueError(
                f"calendar `{self._name}` has no open time within 3 years after `{since}`"
            )

    def _month(self, index: int) -> _Month:
        month = self._months.get(index)
        if month is None:
            month = self._build_month(index)
            self._months[index] = month
        return month

    def _build_month(self, index: int) -> _Month:
        lo, hi = _month_bounds(index)
        segments = _zone_segments(self._zone, index)
        pieces: list[tuple[int, int]] = []
        first_day = lo // _DAY_S - 2
        last_day = (hi - 1) // _DAY_S + 2
        for day_number in range(first_day, last_day + 1):
            hours = self._hours_on(date.fromordinal(day_number + _EPOCH_ORDINAL))
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

    def _hours_on(self, day: date) -> DayHours:
        definition = self._definition
        overrides = definition.overrides or {}
        if day in overrides:
            return overrides[day]
        if day in definition.dates:
            return ()
        if definition.country is not None and day in _holiday_dates(
            definition.country, definition.subdivision, day.year
        ):
            return ()
        return definition.weekly[day.weekday()]


def _restore(name: str, definition: _Definition, root_zone: tzinfo, zone: tzinfo) -> Calendar:
    """Unpickle: the root calendar, or its copy in `zone` for a customer calendar."""
    root = Calendar(name, definition, root_zone)
    return root if zone == root_zone else root.for_zone(zone)  # type: ignore[arg-type]


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


def _describe(definition: _Definition, zone: tzinfo, customer_copy: bool) -> str:
    zone_text = str(zone)
    if definition.zone_key is None:
        zone_text = (f"{zone} (customer time zone)" if customer_copy
                     else f"customer time zone (fallback {zone})")
    if definition.preset == "24x7":
        return f"24x7 calendar time, {zone_text}"
    if definition.preset == "24x5":
        text = f"24x5 Mon 00:00–Fri 24:00 {zone_text}"
    else:
        text = f"{_describe_week(definition.weekly)} {zone_text}"
    if definition.country:
        region = f"{definition.country}-{definition.subdivision}" if definition.subdivision \
            else definition.country
        text += f", public holidays {region}"
    if definition.dates:
        count = len(definition.dates)
        text += f", {count} extra closed date{'s' if count != 1 else ''}"
    if definition.overrides:
        count = len(definition.overrides)
        text += f", {count} date override{'s' if count != 1 else ''}"
    return text


def _describe_week(weekly: tuple[DayHours, ...]) -> str:
    groups: list[tuple[int, int, DayHours]] = []
    for day, hours in enumerate(weekly):
        if groups and groups[-1][2] == hours and groups[-1][1] == day - 1:
            groups[-1] = (groups[-1][0], day, hours)
        else:
            groups.append((day, day, hours))
    parts = []
    for first, last, hours in groups:
        if not hours:
            continue
        days = _DAY_LABELS[first] if first == last else f"{_DAY_LABELS[first]}–{_DAY_LABELS[last]}"
        parts.append(f"{days} " + " & ".join(_fmt_interval(i) for i in hours))
    return ", ".join(parts) if parts else "no weekly hours"
