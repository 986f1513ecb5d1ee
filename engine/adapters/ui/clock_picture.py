"""The SLA clock picture: one metric's clock as geometry for an SVG timeline (the template draws
it). Open and closed business time (nights, weekends, holidays by name), pauses, priority
changes, the due and warn instants, the reply and the breach, in the calendar's time zone.

Pure data in, data out: positions are in a 0..WIDTH coordinate space from the clock's start to
the picture's end; labels are plain text (the template escapes them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holiday_data

from engine.calendars.spec import Definition, definition_of
from engine.core.clock import Clock, HistoryEntry

WIDTH = 1000.0
MAX_DAYS = 62          # longer spans draw no business-hours bands (one label says so)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Band:
    """A stretch of the time axis: open or closed (`reason`: night, weekend, a holiday's
    name, closed date), or a pause (`reason`: its status)."""

    x: float
    w: float
    kind: str            # open | closed | paused
    reason: str
    label: str           # shown on the band when it is wide enough ("" for none)
    start: datetime | None = None


@dataclass(frozen=True)
class Marker:
    """An instant on the axis: due, warn, reply, breach, now, change, start."""

    x: float
    kind: str
    label: str
    at: str              # the instant, ISO 8601 in the picture's zone


@dataclass
class Picture:
    metric: str
    status: str
    timezone: str
    calendar: str | None
    start: str
    end: str
    bands: list[Band] = field(default_factory=list)
    pauses: list[Band] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    ticks: list[Marker] = field(default_factory=list)
    note: str = ""
    summary: str = ""


def _hm(moment: datetime) -> str:
    return moment.strftime("%a %d %b %H:%M")


def _names(definition: Definition, year: int) -> dict[date, str]:
    if definition.country is None:
        return {}
    try:
        found = holiday_data.country_holidays(definition.country,
                                              subdiv=definition.subdivision, years=year)
    except (NotImplementedError, KeyError):
        return {}
    return {d: str(n) for d, n in found.items()}


def day_hours(definition: Definition, day: date, names: dict[date, str]
              ) -> tuple[tuple[tuple[int, int], ...], str | None]:
    """The open intervals (minutes of the day) of `day`, and why it is closed all day (a
    holiday's name, `closed date`, `weekend`) or None. Same order as the calendar engine: an
    override, a listed date, a public holiday, the weekday's hours."""
    if definition.preset == "24x7":
        return ((0, 24 * 60),), None
    overrides = definition.overrides or {}
    if day in overrides:
        hours = tuple(overrides[day])
        return hours, None if hours else "closed (override)"
    if day in definition.dates:
        return (), "closed date"
    if day in names:
        return (), names[day]
    hours = tuple(definition.weekly[day.weekday()])
    return hours, None if hours else "weekend"


class _Axis:
    def __init__(self, start: datetime, end: datetime):
        self.start, self.end = start, end
        self.span = max(end.timestamp() - start.timestamp(), 1.0)

    def x(self, moment: datetime) -> float:
        """Elapsed real time (timestamps: aware arithmetic in one zone is wall-clock time)."""
        frac = (moment.timestamp() - self.start.timestamp()) / self.span
        return round(min(max(frac, 0.0), 1.0) * WIDTH, 2)


def _bands(axis: _Axis, definition: Definition | None, zone: ZoneInfo) -> list[Band]:
    """Open and closed bands over the axis, one day at a time in the calendar's zone."""
    if definition is None:
        return []
    bands: list[Band] = []
    day = axis.start.astimezone(zone).date()
    last = axis.end.astimezone(zone).date()
    names: dict[date, str] = {}
    years: set[int] = set()
    cursor = axis.start   # closed time runs from the cursor to the next opening
    while day <= last:
        if day.year not in years:
            years.add(day.year)
            names.update(_names(definition, day.year))
        hours, closed_why = day_hours(definition, day, names)
        midnight = datetime.combine(day, time(0), zone)
        for a, b in hours:
            open_a = max(midnight + timedelta(minutes=a), axis.start)
            open_b = min(midnight + timedelta(minutes=b), axis.end)
            if open_a >= open_b:
                continue
            if open_a > cursor:
                bands.append(_closed(axis, cursor, open_a, bands))
            elif bands and bands[-1].kind == "open":   # open across midnight: one band
                open_a = bands.pop().start or open_a
            bands.append(Band(axis.x(open_a), round(axis.x(open_b) - axis.x(open_a), 2),
                              "open", "open", "open", open_a))
            cursor = open_b
        if closed_why is not None:
            bands.append(Band(-1, 0, "closed", closed_why, ""))   # a marker for _closed
        day += timedelta(days=1)
    if cursor < axis.end:
        bands.append(_closed(axis, cursor, axis.end, bands))
    return [b for b in bands if b.x >= 0]


def _closed(axis: _Axis, a: datetime, b: datetime, bands: list[Band]) -> Band:
    """A closed band from `a` to `b`, named after the whole days closed inside it (the
    placeholders `_bands` left since the last open band), else `night`."""
    why: list[str] = []
    while bands and bands[-1].x < 0:
        why.insert(0, bands.pop().reason)
    named = [w for w in dict.fromkeys(why) if w != "weekend"]
    reason = ", ".join(named + (["weekend"] if "weekend" in why else [])) or "night"
    return Band(axis.x(a), round(axis.x(b) - axis.x(a), 2), "closed", reason, reason)


def _end_of(clock: Clock, now: datetime | None) -> datetime:
    moments = [m for m in (clock.as_of, clock.due_at, clock.fulfilled_at, clock.breached_at, now)
               if m is not None]
    end = max(moments)
    start = clock.started_at or end
    return end + max((end - start) / 12, timedelta(minutes=30))


def picture(clock: Clock, calendar_spec: object | None, history: tuple[HistoryEntry, ...] = (),
            now: datetime | None = None) -> Picture | None:
    """The picture of one clock (None when it has nothing to draw: no start)."""
    if clock.started_at is None or clock.status == "not_applicable":
        return None
    zone = ZoneInfo(clock.timezone or "UTC")
    start = clock.started_at.astimezone(zone)
    end = _end_of(clock, now).astimezone(zone)
    axis = _Axis(start, end)
    definition = None
    if calendar_spec is not None and clock.calendar is not None:
        if isinstance(calendar_spec, dict):  # metadata, not arithmetic (as the checks do)
            calendar_spec = {k: v for k, v in calendar_spec.items() if k != "description"}
        try:
            definition = definition_of(clock.calendar, calendar_spec)
        except ValueError:   # not a spec this picture can read: no bands, the rest drawn
            definition = None
    pic = Picture(clock.metric, clock.status, str(zone), clock.calendar, start.isoformat(),
                  end.isoformat())
    if (end - start).days > MAX_DAYS:
        pic.note = f"over {MAX_DAYS} days: business hours not drawn"
    else:
        pic.bands = _bands(axis, definition, zone)
    for p in clock.paused:
        until = p.end or end
        pic.pauses.append(Band(axis.x(p.start), round(axis.x(until) - axis.x(p.start), 2),
                               "paused", p.status, f"paused ({p.status})"))
    pic.markers = _markers(axis, clock, history, now, zone)
    pic.ticks = _ticks(axis, zone)
    pic.summary = _summary(clock, zone)
    return pic


def _markers(axis: _Axis, clock: Clock, history: tuple[HistoryEntry, ...],
             now: datetime | None, zone: ZoneInfo) -> list[Marker]:
    out = []

    def add(kind: str, moment: datetime | None, label: str) -> None:
        if moment is not None:
            local = moment.astimezone(zone)
            out.append(Marker(axis.x(local), kind, f"{label} {local.strftime('%a %H:%M')}",
                              local.isoformat()))

    add("start", clock.started_at, "start")
    for h in history:
        if h.event is not None and axis.start <= h.at <= axis.end:
            add("change", h.at, f"{h.from_ or 'none'}→{h.to or 'none'}")
    add("warn", clock.warn_at, "warn")
    add("due", clock.due_at, "due")
    add("reply", clock.fulfilled_at, "reply")
    add("breach", clock.breached_at, "breach")
    if now is not None and clock.fulfilled_at is None:
        add("now", now, "now")
    return out


def _ticks(axis: _Axis, zone: ZoneInfo) -> list[Marker]:
    """Day boundaries (at most ~14 labelled)."""
    days = []
    day = axis.start.astimezone(zone).date() + timedelta(days=1)
    while day <= axis.end.astimezone(zone).date():
        days.append(day)
        day += timedelta(days=1)
    step = max(1, len(days) // 14 + (1 if len(days) % 14 else 0))
    out = []
    for i, d in enumerate(days):
        moment = datetime.combine(d, time(0), zone)
        label = f"{_WEEKDAYS[d.weekday()]} {d.day:02d} {d.strftime('%b')}" if i % step == 0 else ""
        out.append(Marker(axis.x(moment), "day", label, moment.isoformat()))
    return out


def _summary(clock: Clock, zone: ZoneInfo) -> str:
    parts = [f"{clock.metric.replace('_', ' ')}: {clock.status}"]
    if clock.due_at is not None:
        parts.append(f"due {_hm(clock.due_at.astimezone(zone))}")
    if clock.fulfilled_at is not None:
        parts.append(f"reply {_hm(clock.fulfilled_at.astimezone(zone))}")
    if clock.breached_at is not None:
        parts.append(f"breached {_hm(clock.breached_at.astimezone(zone))}")
    return ", ".join(parts) + f" (times in {zone})"
