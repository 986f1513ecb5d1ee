"""Business-hours calendars: which real instants are open, and due times over open time.

A calendar spec (from a policy's `calendars:` section) is checked by `check_calendar_spec`
and turned into an immutable `Calendar` by `build_calendar`. See docs/calendars.md.

- `spec`: spec checks and their hints, the normalised `Definition`;
- `hours`: weekly hours and interval lists (checks, hints, descriptions);
- `zones`: time zone and holiday lookups, zone offsets per UTC month, holiday dates;
- `arithmetic`: `Calendar` (month tables, `due`, `elapsed`, `next_opening`, `for_zone`).

Every cache is a bounded LRU; `cache_info()` and `Calendar.cache_info()` report them.
"""

from engine.calendars.arithmetic import (
    DUE_CACHE_SIZE,
    MONTH_CACHE_SIZE,
    ZONE_COPY_CACHE_SIZE,
    Calendar,
    CalendarRangeError,
    Clock,
    build_calendar,
)
from engine.calendars.hours import DAY_NAMES, CalendarIssue
from engine.calendars.spec import CUSTOMER, PRESETS, check_calendar_spec
from engine.calendars.zones import (
    HOLIDAY_CACHE_SIZE,
    SEGMENT_CACHE_SIZE,
    SUBDIVISION_CACHE_SIZE,
    ZONE_NAME_CACHE_SIZE,
)
from engine.calendars.zones import cache_info as _zone_cache_info

__all__ = [
    "CUSTOMER",
    "DAY_NAMES",
    "DUE_CACHE_SIZE",
    "HOLIDAY_CACHE_SIZE",
    "MONTH_CACHE_SIZE",
    "PRESETS",
    "SEGMENT_CACHE_SIZE",
    "SUBDIVISION_CACHE_SIZE",
    "ZONE_COPY_CACHE_SIZE",
    "ZONE_NAME_CACHE_SIZE",
    "Calendar",
    "CalendarIssue",
    "CalendarRangeError",
    "Clock",
    "build_calendar",
    "cache_info",
    "check_calendar_spec",
]


def cache_info() -> dict[str, object]:
    """The caches shared by all calendars: name -> `functools` CacheInfo (hits, misses, size).

    `zone_segments`, `holiday_years`, `zone_names`, `subdivisions`; a calendar's own month
    tables and zone copies: `Calendar.cache_info()`.
    """
    return _zone_cache_info()
