"""Timeline stage, forward chaining over time: the facts change at each event and the engine
re-derives the decision from the facts of that instant.

Each instant is one snapshot of the ticket's facts, decided by the run stage's Evaluator (its
decision cache makes a repeated snapshot free). Every rule is re-derived at every instant — a
production-only reclassification lifts when `environment` is corrected — except rules marked
`once`: once such a rule fired, the ticket facts it matched are held at those values for the
rest of the ticket, so a later change of them neither undoes it nor fires it again (the events
it overrode are listed in `held`). Events that change no fact (status, replies) re-derive
nothing; they drive the clocks.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from engine.check.tickets import Ticket
from engine.compile.compiler import CompiledPolicy
from engine.core.clock import Held, HistoryEntry
from engine.core.decision import Outcome
from engine.run.evaluator import Evaluator
from engine.timeline.events import Event

_DERIVED = ("priority", "entitlement.plan", "entitlement.guaranteed")


class Instant(NamedTuple):
    """The decision in effect from `at` on: after the submission (event None) or an event."""

    at: datetime
    order: int                 # event index; -2 for the submission
    event: Event | None
    outcome: Outcome
    zone: ZoneInfo | None      # the customer's zone then
    derived: bool              # whether the facts changed here (a new derivation)


class Derivation(NamedTuple):
    instants: tuple[Instant, ...]
    history: tuple[HistoryEntry, ...]
    held: tuple[Held, ...]
    values: dict               # the facts at the last instant
    ticket: Ticket             # the last snapshot


def derive(evaluator: Evaluator, policy: CompiledPolicy, ticket: Ticket,
           events: tuple[Event, ...], *, cache: bool = True,
           once: frozenset[str] | None = None) -> Derivation:
    """Decide the ticket at its submission and again after every event that changes a fact;
    `once`: the ids of the policy's `once` rules (computed when not given)."""
    if once is None:
        once = frozenset(r.id for r in policy.rules if r.once)
    outcome = evaluator.outcome(policy, ticket, cache=cache)
    instants = [Instant(ticket.submitted_at, -2, None, outcome, ticket.customer_zone, True)]
    history: list[HistoryEntry] = []
    if outcome.priority is not None:
        history.append(entry(ticket.submitted_at, None, outcome, None))
    if not events:
        return Derivation(tuple(instants), tuple(history), (), ticket.values, ticket)
    latched: dict[str, tuple[object, str, datetime]] = {}
    overridden: dict[str, list[int]] = {}
    if once:
        _latch(outcome, once, latched, ticket.submitted_at)
    snapshot = ticket
    zone = ticket.customer_zone
    for e in events:
        if e.fact is None:
            instants.append(Instant(e.at, e.index, e, outcome, zone, False))
            continue
        held = latched.get(e.fact)
        if held is not None and held[0] != e.value:
            overridden.setdefault(e.fact, []).append(e.index)
        values = snapshot.values
        if held is not None or values.get(e.fact) == e.value and e.fact not in (
                "customer.timezone", "contract.response_targets"):
            instants.append(Instant(e.at, e.index, e, outcome, zone, False))
            continue
        snapshot = _apply(snapshot, e)
        before = outcome.priority
        outcome = evaluator.outcome(policy, snapshot, cache=cache)
        zone = snapshot.customer_zone
        instants.append(Instant(e.at, e.index, e, outcome, zone, True))
        if outcome.priority != before:
            history.append(entry(e.at, before, outcome, e))
        if once:
            _latch(outcome, once, latched, e.at)
    holds = tuple(Held(fact, latched[fact][0], latched[fact][1], latched[fact][2],
                       tuple(indices)) for fact, indices in overridden.items())
    return Derivation(tuple(instants), tuple(history), holds, snapshot.values, snapshot)


def _apply(t: Ticket, e: Event) -> Ticket:
    """The snapshot after a fact event (its value was checked by the policy's checker)."""
    assert e.fact is not None and e.checked is not None
    values = dict(t.values)
    values[e.fact] = e.value
    zone, targets, key = t.customer_zone, t.response_targets, t.targets_key
    if e.fact == "customer.timezone":
        zone = e.checked.customer_zone
    elif e.fact == "contract.response_targets":
        targets, key = e.checked.response_targets, e.checked.targets_key
    return Ticket(t.id, values, t.submitted_at, t.first_response_at, zone, targets, key)


def _latch(outcome: Outcome, once: frozenset[str], latched: dict, at: datetime) -> None:
    """Hold the ticket facts each `once` rule that fired matched, from `at` on."""
    for step in outcome.trace:
        if step.rule in once:
            for path, value in step.matched:
                if path not in _DERIVED and path not in latched:
                    latched[path] = (value, step.rule, at)


def entry(at: datetime, before: str | None, outcome: Outcome, e: Event | None) -> HistoryEntry:
    """A change of the decided priority, credited to the rule that set the new level."""
    rule = outcome.actions[-1].rule if outcome.actions else None
    step = None
    if rule is not None:
        for s in reversed(outcome.trace):
            if s.rule == rule:
                step = s
                break
    return HistoryEntry(at, before, outcome.priority, rule,
                        step.citation if step is not None else None,
                        step.source if step is not None else None,
                        None if e is None else e.index, None if e is None else e.cause)
