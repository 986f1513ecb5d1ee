"""Timeline stage, clocks: one SLA metric's clock over a ticket's life, by exact interval
arithmetic on the metric's calendar (`Calendar.elapsed` / `Calendar.due` over the intervals the
clock runs; never a walk over minutes).

Definitions (docs/timelines.md; `tests/test_timeline_property.py` restates them as a naive
minute walker):

- The clock starts at `start` and runs except during pauses; after `as_of` (and after it is
  fulfilled) it is taken to run, so a paused clock's due time is "if it resumed now".
- A **phase** begins at each change of the target in effect (level, open time, calendar). Phase
  k counts `consumed_k(t) = offset_k + open time on C_k of the running intervals in
  [anchor_k, t)` and falls due at the earliest `t >= anchor_k` with `consumed_k(t) >= T_k`.
- The first target is counted from the start. On a later change the metric's rule for raises
  (a more urgent level) or lowerings says: `from_start` (anchor = start, time already counted
  kept, on the new calendar), `from_change` (anchor = the change), `sooner` (anchor = the
  change, with the open time that was left if that is less than the new target, and the due
  time that was running if it had already passed). A change at the same level (a plan, a
  calendar) counts from the start.
- Overdue at t: t is after the due time of the phase in effect. `breached_at` is where the
  overdue stretch that reaches the end (fulfilment or `as_of`) began: the due time, or the
  change that made a target already exceeded apply (`from_start` breaches at the change).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, overload
from zoneinfo import ZoneInfo

from engine.calendars import Calendar
from engine.core.clock import Clock, Cycle, Pause, Phase
from engine.core.model import Metric
from engine.timeline.metrics import Config

ZERO = timedelta(0)
#: Orders of what is not an event, among events at the same instant.
SUBMISSION, FIRST_RESPONSE_FIELD = -2, -1


class Change(NamedTuple):
    """The target in effect from `at` (None: none, for `reason`); `order`: the event index,
    or SUBMISSION / FIRST_RESPONSE_FIELD, to order things at one instant."""

    at: datetime
    order: int
    level: str | None
    config: Config | None
    reason: str | None


class Spans:
    """The clock's pauses, [start, end) sorted and disjoint; open time is counted outside them."""

    __slots__ = ("starts", "ends")

    def __init__(self, pauses: list[tuple[datetime, datetime]]):
        self.starts = [a for a, _ in pauses]
        self.ends = [b for _, b in pauses]

    def open(self, cal: Calendar, a: datetime, b: datetime) -> timedelta:
        """Open time on `cal` of the running part of [a, b) (zero when b <= a)."""
        if b <= a:
            return ZERO
        total = cal.elapsed(a, b)
        for p, q in zip(self.starts, self.ends, strict=True):
            if q <= a:
                continue
            if p >= b:
                break
            total -= cal.elapsed(max(a, p), min(b, q))
        return total

    def due(self, cal: Calendar, a: datetime, budget: timedelta) -> datetime:
        """The earliest t >= a with `budget` of running open time on `cal` in [a, t)."""
        if budget <= ZERO:
            return a.astimezone(cal.zone)
        x = a
        first = bisect.bisect_right(self.ends, a)
        for p, q in zip(self.starts[first:], self.ends[first:], strict=True):
            if p > x:
                run = cal.elapsed(x, p)
                if run >= budget:
                    return cal.due(x, budget)
                budget -= run
            x = max(x, q)
        return cal.due(x, budget)


@dataclass(slots=True)
class _Phase:
    at: datetime
    order: int
    level: str | None
    config: Config | None
    reason: str | None
    counted: str | None = None
    anchor: datetime | None = None
    offset: timedelta = ZERO
    due: datetime | None = None
    warn: datetime | None = None

    def consumed(self, spans: Spans, t: datetime) -> timedelta:
        assert self.config is not None and self.anchor is not None
        return self.offset + spans.open(self.config.calendar, self.anchor, t)


class ClockInput(NamedTuple):
    """What one cycle of a metric's clock is computed from."""

    metric: Metric
    start: datetime
    changes: tuple[Change, ...]          # the first is the target in effect at `start`
    pauses: tuple[tuple[datetime, datetime | None, str], ...]   # end None: still paused
    fulfilled: tuple[datetime, int] | None   # (instant, order)
    as_of: datetime
    levels: tuple[str, ...]


class ClockRun:
    """One cycle of a clock, computed; `record()` is the decision's `Clock`."""

    def __init__(self, inp: ClockInput):
        self.inp = inp
        f = inp.fulfilled
        self.end = f[0] if f is not None else inp.as_of
        end = self.end
        self.pauses = [(a, min(b if b is not None else inp.as_of, end), s, b is None and f is None)
                       for a, b, s in inp.pauses if a < end]
        self.spans = Spans([(a, b) for a, b, _, _ in self.pauses if a < b])
        self.phases: list[_Phase] = []
        for change in inp.changes:
            if f is not None and (change.at, change.order) > f:
                break
            self._add(change)

    # ---- phases -----------------------------------------------------------------------
    def _add(self, ch: Change) -> None:
        phases = self.phases
        last = phases[-1] if phases else None
        if last is not None and (ch.config.same(last.config) if ch.config is not None else
                                 last.config is None and ch.reason == last.reason):
            return
        phase = _Phase(ch.at, ch.order, ch.level, ch.config, ch.reason)
        phases.append(phase)
        if ch.config is None:
            return
        metric, start, spans = self.inp.metric, self.inp.start, self.spans
        cal, within = ch.config.calendar, ch.config.within
        previous = last if last is not None and last.config is not None else None
        if previous is None:
            phase.counted = "start" if last is None else "from_start"
            phase.anchor = start
        else:
            before = previous.config
            assert before is not None
            phase.counted = self._rule(before.level, ch.config.level)
            phase.anchor = start if phase.counted == "from_start" else ch.at
            if phase.counted == "sooner":
                left = before.within - previous.consumed(spans, ch.at)
                if previous.due is not None and previous.due <= ch.at:   # already overdue
                    phase.offset = within - left
                    phase.due, phase.warn = previous.due, previous.warn
                    return
                phase.offset = within - min(within, left)
        phase.due = spans.due(cal, phase.anchor, within - phase.offset)
        warn = metric.warn_before if metric.warn_before is not None else (
            within * metric.warn_fraction if metric.warn_fraction is not None else None)
        if warn is not None:
            phase.warn = spans.due(cal, phase.anchor, within - warn - phase.offset)

    def _rule(self, before: str | None, after: str | None) -> str:
        levels, metric = self.inp.levels, self.inp.metric
        if before is None or after is None or before == after or before not in levels \
                or after not in levels:
            return "from_start"
        return metric.on_raise if levels.index(after) < levels.index(before) else metric.on_lower

    # ---- figures ------------------------------------------------------------------------
    @property
    def phase(self) -> _Phase | None:
        """The phase in effect at the end (fulfilment or as_of)."""
        return self.phases[-1] if self.phases else None

    def consumed_at(self, t: datetime) -> timedelta | None:
        """Open time counted against the target in effect at `t` (None without a target)."""
        phase = None
        for p in reversed(self.phases):
            if p.at <= t:
                phase = p
                break
        if phase is None or phase.config is None:
            return None
        assert phase.anchor is not None   # a phase with a target counts from its anchor
        return phase.consumed(self.spans, max(t, phase.anchor))

    @property
    def status(self) -> str:
        phase = self.phase
        if phase is None or phase.config is None:
            return "not_applicable"
        assert phase.due is not None
        if self.inp.fulfilled is not None:
            return "met" if self.end <= phase.due else "breached"
        if self.inp.as_of > phase.due:
            return "breached"
        return "paused" if any(ongoing for *_, ongoing in self.pauses) else "running"

    def breached_at(self, status: str | None = None) -> datetime | None:
        """Where the overdue stretch reaching the end began (see the module docstring)."""
        if (status or self.status) != "breached":
            return None
        k = len(self.phases) - 1
        while True:
            phase = self.phases[k]
            assert phase.due is not None
            if phase.due >= phase.at:
                return phase.due
            j = k - 1  # the phase in effect just before this one began (zero-length skipped)
            while j >= 0 and self.phases[j].at >= phase.at:
                j -= 1
            before = self.phases[j] if j >= 0 else None
            if before is None or before.config is None or before.due is None \
                    or before.due >= phase.at:
                return phase.at
            k = j

    def record(self, cycles: tuple[Cycle, ...] | None = None) -> Clock:
        """The decision's clock record, instants in the zone of the calendar in effect."""
        inp, phase = self.inp, self.phase
        config = phase.config if phase is not None else None
        status = self.status
        fulfilled = inp.fulfilled[0] if inp.fulfilled is not None else None
        if config is None:
            return Clock(inp.metric.name, status, phase.reason if phase else None,
                         phase.level if phase else None, None, None, None, None, inp.start,
                         None, None, fulfilled, None, self._paused(None), None, None, inp.as_of,
                         None, tuple(map(_phase_record, self.phases)), cycles)
        assert phase is not None
        zone = config.calendar.zone
        breached = self.breached_at(status)
        assert phase.anchor is not None   # a phase with a target counts from its anchor
        consumed = phase.consumed(self.spans, max(self.end, phase.anchor))
        return Clock(
            inp.metric.name, status, None, phase.level, config.within, config.calendar.clock,
            config.name, zone.key, _in(inp.start, zone), phase.due, phase.warn,
            _in(fulfilled, zone), _in(breached, zone), self._paused(zone), consumed,
            None if fulfilled is not None else config.within - consumed,
            _in(inp.as_of, zone), config.rule,
            tuple(map(_phase_record, self.phases)), cycles)

    def _paused(self, zone: ZoneInfo | None) -> tuple[Pause, ...]:
        if not self.pauses:
            return ()
        return tuple(Pause(_in(a, zone), None if ongoing else _in(b, zone), s)
                     for a, b, s, ongoing in self.pauses)


@overload
def _in(t: datetime, zone: ZoneInfo | None) -> datetime: ...
@overload
def _in(t: datetime | None, zone: ZoneInfo | None) -> datetime | None: ...
def _in(t: datetime | None, zone: ZoneInfo | None) -> datetime | None:
    """`t` in `zone` (unchanged without one)."""
    if t is None or zone is None or t.tzinfo is zone:
        return t
    return t.astimezone(zone)


def _phase_record(p: _Phase) -> Phase:
    c = p.config
    at = _in(p.at, c.calendar.zone) if c is not None else p.at
    return Phase(at, p.order if p.order >= 0 else None, p.level, c.within if c else None,
                 c.name if c else None, p.counted, p.due, c.rule if c else None, p.reason)


def not_applicable(metric: Metric, reason: str, as_of: datetime) -> Clock:
    """The clock of a metric that cannot run at all (not promised, never started)."""
    return Clock(metric.name, "not_applicable", reason, None, None, None, None, None, None, None,
                 None, None, None, (), None, None, as_of, None, ())


def single_figures(metric: Metric, cfg: Config, start: datetime, fulfilled: datetime | None,
                   as_of: datetime, due: datetime | None = None
                   ) -> tuple[datetime, datetime | None, timedelta, bool, str]:
    """What `single`'s clock of a target counts for one ticket: (due, warn_at, consumed, late,
    status); `due` when already known, as for `single`."""
    cal, within = cfg.calendar, cfg.within
    if due is None:
        due = cal.due(start, within)
    warn = metric.warn_before if metric.warn_before is not None else (
        within * metric.warn_fraction if metric.warn_fraction is not None else None)
    warn_at = None if warn is None else cal.due(start, within - warn) if within > warn else \
        start.astimezone(cal.zone)
    end = fulfilled if fulfilled is not None else as_of
    if end is start:   # as of the submission, unanswered: none consumed, not late (due >= start)
        return due, warn_at, ZERO, False, "running"
    consumed = cal.elapsed(start, end) if end > start else ZERO
    late = end > due
    status = ("breached" if late else "met") if fulfilled is not None else (
        "breached" if late else "running")
    return due, warn_at, consumed, late, status


def single(metric: Metric, start: datetime, change: Change, fulfilled: datetime | None,
           as_of: datetime, due: datetime | None = None) -> Clock:
    """The clock of a ticket without events: one target from the start, no pause — the same
    record `ClockRun(...).record()` gives (a test holds them equal), without its set-up.
    `due`: the target's due time when already known (`cal.due(start, within)`, in its zone)."""
    cfg = change.config
    if cfg is None:
        return Clock(metric.name, "not_applicable", change.reason, change.level, None, None,
                     None, None, start, None, None, fulfilled, None, (), None, None, as_of, None,
                     (Phase(start, None, change.level, None, None, None, None, None,
                            change.reason),))
    cal, within = cfg.calendar, cfg.within
    zone = cal.zone
    due, warn_at, consumed, late, status = single_figures(metric, cfg, start, fulfilled, as_of,
                                                          due)
    at = _in(start, zone)
    return Clock(metric.name, status, None, cfg.level, within, cal.clock, cfg.name, zone.key, at,
                 due, warn_at, _in(fulfilled, zone), due if late else None, (), consumed,
                 None if fulfilled is not None else within - consumed, _in(as_of, zone),
                 cfg.rule, (Phase(at, None, cfg.level, within, cfg.name,
                                  "start", due, cfg.rule, None),))
