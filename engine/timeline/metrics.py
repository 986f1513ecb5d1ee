"""Timeline stage, metrics: the SLA metrics a policy promises and the target each one runs
against at an instant.

A policy that declares no `metrics` has one, `first_response`: started at submission, fulfilled
by the first agent reply (or `first_response_at`), never paused, its target re-measured from the
submission when the priority changes — today's behaviour. `first_response` takes its target from
the rules (the plans' targets, a rule's `target`, the customer's contract); `next_response` and
`resolution` from their own table of plan × level.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from engine.calendars import Calendar
from engine.core.decision import Outcome
from engine.core.model import Metric, Policy

DEFAULT_FIRST_RESPONSE = Metric(name="first_response", declared=False)


def metrics_of(policy: Policy) -> tuple[Metric, ...]:
    """The metrics whose clocks a decision lists: the declared ones, `first_response` first
    (the default one when the policy does not declare it)."""
    declared = policy.metrics
    if declared and declared[0].name == "first_response":
        return declared
    return (DEFAULT_FIRST_RESPONSE, *declared)


class Config(NamedTuple):
    """The target a metric runs against at an instant: level, open time, calendar (in the
    customer's zone when it is a customer calendar), and the rule that set it."""

    level: str | None
    within: timedelta
    calendar: Calendar
    name: str
    rule: str | None

    def same(self, other: Config | None) -> bool:
        return other is not None and (self.level, self.within, self.name, self.calendar.zone) \
            == (other.level, other.within, other.name, other.calendar.zone)


def config(metric: Metric, policy: Policy, outcome: Outcome,
           zone: ZoneInfo | None) -> Config | str:
    """The metric's target under one derivation, or why none applies."""
    if metric.not_promised:
        return metric.not_promised
    if metric.name == "first_response":
        target = outcome.target
        if target is None or target.calendar is None:
            return outcome.sla_reason or "no response target applies"
        assert target.within is not None   # the run stage resolved a contract's target
        calendar = policy.calendars[target.calendar].for_zone(zone)
        return Config(outcome.priority, target.within, calendar, target.calendar,
                      outcome.target_rule)
    if not outcome.guaranteed:
        return outcome.no_guarantee_reason or "no guaranteed response"
    plan, level = outcome.plan, outcome.priority
    if plan is None:
        return "no plan applies to this ticket"
    if level is None:
        return "no priority was decided"
    target = metric.targets.get(plan, {}).get(level)
    if target is None or target.calendar is None:
        return f"plan `{plan}` sets no {metric.name.replace('_', ' ')} target for {level}"
    return Config(level, target.within, policy.calendars[target.calendar].for_zone(zone),
                  target.calendar, f"metrics.{metric.name}.{plan}.{level}")
