"""The one pure core: evaluate(compiled_policy, ticket, *, now=None) -> Decision.

It never reads the clock or the environment. A decision depends only on the fact paths the
rules read (the compiler knows them), so outcomes are memoised by (policy digest, projection);
the due time is computed per ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from .compiler import CompiledPolicy
from .decision import Decision, Sla
from .diagnostics import DiagnosticError
from .runtime import Outcome, run

CACHE_SIZE = 65536
_caches: dict[str, dict[tuple, Outcome]] = {}


class TicketError(DiagnosticError):
    """The ticket violates the policy's fact schema; `.diagnostics` lists every problem."""


def _hashable(value: object) -> object:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


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
        memo = _caches.setdefault(policy.digest, {})
        key = tuple(map(values.get, policy.key_scalars))
        if policy.key_maps:
            key += tuple(_hashable(values.get(p)) for p in policy.key_maps)
        outcome = memo.get(key)
    if outcome is None:
        outcome = run(policy, checked)
        if cache:
            if len(memo) >= CACHE_SIZE:
                del memo[next(iter(memo))]
            memo[key] = outcome
    sla = None
    if outcome.target is not None:
        target = outcome.target
        calendar = policy.policy.calendars[target.calendar].for_zone(checked.customer_zone)
        due = calendar.due(checked.submitted_at, target.within)
        first = checked.first_response_at
        sla = Sla(
            target=target.within, clock=calendar.clock, calendar=target.calendar,
            timezone=calendar.zone.key, due_at=due,
            met=None if first is None else first <= due,
            remaining=None if now is None else calendar.elapsed(now, due),
            rule=outcome.target_rule,
        )
    return Decision(
        ticket_id=checked.id, policy_id=policy.policy.id, policy_version=policy.policy.version,
        policy_digest=policy.digest, requested_priority=values.get("requested_priority"),
        outcome=outcome, sla=sla,
    )


def clear_cache() -> None:
    _caches.clear()
