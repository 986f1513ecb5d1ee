"""Property tests: SLA clocks (engine.timeline.clocks) against a deliberately naive reference that
walks one UTC minute at a time.

A scenario is a random business calendar (split shifts, closed days, a DST zone, often near a
DST change) and a 24x7 one, a target per level (P1 sometimes around the clock), the author's
clock rules for raises and lowerings, and a random sequence of priority changes, pauses, resumes
and a reply. The reference marks each minute open (the local wall-clock time of that minute is
in an open interval of its local date) and running (outside every pause), counts minutes, and
applies the definitions of docs/timelines.md literally. Every bound is a whole minute, so
minute counting is exact.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import campaign
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.calendars import DAY_NAMES, build_calendar
from engine.core.model import CLOCK_RULES, Metric
from engine.timeline.clocks import Change, ClockInput, ClockRun
from engine.timeline.metrics import Config

# 25 examples in the plain run (100 where the slow tests run); 1,000 in the `_long` twins,
# marked slow (CI).
QUICK = settings(max_examples=campaign(25, 100), deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
LONG = settings(QUICK, max_examples=1000)

ZONES = ("Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Sydney")
LEVELS = ("P1", "P2", "P3")
MINUTE = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HORIZON = 8 * 1440           # the walker looks 8 days ahead of the start
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC))


def _transitions(zone: ZoneInfo) -> list[int]:
    found, moment = [], WINDOW[0]
    previous = moment.astimezone(zone).utcoffset()
    while moment < WINDOW[1]:
        moment += timedelta(hours=1)
        offset = moment.astimezone(zone).utcoffset()
        if offset != previous:
            found.append(_minute(moment))
            previous = offset
    return found


def _minute(moment: datetime) -> int:
    return int((moment - EPOCH) // MINUTE)


def _instant(minute: int) -> datetime:
    return EPOCH + minute * MINUTE


TRANSITIONS = {z: _transitions(ZoneInfo(z)) for z in ZONES}


@dataclass(frozen=True)
class Scenario:
    zone: str
    weekly: tuple[tuple[tuple[int, int], ...], ...]
    closed: frozenset[date]
    start: int
    targets: dict           # level -> minutes
    around_the_clock: frozenset[str]   # levels whose target runs 24x7
    on_raise: str
    on_lower: str
    warn: int | None
    changes: tuple[tuple[int, int, str], ...]     # (minute, event index, level)
    pauses: tuple[tuple[int, int | None], ...]    # [start, end) minutes; None: still paused
    reply: tuple[int, int] | None                 # (minute, event index)
    as_of: int


# --------------------------------------------------------------------------- scenarios

_BOUND = st.one_of(st.sampled_from([0, 60, 120, 180, 540, 1020, 1380, 1440]),
                   st.integers(0, 48).map(lambda h: h * 30))


@st.composite
def _day(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    if draw(st.integers(0, 9)) < 2:
        return ()
    bounds = sorted(set(draw(st.lists(_BOUND, min_size=2, max_size=4))))
    return tuple((bounds[i], bounds[i + 1]) for i in range(0, len(bounds) - 1, 2))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        start = draw(st.integers(_minute(WINDOW[0]), _minute(WINDOW[1]) - HORIZON))
    else:
        start = draw(st.sampled_from(TRANSITIONS[zone])) + draw(st.integers(-2 * 1440, 1440))
    weekly = tuple(draw(_day()) for _ in range(7))
    assume(sum(b - a for day in weekly for a, b in day) >= 20 * 60)
    first = _instant(start).astimezone(ZoneInfo(zone)).date()
    closed = frozenset(draw(st.lists(st.integers(0, 6).map(
        lambda k: first + timedelta(days=k)), max_size=2)))
    targets = {lvl: draw(st.integers(1, 8 * 60)) for lvl in LEVELS}
    always = frozenset(lvl for lvl in LEVELS if lvl == "P1" and draw(st.booleans()))
    rules = st.sampled_from(CLOCK_RULES)
    minute, paused, index = start, None, 0
    changes = [(start, -2, draw(st.sampled_from(LEVELS)))]
    pauses: list[tuple[int, int | None]] = []
    reply = None
    for _ in range(draw(st.one_of(st.integers(3, 8), st.integers(0, 2)))):
        minute += draw(st.one_of(st.just(0), st.integers(1, 12 * 60)))
        kind = draw(st.sampled_from(("level", "level", "pause", "resume", "reply")))
        if kind == "level":
            other = [lvl for lvl in LEVELS if lvl != changes[-1][2]]
            changes.append((minute, index, draw(st.sampled_from(other))))
        elif kind == "pause" and paused is None:
            paused = minute
        elif kind == "resume" and paused is not None:
            if minute > paused:
                pauses.append((paused, minute))
            paused = None
        elif kind == "reply" and reply is None:
            reply = (minute, index)
        index += 1
    as_of = minute + draw(st.integers(0, 24 * 60))
    if paused is not None and paused < as_of:
        pauses.append((paused, None))
    warn = draw(st.one_of(st.none(), st.integers(1, 120)))
    return Scenario(zone, weekly, closed, start, targets, always, draw(rules), draw(rules), warn,
                    tuple(changes), tuple(pauses), reply, as_of)


# --------------------------------------------------------------------------- the engine


def engine_clock(s: Scenario):
    spec = {"timezone": s.zone,
            "hours": {DAY_NAMES[d]: [f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"
                                     for a, b in day] for d, day in enumerate(s.weekly)},
            "holidays": {"dates": [d.isoformat() for d in sorted(s.closed)]}}
    office = build_calendar("office", spec)
    always = build_calendar("always", {"preset": "24x7", "timezone": s.zone})

    def config(level: str) -> Config:
        cal, name = (always, "always") if level in s.around_the_clock else (office, "office")
        return Config(level, s.targets[level] * MINUTE, cal, name, f"r.{level}")

    metric = Metric(name="first_response", pauses=("pending",), on_raise=s.on_raise,
                    on_lower=s.on_lower,
                    warn_before=None if s.warn is None else s.warn * MINUTE)
    changes = tuple(Change(_instant(m), i, lvl, config(lvl), None) for m, i, lvl in s.changes)
    pauses = tuple((_instant(a), None if b is None else _instant(b), "pending")
                   for a, b in s.pauses)
    fulfilled = None if s.reply is None else (_instant(s.reply[0]), s.reply[1])
    return ClockRun(ClockInput(metric, _instant(s.start), changes, pauses, fulfilled,
                               _instant(s.as_of), LEVELS)).record()


# --------------------------------------------------------------------------- the reference


class Reference:
    """The clock computed minute by minute, from the definitions."""

    def __init__(self, s: Scenario):
        self.s = s
        zone = ZoneInfo(s.zone)
        self.end = s.reply[0] if s.reply else s.as_of
        paused = [(a, min(b if b is not None else s.as_of, self.end))
                  for a, b in s.pauses if a < self.end]
        self.ongoing = s.reply is None and any(b is None for _, b in s.pauses)
        prefix = {"office": [0], "always": [0]}
        offset = 0
        for m in range(s.start, s.start + HORIZON):
            running = not any(a <= m < b for a, b in paused)
            if m == s.start or m % 60 == 0:  # these zones change offset on whole UTC hours
                offset = int(datetime.fromtimestamp(m * 60, zone).utcoffset() // MINUTE)
            local = EPOCH.replace(tzinfo=None) + (m + offset) * MINUTE
            day = local.date()
            wall = local.hour * 60 + local.minute
            hours = () if day in s.closed else s.weekly[day.weekday()]
            is_open = any(a <= wall < b for a, b in hours)
            prefix["office"].append(prefix["office"][-1] + (running and is_open))
            prefix["always"].append(prefix["always"][-1] + running)
        self.prefix = prefix

    def count(self, cal: str, a: int, t: int) -> int:
        return self.prefix[cal][t - self.s.start] - self.prefix[cal][a - self.s.start]

    def due(self, cal: str, a: int, budget: int) -> int:
        if budget <= 0:
            return a
        p = self.prefix[cal]
        i = bisect.bisect_left(p, p[a - self.s.start] + budget)
        assume(i < len(p))  # beyond the walker's horizon
        return self.s.start + i

    def phases(self) -> list[dict]:
        s, out = self.s, []
        for minute, index, level in s.changes:
            if s.reply is not None and (minute, index) > s.reply:
                break
            if out and out[-1]["level"] == level:
                continue
            cal = "always" if level in s.around_the_clock else "office"
            T = s.targets[level]
            ph = {"at": minute, "level": level, "cal": cal, "T": T, "anchor": s.start,
                  "offset": 0}
            if out:
                prev = out[-1]
                up = LEVELS.index(level) < LEVELS.index(prev["level"])
                rule = s.on_raise if up else s.on_lower
                if rule != "from_start":
                    ph["anchor"] = minute
                if rule == "sooner":
                    left = prev["T"] - prev["offset"] - self.count(prev["cal"], prev["anchor"],
                                                                   minute)
                    if prev["due"] <= minute:
                        ph.update(offset=T - left, due=prev["due"], warn=prev["warn"])
                        out.append(ph)
                        continue
                    ph["offset"] = T - min(T, left)
            ph["due"] = self.due(cal, ph["anchor"], T - ph["offset"])
            ph["warn"] = None if s.warn is None else self.due(
                cal, ph["anchor"], T - s.warn - ph["offset"])
            out.append(ph)
        return out

    def figures(self) -> dict:
        phases, end, s = self.phases(), self.end, self.s
        last = phases[-1]
        consumed = last["offset"] + self.count(last["cal"], last["anchor"],
                                               max(end, last["anchor"]))
        late = end > last["due"]
        status = "breached" if late else ("met" if s.reply else "paused" if self.ongoing
                                          else "running")

        def overdue(t: float) -> bool:   # t in minutes, maybe fractional
            phase = [p for p in phases if p["at"] <= t][-1]
            return t > phase["due"]

        breached = None
        if late:
            b = end
            while b > s.start and overdue(b - 0.5):
                b -= 1
            breached = b
        return {"status": status, "due": last["due"], "consumed": consumed,
                "warn": last["warn"], "breached": breached, "level": last["level"],
                "phases": len(phases)}


# --------------------------------------------------------------------------- properties


SEEN: dict[str, int] = {}


def _check(s: Scenario) -> None:
    expected = Reference(s).figures()
    clock = engine_clock(s)
    assert clock.status == expected["status"]
    assert clock.level == expected["level"]
    assert len(clock.phases) == expected["phases"]
    # compare in UTC: == between zones is False for a time in a repeated hour (PEP 495)
    assert clock.due_at.astimezone(UTC) == _instant(expected["due"])
    assert clock.consumed == expected["consumed"] * MINUTE
    if s.warn is not None:
        assert clock.warn_at.astimezone(UTC) == _instant(expected["warn"])
    if expected["breached"] is None:
        assert clock.breached_at is None
    else:
        assert clock.breached_at.astimezone(UTC) == _instant(expected["breached"])
    if clock.status in ("running", "paused"):
        assert clock.remaining == clock.target - clock.consumed


@QUICK
@given(scenarios())
def test_clock_matches_the_minute_walker(s: Scenario) -> None:
    _check(s)


@pytest.mark.slow
@LONG
@given(scenarios())
def test_clock_matches_the_minute_walker_long(s: Scenario) -> None:
    _check(s)


@QUICK
@given(scenarios())
def test_paused_time_is_never_counted(s: Scenario) -> None:
    """Removing every pause can only add counted open time, never remove any."""
    one = Scenario(**{**s.__dict__, "changes": s.changes[:1]})
    with_pauses = engine_clock(one)
    without = engine_clock(Scenario(**{**one.__dict__, "pauses": ()}))
    assert with_pauses.consumed <= without.consumed
    assert with_pauses.due_at.astimezone(UTC) >= without.due_at.astimezone(UTC)


@settings(QUICK, max_examples=300, derandomize=True)
@given(scenarios())
def _reference_only(s: Scenario) -> None:
    expected = Reference(s).figures()
    for key in (expected["status"], f"phases={min(expected['phases'], 3)}",
                "breached at a change" if expected["breached"] not in (None, expected["due"])
                else "", "with pauses" if s.pauses else ""):
        SEEN[key] = SEEN.get(key, 0) + 1


@pytest.mark.slow
def test_the_scenarios_reach_every_case() -> None:
    """The generator is not vacuous: every status, several phases, breaches at a change."""
    SEEN.clear()
    _reference_only()
    assert {"running", "paused", "met", "breached", "phases=1", "phases=3", "with pauses",
            "breached at a change"} <= set(SEEN), SEEN
