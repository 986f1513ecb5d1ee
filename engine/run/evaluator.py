"""The one pure core: evaluate(compiled_policy, ticket, *, now=None) -> Decision.

It never reads the clock or the environment. A decision depends only on the fact paths the
rules read (the compiler knows them), so outcomes are memoised by the policy (digest, file and
rule positions, which the trace cites) and the ticket's projection onto those paths, where
values the rules cannot tell apart share one entry; the due time is computed per ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from engine.compile.compiler import CompiledPolicy
from engine.core.decision import Decision, Outcome, Sla
from engine.run.adapter import run
from engine.run.errors import CalendarError, TicketError

CACHE_SIZE = 65536
# scope -> key -> (outcome, trace entries to re-read, the merged values the trace shows)
_caches: dict[tuple, dict[tuple, tuple[Outcome, tuple[int, ...], tuple]]] = {}


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


def evaluate(policy: CompiledPolicy, ticket: Mapping, *, now: datetime | None = None,
             cache: bool = True) -> Decision:
    """Decide one ticket. Raises TicketError for invalid input, EvaluationError for rule failures.

    `now` (aware datetime) adds `remaining` open time to the SLA; nothing reads the clock.
    `cache=False` always runs the engine (the cold path).
    """
    checked, problems = policy.checker.check(ticket)
    if problems:
        raise TicketError(problems)
    assert checked is not None
    if now is not None and now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    values = checked.values
    outcome = None
    if cache:
        memo = _caches.setdefault(policy.cache_scope, {})
        # class ids are tuples, so an unforeseen value (kept raw, a scalar) cannot collide
        key = tuple([values.get(p) if classes is None else classes.get(values.get(p),
                                                                        values.get(p))
                     for p, classes in policy.key_plan])
        if policy.key_maps:  # contract.response_targets, the one map-valued fact
            key += (checked.targets_key,)
        hit = memo.get(key)
        if hit is not None:
            outcome, rematch, seen = hit
            if rematch and seen != tuple(map(values.get, policy.merged_order)):
                outcome = _rematch(outcome, values, rematch, policy.merged_paths)
    if outcome is None:
        outcome = run(policy, checked)
        if cache:
            if len(memo) >= CACHE_SIZE:
                del memo[next(iter(memo))]
            rematch = tuple(i for i, e in enumerate(outcome.trace)
                            if any(p in policy.merged_paths for p, _ in e.matched))
            memo[key] = outcome, rematch, tuple(map(values.get, policy.merged_order))
    sla = None
    if outcome.target is not None:
        target = outcome.target
        calendar = policy.policy.calendars[target.calendar].for_zone(checked.customer_zone)
        try:
            due = calendar.due(checked.submitted_at, target.within)
            remaining = None if now is None else calendar.elapsed(now, due)
        except (ValueError, OverflowError) as exc:  # e.g. a calendar whose open time runs out
            raise CalendarError(f"calendar `{target.calendar}`: {exc}",
                                (outcome.target_rule,) if outcome.target_rule else ()) from exc
        first = checked.first_response_at
        sla = Sla(
            target=target.within, clock=calendar.clock, calendar=target.calendar,
            timezone=calendar.zone.key, due_at=due,
            met=None if first is None else first <= due, remaining=remaining,
            rule=outcome.target_rule,
        )
    return Decision(
        ticket_id=checked.id, policy_id=policy.policy.id, policy_version=policy.policy.version,
        policy_digest=policy.digest, requested_priority=values.get("requested_priority"),
        outcome=outcome, sla=sla,
    )


def clear_cache() -> None:
    _caches.clear()
