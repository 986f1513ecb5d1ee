"""Time zones and holidays for calendars: names, hints, zone offsets by UTC month, holidays.

Every cache here is a bounded LRU (`functools.lru_cache`); the sizes are the constants below
(see docs/calendars.md, "Caches"), and `cache_info()` reports them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from engine.core.diagnostics import did_you_mean
from engine.core.facts import iana_zones

__all__ = [
    "EPOCH",
    "HOLIDAY_CACHE_SIZE",
    "SEGMENT_CACHE_SIZE",
    "SUBDIVISION_CACHE_SIZE",
    "ZONE_NAME_CACHE_SIZE",
    "cache_info",
    "country_exists",
    "country_hint",
    "holiday_dates",
    "month_bounds",
    "subdivisions",
    "zone_exists",
    "zone_hint",
    "zone_names",
    "zone_segments",
]

#: (zone, UTC month) -> constant-offset pieces (~0.4 KB, ~0.3 ms to find); shared by every
#: calendar in that zone and only read while a month table is built: 32 zones x 128 months.
SEGMENT_CACHE_SIZE = 4096
#: (country, subdivision, year) -> public holiday dates, ~0.4 KB each (a year costs ~0.3 ms).
HOLIDAY_CACHE_SIZE = 1024
#: Time zone names asked about (spec checks, `for_zone` with a name) -> whether they exist.
ZONE_NAME_CACHE_SIZE = 512
#: Holiday countries -> their subdivision codes (spec checks only).
SUBDIVISION_CACHE_SIZE = 256

_UTC = UTC
EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_SAMPLE_S = 6 * 3_600  # offset sampling step when looking for zone transitions


# --------------------------------------------------------------------------- names and hints


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    return iana_zones()  # the same names tickets may use


@lru_cache(maxsize=ZONE_NAME_CACHE_SIZE)
def zone_exists(key: str) -> bool:
    if key not in zone_names():
        return False
    try:
        ZoneInfo(key)
    except Exception:  # any load failure means "unknown"
        return False
    return True


def zone_hint(value: object, choices: frozenset[str] | set[str]) -> str | None:
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
def _countries() -> frozenset[str]:
    """The country codes `holidays` knows (aliases included). Read from its registry: its
    `list_supported_countries` gives the same codes but imports every country's module for
    their subdivisions (~0.1 s, in every process that checks a calendar with holidays);
    tests/test_calendars.py holds the two equal."""
    try:
        from holidays.registry import EntityLoader
        return frozenset(EntityLoader.get_country_codes(True))
    except (ImportError, AttributeError):  # pragma: no cover - the registry is the package's own
        return frozenset(holidays_lib.list_supported_countries(include_aliases=True))


def country_exists(value: object) -> bool:
    return isinstance(value, str) and value in _countries()


def country_hint(value: object) -> str | None:
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
    return did_you_mean(value, sorted(_countries()))


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


@lru_cache(maxsize=SUBDIVISION_CACHE_SIZE)
def subdivisions(country: str) -> list[str]:
    entity = holidays_lib.country_holidays(country)
    aliases = getattr(entity, "subdivisions_aliases", {}) or {}
    return [*entity.subdivisions, *aliases]


# --------------------------------------------------------------------------- offsets and holidays


def month_bounds(index: int) -> tuple[int, int]:
    """UTC epoch seconds of the month's first instant and of the next month's."""
    year, month = divmod(index, 12)
    start = datetime(year, month + 1, 1, tzinfo=_UTC)
    year, month = divmod(index + 1, 12)
    end = datetime(year, month + 1, 1, tzinfo=_UTC)
    return (start - EPOCH) // timedelta(seconds=1), (end - EPOCH) // timedelta(seconds=1)


def _offset(zone: tzinfo, epoch_s: int) -> int:
    offset = datetime.fromtimestamp(epoch_s, zone).utcoffset()
    return offset // timedelta(seconds=1) if offset is not None else 0


@lru_cache(maxsize=SEGMENT_CACHE_SIZE)
def zone_segments(zone: tzinfo, index: int) -> tuple[tuple[int, int, int], ...]:
    """(start_s, end_s, utc_offset_s) pieces of constant offset covering UTC month `index`."""
    lo, hi = month_bounds(index)
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
    return tuple(segments)


def _first_change(zone: tzinfo, lo: int, hi: int, offset: int) -> int:
    """The first second in (lo, hi] whose offset differs from `offset` (offset(hi) does)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(zone, mid) == offset:
            lo = mid
        else:
            hi = mid
    return hi


@lru_cache(maxsize=256)
def holiday_years(country: str, subdivision: str | None = None) -> tuple[int, int]:
    """The first and last year the holidays library knows `country`'s public holidays for."""
    entity = holidays_lib.country_holidays(country, subdiv=subdivision)
    return entity.start_year, entity.end_year


@lru_cache(maxsize=HOLIDAY_CACHE_SIZE)
def holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    entity = holidays_lib.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(entity.keys())


def cache_info() -> dict[str, object]:
    """The bounded caches of this module: name -> `functools` CacheInfo (hits, misses, size)."""
    return {
        "zone_segments": zone_segments.cache_info(),
        "holiday_years": holiday_dates.cache_info(),
        "zone_names": zone_exists.cache_info(),
        "subdivisions": subdivisions.cache_info(),
    }
