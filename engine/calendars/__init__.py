"""Business-hours calendars: which real instants are open, and due times over open time.

A calendar spec (from a policy's `calendars:` section) is checked by `check_calendar_spec`
and turned into an immutable `Calendar` by `build_calendar`. See docs/calendars.md.

- `spec`: spec checks and their hints, the normalised `Definition`;
- `hours`: weekly hours and interval lists (checks, hints, descriptions);
- `zones`: time zone and holiday lookups, zone offsets per UTC month, holiday dates;
- `arithmetic`: `Calendar` (month tables, `due`, `elapsed`, `next_opening`, `for_zone`).
"""

from engine.calendars.arithmetic import Calendar, Clock, build_calendar
from engine.calendars.hours import DAY_NAMES, CalendarIssue
from engine.calendars.spec import CUSTOMER, PRESETS, check_calendar_spec

__all__ = [
    "CUSTOMER",
    "DAY_NAMES",
    "PRESETS",
    "Calendar",
    "CalendarIssue",
    "Clock",
    "build_calendar",
    "check_calendar_spec",
]
