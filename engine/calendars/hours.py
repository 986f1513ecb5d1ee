"""Weekly hours and interval lists: their checks, hints and one-line descriptions.

An interval is minutes from local midnight, ``0 <= start < end <= 1440``; a day's hours are
its merged, sorted intervals. `HoursChecker` is the part of the spec checker that reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from engine.core.diagnostics import did_you_mean, pointer_join

__all__ = [
    "DAY_NAMES",
    "CalendarIssue",
    "DayHours",
    "HoursChecker",
    "Interval",
    "describe_week",
    "fmt_interval",
    "merge",
    "ptr",
]

CalendarIssue = tuple[str, str, str, str | None]
"""(json_pointer_suffix, code, message, hint) — the pointer is relative to the spec."""

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_INTERVAL = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
_LOOSE_INTERVAL = re.compile(
    r"\s*([0-9]{1,2})(?::?([0-9]{2}))?\s*[-–—]\s*([0-9]{1,2})(?::?([0-9]{2}))?\s*"
)
_MIDNIGHT_DST_HINT = "a shift across midnight is written as two intervals"

Interval = tuple[int, int]  # minutes from local midnight, 0 <= start < end <= 1440
DayHours = tuple[Interval, ...]


class HoursChecker:
    """Collects the issues of one spec; reads weekly hours and interval lists."""

    def __init__(self) -> None:
        self.issues: list[CalendarIssue] = []

    def add(self, pointer: str, code: str, message: str, hint: str | None = None) -> None:
        self.issues.append((pointer, code, message, hint))

    def weekly(self, hours: object) -> tuple[DayHours, ...] | None:
        if not isinstance(hours, Mapping):
            self.add("/hours", "calendar_bad_spec", f"invalid hours `{hours}`",
                     "expected a mapping like `{mon-fri: [\"09:00-17:00\"]}`")
            return None
        days: list[DayHours] = [()] * 7
        owner: dict[int, str] = {}
        ok = True
        for key, value in hours.items():
            pointer = ptr("hours", key)
            numbers = parse_days(key)
            if numbers is None:
                self.add(pointer, "calendar_bad_day", f"unknown day `{key}`", day_hint(key))
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
        return merge(sorted(found)) if ok else None

    def interval(self, pointer: str, item: object) -> Interval | None:
        if not isinstance(item, str) or (match := _INTERVAL.fullmatch(item)) is None:
            self.add(pointer, "calendar_bad_interval", f"invalid interval `{item}`",
                     interval_hint(item))
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
                         f"interval `{fmt_interval(interval, '-')}` overlaps "
                         f"`{fmt_interval(other, '-')}`",
                         "merge the two intervals into one")
                return False
        if earlier and start < max(e for _, e in earlier):
            self.add(pointer, "calendar_overlap",
                     f"interval `{fmt_interval(interval, '-')}` is listed after a later one",
                     "list a day's intervals in time order")
            return False
        return True


def ptr(*parts: object) -> str:
    return pointer_join("", *parts)


def parse_days(key: object) -> tuple[int, ...] | None:
    if not isinstance(key, str):
        return None
    parts = key.split("-")
    if not 1 <= len(parts) <= 2 or any(p not in DAY_NAMES for p in parts):
        return None
    first, last = DAY_NAMES.index(parts[0]), DAY_NAMES.index(parts[-1])
    return tuple((first + k) % 7 for k in range((last - first) % 7 + 1))


def day_hint(key: object) -> str:
    text = str(key).lower()
    parts = [did_you_mean(p, DAY_NAMES) for p in text.split("-")]
    guesses = [p.split("`")[1] for p in parts if p]
    if parts and len(guesses) == len(parts) and len(parts) <= 2:
        return f"did you mean `{'-'.join(guesses)}`?"
    return "use `mon` … `sun` or a range like `mon-fri`"


def interval_hint(item: object) -> str:
    match = _LOOSE_INTERVAL.fullmatch(item) if isinstance(item, str) else None
    if match:
        h1, m1, h2, m2 = match.groups()
        return f"did you mean `{int(h1):02d}:{m1 or '00'}-{int(h2):02d}:{m2 or '00'}`?"
    return "write intervals as `HH:MM-HH:MM`, e.g. `09:00-17:00`"


def merge(intervals: list[Interval]) -> DayHours:
    merged: list[list[int]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def _fmt_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def fmt_interval(interval: Interval, dash: str = "–") -> str:
    return f"{_fmt_time(interval[0])}{dash}{_fmt_time(interval[1])}"


def describe_week(weekly: tuple[DayHours, ...]) -> str:
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
        parts.append(f"{days} " + " & ".join(fmt_interval(i) for i in hours))
    return ", ".join(parts) if parts else "no weekly hours"
