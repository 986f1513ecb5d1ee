"""The Evaluator: a prepared engine adapter plus bounded decision caches; `evaluate` on a default.

Decisions depend only on (policy, ticket, now); nothing reads the clock. A decision depends on
the fact paths the rules read (the compiler knows them), so outcomes are memoised per policy
(digest, cited file and rule positions, which the trace cites) by the ticket's projection onto
those paths, where values the rules cannot tell apart share one entry (its trace re-read for the
values a ticket has: up to MAX_VARIANTS such outcomes are kept per entry, so a hit hands out
the same Outcome object, whose encoded JSON `engine.core.decision_json` keeps); the due time is
computed per ticket. Caches are bounded: `cache_size` outcomes in all (variants counted) — a
policy holding its share or more gives up its oldest, else the least recently used policy
does — and `max_policies` policies, so evaluating many edited versions of a policy keeps a few
caches alive. An outcome
with its trace takes about 3–4 KB (bundled policies), so the default 16,384 outcomes hold the
decision cache near 64 MiB. In front of the entries, an index by the key paths' raw values
(and the response targets) hands a ticket seen before its outcome in one lookup: it holds at
most `cache_size` references in all, and is emptied when full.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from engine.calendars import CalendarRangeError
from engine.check.tickets import Ticket
from engine.compile.compiler import CompiledPolicy
from engine.core.decision import Change, Decision, Outcome, Sla, TraceEvent
from engine.core.diagnostics import Diagnostic, Location
from engine.run.adapter import EngineAdapter, ThreadMode
from engine.run.errors import CalendarError, EngineThreadError, EvaluationError, TicketError

CACHE_SIZE = 16384     # outcomes kept, across all policies (~64 MiB)
MAX_POLICIES = 8       # policies whose caches are kept (LRU)
MAX_VARIANTS = 8       # per entry: outcomes re-read for other merged values, kept
# an entry: (outcome, trace entries to re-read, merged values -> the outcome showing them)
_Entry = tuple[Outcome, tuple[int, ...], dict[tuple, Outcome]]
# a policy's cache: its entries by key, how it keys, and raw key values -> the outcome handed out
_Cache = tuple[dict[tuple, _Entry], "_Keys", dict[tuple, Outcome]]


@dataclass(frozen=True, slots=True)
class Failure:
    """A ticket of `evaluate_many` that could not be decided: its position, id and problems."""

    index: int
    ticket_id: str | None
    diagnostics: tuple[Diagnostic, ...]

    def to_json(self) -> dict:
        return {"index": self.index, "ticket_id": self.ticket_id,
                "problems": [d.to_json() for d in self.diagnostics]}


def _rematch(outcome: Outcome, values: dict, indices: tuple[int, ...],
             merged: frozenset[str]) -> Outcome:
    """A cached outcome with the trace's matched values read from this ticket.

    Values of a merged path may differ between tickets of one cache entry (they satisfy the same
    tests); everything else in the outcome is identical. `indices`: the trace entries that
    matched a merged path.
    """
    trace = list(outcome.trace)
    for i in indices:
        entry = trace[i]
        trace[i] = entry._replace(matched=tuple(
            (p, values.get(p)) if p in merged else (p, v) for p, v in entry.matched))
    return outcome._replace(trace=tuple(trace))


class _Keys:
    """A policy's cache key of a ticket's values in one pass: the key paths' values, each
    merged path's value replaced by its class (class ids are tuples, so an unforeseen value,
    kept raw, cannot collide with one); `seen`: the merged paths' raw values."""

    __slots__ = ("raw", "classes", "merged", "maps")

    def __init__(self, policy: CompiledPolicy):
        paths = tuple(p for p, _ in policy.key_plan)
        self.raw = _getter(paths)
        self.classes = tuple((i, c) for i, (_, c) in enumerate(policy.key_plan) if c is not None)
        self.merged = _getter(policy.merged_order)
        self.maps = bool(policy.key_maps)

    def key(self, raw: tuple) -> tuple:
        """The class key of the key paths' raw values (`raw(values)`, targets key after)."""
        if not self.classes:
            return raw
        key = list(raw)
        for i, classes in self.classes:
            v = key[i]
            key[i] = classes.get(v, v)
        return tuple(key)

    def seen(self, values: dict) -> tuple:
        return self.merged(values)


def _getter(paths: tuple[str, ...]) -> Callable[[dict], tuple]:
    """The values at `paths` as a tuple (None for a path the dict lacks)."""
    if len(paths) > 1:
        get = itemgetter(*paths)

        def values_at(values: dict) -> tuple:
            try:
                return get(values)
            except KeyError:  # a checked ticket has every path; any other dict
                return tuple(map(values.get, paths))
        return values_at
    return lambda values: tuple(map(values.get, paths))


class Evaluator:
    """Owns a durable_rules adapter (thread mode fixed when built) and bounded caches.

    `thread="caller"`: the building thread evaluates (a thread that takes over after it exited
    may too); `thread="dedicated"`: any thread may call, work is handed to one engine thread.
    `strict=True`: a ticket key that looks like a misspelt fact is an error (TicketError), not
    a warning on the decision.
    """

    def __init__(self, *, thread: ThreadMode = "caller", cache_size: int = CACHE_SIZE,
                 max_policies: int = MAX_POLICIES, strict: bool = False):
        if cache_size < 0 or max_policies < 1:
            raise ValueError("cache_size must be >= 0 and max_policies >= 1")
        self.strict = strict
        self.adapter = EngineAdapter(thread)
        self.cache_size = cache_size
        self.max_policies = max_policies
        self._caches: OrderedDict[tuple, _Cache] = OrderedDict()
        self._last: tuple[tuple, _Cache] | None = None  # the most recent policy's
        self._entries = 0  # outcomes in all caches
        self._indexed = 0  # references in all raw-value indexes
        self.hits = 0      # cached evaluations answered from the cache (for hosts' metrics)
        self.misses = 0    # cached evaluations that ran the engine

    # ---- the one loop -----------------------------------------------------------------
    def evaluate(self, policy: CompiledPolicy, ticket: Mapping, *, now: datetime | None = None,
                 cache: bool = True, strict: bool | None = None) -> Decision:
        """Decide one ticket. Raises TicketError for invalid input, EvaluationError when the
        policy fails to decide, ValueError for a `now` without a time zone. `strict`: as the
        evaluator's (None) or as given, for this ticket."""
        checked, problems = policy.checker.check(
            ticket, self.strict if strict is None else strict)
        if isinstance(ticket, Mapping) and ticket.get("events"):
            problems = [*problems, events_unsupported()]
        if problems:
            raise TicketError(problems)
        assert checked is not None
        if now is not None and now.tzinfo is None:
            raise ValueError("`now` must be timezone-aware")
        if now is not None and now < checked.submitted_at:
            raise TicketError([now_before_submission(now, checked)])
        outcome = self._outcome(policy, checked) if cache else self._run(policy, checked)
        values = checked.values
        return Decision(
            ticket_id=checked.id, policy=policy.ref,
            requested_priority=values.get("requested_priority"), outcome=outcome,
            sla=_sla(policy, checked, outcome, now), now=now, inputs=(policy.input_paths, values),
            ignored_fields=checked.ignored, warnings=checked.warnings)

    def evaluate_many(self, policy: CompiledPolicy, tickets: Iterable[Mapping], *,
                      now: datetime | None = None, cache: bool = True,
                      strict: bool | None = None) -> Iterator[Decision | Failure]:
        """Each ticket's Decision, or a Failure naming its problems, in input order."""
        for index, ticket in enumerate(tickets):
            try:
                yield self.evaluate(policy, ticket, now=now, cache=cache, strict=strict)
            except TicketError as exc:
                yield Failure(index, _ticket_id(ticket), tuple(exc.diagnostics))
            except EvaluationError as exc:
                yield Failure(index, _ticket_id(ticket), (evaluation_diagnostic(exc, policy),))

    def outcome(self, policy: CompiledPolicy, checked: Ticket, *, cache: bool = True) -> Outcome:
        """What the rules decide for an already-checked ticket (one snapshot of its facts),
        memoised like `evaluate`; `engine.timeline` re-derives each instant of a ticket with it."""
        return self._outcome(policy, checked) if cache else self._run(policy, checked)

    # ---- cache ------------------------------------------------------------------------
    def _outcome(self, policy: CompiledPolicy, checked: Ticket) -> Outcome:
        scope = policy.cache_scope
        last = self._last
        if last is not None and last[0] is scope:   # the policy of the ticket before
            kept = last[1]
        else:
            caches = self._caches
            cached = caches.get(scope)
            if cached is None:
                kept = caches[scope] = {}, _Keys(policy), {}
                if len(caches) > self.max_policies:
                    _, (entries, _, index) = caches.popitem(last=False)
                    self._entries -= _held(entries.values())
                    self._indexed -= len(index)
            else:
                kept = cached
                if next(reversed(caches)) != scope:
                    caches.move_to_end(scope)
            self._last = scope, kept
        memo, keys, index = kept
        values = checked.values
        raw = keys.raw(values)
        if keys.maps:  # contract.response_targets, the one map-valued fact
            raw += (checked.targets_key,)
        known = index.get(raw)
        if known is not None:  # these very values before: the outcome handed out then
            self.hits += 1
            return known
        outcome = self._entry(policy, checked, memo, keys, raw)
        if self.cache_size:
            if self._indexed >= self.cache_size:
                for _, _, other in self._caches.values():
                    other.clear()
                self._indexed = 0
            index[raw] = outcome
            self._indexed += 1
        return outcome

    def _entry(self, policy: CompiledPolicy, checked: Ticket, memo: dict[tuple, _Entry],
               keys: _Keys, raw: tuple) -> Outcome:
        """The outcome from the policy's entry for the ticket's class key (made on a miss)."""
        values = checked.values
        key = keys.key(raw)
        hit = memo.get(key)
        if hit is not None:
            self.hits += 1
            outcome, rematch, variants = hit
            if rematch:  # the same Outcome object for the same merged values (its JSON is kept)
                seen = keys.seen(values)
                found = variants.get(seen)
                if found is None:
                    found = _rematch(outcome, values, rematch, policy.merged_paths)
                    if len(variants) < MAX_VARIANTS and self._entries < self.cache_size:
                        variants[seen] = found  # an outcome more, within the bound
                        self._entries += 1
                outcome = found
            return outcome
        self.misses += 1
        outcome = self._run(policy, checked)
        if self.cache_size:
            if self._entries >= self.cache_size:
                self._evict(memo)
            rematch = tuple(i for i, e in enumerate(outcome.trace)
                            if any(p in policy.merged_paths for p, _ in e.matched))
            memo[key] = outcome, rematch, {keys.seen(values): outcome}
            self._entries += 1
        return outcome

    def _evict(self, current: dict) -> None:
        """Drop one outcome: the current policy's oldest while it holds at least its share of
        the bound, else the oldest of the least recently used policy that has one."""
        if len(current) * len(self._caches) >= self.cache_size:
            victim = current
        else:
            victim = next(m for m, _, _ in self._caches.values() if m)
        self._entries -= len(victim.pop(next(iter(victim)))[2])

    def _run(self, policy: CompiledPolicy, checked: Ticket) -> Outcome:
        return discard_unguaranteed(self.adapter.run(policy, checked))

    def clear_cache(self) -> None:
        """Forget every memoised outcome."""
        self._caches.clear()
        self._last = None
        self._entries = 0
        self._indexed = 0

    def cache_info(self) -> dict:
        """How many policies have a cache, the entries of each (most recent last), the bound
        on all of them, and the references held by the raw-value indexes (within the bound)."""
        return {"policies": len(self._caches),
                "entries": [len(m) for m, _, _ in self._caches.values()], "size": self.cache_size,
                "indexed": self._indexed}

    def run_bare(self, policy: CompiledPolicy, tickets: list[Mapping]) -> list[float]:
        """Bare durable_rules for the same rules (the benchmark baseline); seconds per ticket."""
        checked: list[Ticket] = []
        for t in tickets:
            c, problems = policy.checker.check(t)
            if problems or c is None:
                raise TicketError(problems)
            checked.append(c)
        return self.adapter.run_bare(policy, checked)

    def close(self) -> None:
        """Free the engine's rulesets and its thread."""
        self.clear_cache()
        self.adapter.close()


def _held(entries: Iterable[_Entry]) -> int:
    """How many outcomes cache entries hold (each its own and its variants)."""
    return sum(len(variants) for _, _, variants in entries)


def discard_unguaranteed(outcome: Outcome) -> Outcome:
    """A target set on a ticket that has no guaranteed response is discarded: the trace ends
    with the target going to null, and why (the decision's `sla` is null)."""
    if outcome.guaranteed:
        return outcome
    last = None
    for event in outcome.trace:
        for change in event.changes:
            if change.field == "target":
                last = change.after
    if last is None:
        return outcome
    trace = outcome.trace
    event = TraceEvent(len(trace) + 1, "no_sla", None, None, None,
                       (("entitlement.guaranteed", False),),
                       (Change("target", last, None, outcome.no_guarantee_reason),), None, None)
    return outcome._replace(trace=(*trace, event))


def _sla(policy: CompiledPolicy, checked: Ticket, outcome: Outcome,
         now: datetime | None) -> Sla | None:
    target = outcome.target
    if target is None or target.calendar is None:  # a rule's bare target gets the plan's
        return None
    calendar = policy.policy.calendars[target.calendar].for_zone(checked.customer_zone)
    zone = calendar.zone
    first = checked.first_response_at
    answered = first is not None and now is not None and first <= now
    try:
        try:
            due = calendar.due(checked.submitted_at, target.within)
            if calendar.clock == "calendar" and checked.customer_zone is not None:
                zone = checked.customer_zone  # around the clock: shown in the customer's zone
                due = due.astimezone(zone)
        except CalendarRangeError as exc:  # outside the years its SLA can be exact for
            raise TicketError([Diagnostic(
                "ticket_calendar_range", str(exc), location=Location(pointer="/submitted_at"),
                hint="tickets are decided within those years")]) from exc
        # nothing remains once the first response was given
        remaining = None if now is None or answered else calendar.elapsed(now, due)
    except (ValueError, OverflowError) as exc:  # e.g. a calendar whose open time runs out
        raise CalendarError(f"calendar `{target.calendar}`: {exc}",
                            (outcome.target_rule,) if outcome.target_rule else ()) from exc
    late = first > due if first is not None else now is not None and now > due
    assert target.within is not None  # a bare target is the contract's, resolved by the rules
    # by position (a third of the keywords' cost): target, clock, calendar, timezone, due_at,
    # met, remaining, rule, metric, status, breached_at
    return Sla(target.within, calendar.clock, target.calendar, zone.key, due,
               None if first is None else first <= due, remaining, outcome.target_rule,
               target.metric, "breached" if late else "met" if first is not None else "pending",
               due if late else None)


#: The SLA of one snapshot of a ticket (`engine.timeline` decides a ticket without events so).
snapshot_sla = _sla


def events_unsupported() -> Diagnostic:
    """A ticket with `events` given to the one-snapshot evaluator."""
    return Diagnostic("ticket_events_unsupported", "this evaluator decides one snapshot of a "
                      "ticket and cannot follow its `events`", location=Location(
                          pointer="/events"), hint="evaluate it with `engine.evaluate` or "
                      "`engine.timeline.TimelineEvaluator`, which re-derive at each event")


def now_before_submission(now: datetime, checked: Ticket) -> Diagnostic:
    """`now` before the ticket exists: an input error (the ticket's time is at `submitted_at`)."""
    return Diagnostic("ticket_now_before_submission", f"`now` {now.isoformat()} is before "
                      f"`submitted_at` {checked.values['submitted_at']}",
                      location=Location(pointer="/submitted_at"),
                      hint="a decision is made at or after the ticket's submission")


def _ticket_id(ticket: object) -> str | None:
    tid = ticket.get("id") if isinstance(ticket, Mapping) else None
    return tid if isinstance(tid, str) else None


def evaluation_diagnostic(exc: EvaluationError, policy: CompiledPolicy) -> Diagnostic:
    """A policy's failure to decide as the one diagnostic type."""
    return Diagnostic(exc.code, str(exc), location=Location(file=policy.policy.file),
                      rule=exc.rules[0] if exc.rules else None)


# ---- the default evaluator ----------------------------------------------------------------
_default: Evaluator | None = None
_default_lock = threading.Lock()
_default_mode: ThreadMode = "caller"


def default_evaluator() -> Evaluator:
    """The process's default Evaluator, built on first use by the calling thread."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Evaluator(thread=_default_mode)
    return _default


def use_engine_thread() -> None:
    """Make the default evaluator hand every engine call to one dedicated thread (for
    multi-threaded hosts); call at start-up, before the first evaluation."""
    global _default_mode
    with _default_lock:
        if _default is not None and _default.adapter.mode != "dedicated":
            raise EngineThreadError("the default evaluator already runs on thread "
                                  f"`{_default.adapter.owner.name}`; call use_engine_thread() "
                                  "before the first evaluation, or build an "
                                  "`Evaluator(thread=\"dedicated\")`")
        _default_mode = "dedicated"
    default_evaluator()


def evaluate(policy: CompiledPolicy, ticket: Mapping, *, now: datetime | None = None,
             cache: bool = True, strict: bool = False) -> Decision:
    """Decide one ticket on the default evaluator (see `Evaluator.evaluate`)."""
    return default_evaluator().evaluate(policy, ticket, now=now, cache=cache, strict=strict)


def clear_cache() -> None:
    """Forget the default evaluator's memoised outcomes."""
    if _default is not None:
        _default.clear_cache()
