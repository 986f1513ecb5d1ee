"""Timeline stage, the evaluator: a ticket's life — its events, the decision re-derived at each,
the priority history and one clock per SLA metric — as one decision record.

`TimelineEvaluator` wraps the run stage's `Evaluator` (its engine and decision caches). A ticket
without events is decided exactly as the run stage decides it, plus its `history`, `clocks` and
`held`; `sla` is the `first_response` clock's figures. Clocks are read as of `now`, or of the
last event; `at` gives the decision as it stood at an instant (events and a first response
after it are left out).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import NamedTuple

from engine.check.tickets import Ticket, parse_timestamp
from engine.compile.compiler import CompiledPolicy
from engine.core.clock import Clock, Cycle
from engine.core.decision import Decision, Outcome, Sla, snapshot_decision
from engine.core.diagnostics import Diagnostic, Location
from engine.core.model import Metric
from engine.run.errors import CalendarError, EvaluationError, TicketError
from engine.run.evaluator import (
    Evaluator,
    Failure,
    default_evaluator,
    evaluation_diagnostic,
    now_before_submission,
    snapshot_sla,
)
from engine.timeline.clocks import (
    FIRST_RESPONSE_FIELD,
    Change,
    ClockInput,
    ClockRun,
    not_applicable,
)
from engine.timeline.derive import Derivation, Instant, derive
from engine.timeline.events import Event, EventChecker
from engine.timeline.metrics import config, metrics_of
from engine.timeline.snapshot import SnapshotLife


class Timeline(NamedTuple):
    """A ticket's life decided: the record, and the facts in effect at its end (why-not)."""

    decision: Decision
    values: dict


class _Prepared(NamedTuple):
    """What the timeline needs of one policy, prepared once."""

    events: EventChecker
    once: frozenset[str]
    metrics: tuple[Metric, ...]


class TimelineEvaluator:
    """Decides tickets with `events` (and without) on a run-stage `Evaluator`."""

    def __init__(self, evaluator: Evaluator | None = None, *, max_policies: int = 8,
                 strict: bool | None = None):
        self._evaluator = evaluator
        self.strict = strict   # None: as the run-stage evaluator's
        self._prepared: OrderedDict[tuple, _Prepared] = OrderedDict()
        self._max = max_policies
        self._last: tuple[CompiledPolicy, _Prepared] | None = None

    @property
    def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            self._evaluator = default_evaluator()
        return self._evaluator

    def evaluate(self, policy: CompiledPolicy, ticket: object, *, now: datetime | None = None,
                 at: datetime | None = None, cache: bool = True,
                 strict: bool | None = None) -> Decision:
        """The decision as of `now` (or as it stood `at`). Raises TicketError (every problem of
        the ticket and its events), EvaluationError, ValueError for a naive or doubled time.
        `strict`: a key that looks like a misspelt fact is an error, not a warning."""
        if now is None and at is None and ticket.__class__ is dict \
                and ticket.get("events") is None:   # type: ignore[attr-defined]
            # the common case (one snapshot, read as of submission): what `run` does for it
            checked, problems = policy.checker.check(ticket, self._strict(strict))
            if problems:
                raise TicketError(problems)
            assert checked is not None
            return self._snapshot(policy, checked, self._prepare(policy), None, cache)
        return self.run(policy, ticket, now=now, at=at, cache=cache, strict=strict).decision

    def evaluate_many(self, policy: CompiledPolicy, tickets: Iterable[Mapping], *,
                      now: datetime | None = None, cache: bool = True,
                      strict: bool | None = None) -> Iterator[Decision | Failure]:
        """Each ticket's Decision, or a Failure naming its problems, in input order."""
        for index, ticket in enumerate(tickets):
            tid = ticket.get("id") if isinstance(ticket, Mapping) else None
            tid = tid if isinstance(tid, str) else None
            try:
                yield self.evaluate(policy, ticket, now=now, cache=cache, strict=strict)
            except TicketError as exc:
                yield Failure(index, tid, tuple(exc.diagnostics))
            except EvaluationError as exc:
                yield Failure(index, tid, (evaluation_diagnostic(exc, policy),))

    def run(self, policy: CompiledPolicy, ticket: object, *, now: datetime | None = None,
            at: datetime | None = None, cache: bool = True,
            strict: bool | None = None) -> Timeline:
        """`evaluate`, also returning the facts in effect at the end."""
        for name, moment in (("now", now), ("at", at)):
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"`{name}` must be timezone-aware")
        if now is not None and at is not None:
            raise ValueError("give `now` or `at`, not both")
        checked, problems = policy.checker.check(ticket, self._strict(strict))
        fields = ticket if type(ticket) is dict or isinstance(ticket, Mapping) else None
        raw = fields.get("events") if fields is not None else None
        events: tuple[Event, ...] = ()
        prepared = self._prepare(policy)
        base = checked if checked is not None or fields is None or raw is None else \
            _stand_in(policy, fields)
        if raw is not None and base is not None:  # events are checked even beside bad fields
            events, more = prepared.events.check(raw, base)
            problems = [*problems, *(more if checked else [
                d for d in more if d.code != "ticket_event_first_response"])]
        if problems:
            raise TicketError(problems)
        assert checked is not None
        moment = now if now is not None else at
        if moment is not None and moment < checked.submitted_at:
            raise TicketError([now_before_submission(moment, checked)])
        if now is not None:
            late = [e for e in events if e.at > now]
            if late:
                raise TicketError([_after_now(now, e) for e in late])
        if at is not None:
            events = tuple(e for e in events if e.at <= at)
            if checked.first_response_at is not None and checked.first_response_at > at:
                checked = _without_first_response(checked)
        if not events:
            return Timeline(self._snapshot(policy, checked, prepared, moment, cache),
                            checked.values)
        assert isinstance(raw, list)   # the events were read from it
        d = derive(self.evaluator, policy, checked, events, cache=cache, once=prepared.once)
        as_of = moment or max(checked.submitted_at, events[-1].at)
        try:
            runs = [_clock(m, policy, checked, d, events, as_of) for m in prepared.metrics]
            clocks = tuple(r if isinstance(r, Clock) else r[0].record(r[1]) for r in runs)
            first = runs[0]
            sla = _sla(clocks[0], None if isinstance(first, Clock) else first[0].consumed_at,
                       moment)
        except (ValueError, OverflowError) as exc:  # e.g. a calendar whose open time runs out
            raise CalendarError(f"calendar: {exc}", ()) from exc
        outcome = d.instants[-1].outcome
        if sla is None and outcome.sla_reason is None:
            outcome = outcome._replace(sla_reason=clocks[0].reason)
        inputs = ((*policy.input_paths, "events"),
                  {**checked.values, "events": list(raw[:len(events)])})
        decision = Decision(
            ticket_id=checked.id, policy=policy.ref,
            requested_priority=d.values.get("requested_priority"), outcome=outcome, sla=sla,
            now=moment, inputs=inputs, history=d.history, clocks=clocks, held=d.held,
            ignored_fields=checked.ignored, warnings=checked.warnings)
        return Timeline(decision, d.values)

    def _strict(self, strict: bool | None) -> bool:
        """`strict` as given, else this evaluator's, else its run-stage evaluator's."""
        if strict is not None:
            return strict
        return self.strict if self.strict is not None else self.evaluator.strict

    def _snapshot(self, policy: CompiledPolicy, checked: Ticket, prepared: _Prepared,
                  moment: datetime | None, cache: bool) -> Decision:
        """A ticket without events: decided exactly as the run stage decides it (its `sla`
        included); history and clocks are computed when first read."""
        outcome = self.evaluator.outcome(policy, checked, cache=cache)
        sla = snapshot_sla(policy, checked, outcome, moment)
        life = SnapshotLife(prepared.metrics, policy, checked, outcome, sla,
                            moment or checked.submitted_at)
        values = checked.values
        return snapshot_decision(checked.id, policy.ref, values.get("requested_priority"), outcome,
                                 sla, moment, (policy.input_paths, values), life,
                                 checked.ignored, checked.warnings)

    def _prepare(self, policy: CompiledPolicy) -> _Prepared:
        last = self._last
        if last is not None and last[0] is policy:
            return last[1]
        found = self._prepared.get(policy.cache_scope)
        if found is None:
            found = self._prepared[policy.cache_scope] = _Prepared(
                EventChecker(policy.checker, policy.policy.levels),
                frozenset(r.id for r in policy.rules if r.once), metrics_of(policy.policy))
            if len(self._prepared) > self._max:
                self._prepared.popitem(last=False)
        self._last = (policy, found)
        return found


def _stand_in(policy: CompiledPolicy, ticket: Mapping) -> Ticket | None:
    """A ticket to check events against when the ticket itself has problems: its submission
    time when that one is valid (events are still held to it), else the earliest possible."""
    submitted = ticket.get("submitted_at")
    try:
        parse_timestamp(submitted)
    except ValueError:
        submitted = "1900-01-01T00:00:00Z"
    return policy.checker.check({"id": "<events>", "submitted_at": submitted})[0]


def _after_now(now: datetime, e: Event) -> Diagnostic:
    return Diagnostic("ticket_now_before_event", f"`now` {now.isoformat()} is before event "
                      f"{e.index} at {e.at.isoformat()}",
                      location=Location(pointer=f"/events/{e.index}/at"),
                      hint="events are what already happened; `at` (`--at`) shows the ticket "
                      "as it stood at an earlier instant")


def _without_first_response(t: Ticket) -> Ticket:
    values = dict(t.values, first_response_at=None)
    return Ticket(t.id, values, t.submitted_at, None, t.customer_zone, t.response_targets,
                  t.targets_key)


# --------------------------------------------------------------------------- clocks


def _changes(metric: Metric, cp: CompiledPolicy, instants: Iterable[Instant]) -> list[Change]:
    out: list[Change] = []
    last: Outcome | None = None
    for i in instants:
        if i.outcome is last and not i.derived:
            continue
        last = i.outcome
        found = config(metric, cp.policy, i.outcome, i.zone)
        out.append(Change(i.at, i.order, i.outcome.priority, None, found)
                   if isinstance(found, str) else Change(i.at, i.order, found.level, found, None))
    return out


def _statuses(events: tuple[Event, ...]) -> list[tuple[datetime, int, str]]:
    return [(e.at, e.index, e.status) for e in events if e.status is not None]


def _pauses(metric: Metric, events: tuple[Event, ...]) -> tuple[list, tuple | None]:
    """The metric's paused intervals, and its fulfilment (instant, order) among status events."""
    pauses: list[tuple[datetime, datetime | None, str]] = []
    open_pause: tuple[datetime, str] | None = None
    done: tuple[datetime, int, str] | None = None
    for at, index, status in _statuses(events):
        if open_pause is not None:
            pauses.append((open_pause[0], at, open_pause[1]))
            open_pause = None
        if done is not None and metric.reopen == "resume" and status not in ("solved", "closed"):
            pauses.append((done[0], at, done[2]))   # reopened: the solved stretch is not counted
            done = None
        if status in metric.pauses:
            open_pause = (at, status)
        elif status in metric.fulfilled_by and done is None:
            done = (at, index, status)
    if open_pause is not None:
        pauses.append((open_pause[0], None, open_pause[1]))
    return pauses, (done[0], done[1]) if done is not None else None


def _clock(metric: Metric, cp: CompiledPolicy, checked: Ticket, d: Derivation,
           events: tuple[Event, ...], as_of: datetime) -> Clock | tuple[ClockRun, tuple | None]:
    """One metric's clock: not applicable at all, or its (last) run and completed cycles."""
    if metric.not_promised:
        return not_applicable(metric, metric.not_promised, as_of)
    changes = _changes(metric, cp, d.instants)
    pauses, by_status = _pauses(metric, events)
    replies = [(e.at, e.index) for e in events if e.by == "agent"]
    if checked.first_response_at is not None:
        replies = sorted([(checked.first_response_at, FIRST_RESPONSE_FIELD), *replies])
    levels = cp.policy.levels
    if metric.starts == "submitted":
        fulfilled = [by_status] if by_status else []
        if "agent_reply" in metric.fulfilled_by and replies:
            fulfilled.append(replies[0])
        done = min(fulfilled) if fulfilled else None
        return ClockRun(ClockInput(metric, checked.submitted_at, tuple(changes), tuple(pauses),
                                   done, as_of, levels)), None
    # next_response: a cycle per customer reply that follows an agent reply, to the next one
    first = replies[0] if replies else None
    runs: list[ClockRun] = []
    running = False
    for e in events:
        if first is None or (e.at, e.index) <= first:
            continue
        if e.by == "customer" and not running:
            start = (e.at, e.index)
            inside = [c for c in changes if (c.at, c.order) > start]
            before = [c for c in changes if (c.at, c.order) <= start][-1]
            clipped = tuple((max(a, e.at), b, s) for a, b, s in pauses
                            if b is None or b > e.at)
            runs.append(ClockRun(ClockInput(metric, e.at, (before._replace(at=e.at),
                                                           *inside), clipped, None, as_of,
                                            levels)))
            running = True
        elif e.by == "agent" and running:
            run = runs[-1]
            runs[-1] = ClockRun(run.inp._replace(fulfilled=(e.at, e.index)))
            running = False
    if not runs:
        return not_applicable(metric, "no customer reply awaits an answer", as_of)
    cycles = tuple(Cycle(r.inp.start, r.inp.fulfilled[0] if r.inp.fulfilled else None,
                         r.phase.due if r.phase else None, r.status) for r in runs[:-1])
    return runs[-1], cycles


def _sla(clock: Clock, consumed_at, now: datetime | None) -> Sla | None:
    """The decision's `sla`: the first_response clock's figures (None without a target)."""
    if clock.status == "not_applicable" or consumed_at is None:
        return None
    assert clock.target is not None and clock.due_at is not None and clock.calendar
    f = clock.fulfilled_at
    remaining = None
    if now is not None and not (f is not None and f <= now):
        consumed = consumed_at(now)
        remaining = None if consumed is None else clock.target - consumed
    return Sla(target=clock.target, clock=clock.clock or "business", calendar=clock.calendar,
               timezone=clock.timezone or "UTC", due_at=clock.due_at,
               met=None if f is None else f <= clock.due_at, remaining=remaining,
               rule=clock.rule, metric="first_response",
               status="pending" if clock.status in ("running", "paused") else clock.status,
               breached_at=clock.breached_at)


# --------------------------------------------------------------------------- the default

_default: TimelineEvaluator | None = None
_lock = threading.Lock()


def default_timeline() -> TimelineEvaluator:
    """The process's TimelineEvaluator, on the run stage's default Evaluator."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = TimelineEvaluator()
    return _default


_over: weakref.WeakKeyDictionary[Evaluator, TimelineEvaluator] = weakref.WeakKeyDictionary()


def timeline_for(evaluator: Evaluator | None = None) -> TimelineEvaluator:
    """The TimelineEvaluator over `evaluator` (a host's own; kept as long as it lives, so its
    prepared policies are reused), or the process's default one when None."""
    if evaluator is None:
        return default_timeline()
    found = _over.get(evaluator)
    if found is None:
        with _lock:
            found = _over.get(evaluator)
            if found is None:
                found = _over[evaluator] = TimelineEvaluator(evaluator)
    return found


def evaluate(policy: CompiledPolicy, ticket: object, *, now: datetime | None = None,
             at: datetime | None = None, cache: bool = True, strict: bool = False) -> Decision:
    """Decide one ticket, following its events (see `TimelineEvaluator.evaluate`)."""
    return default_timeline().evaluate(policy, ticket, now=now, at=at, cache=cache,
                                       strict=strict)


def evaluate_many(policy: CompiledPolicy, tickets: Iterable[Mapping], *,
                  now: datetime | None = None,
                  cache: bool = True) -> Iterator[Decision | Failure]:
    """Each ticket's Decision or Failure, in order, on the default TimelineEvaluator."""
    return default_timeline().evaluate_many(policy, tickets, now=now, cache=cache)
