"""The per-ticket working state: derived facts, the guarded firing of rules, the outcome.

Pure Python: the engine is reached only through the `swap` function the adapter passes in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from engine.check.tickets import Ticket
from engine.compile.compiler import CompiledPolicy, CompiledRule
from engine.core.decision import ActionRecord, Change, Obligation, Outcome, TraceEvent
from engine.core.durations import format_duration
from engine.core.facts import CHANNELS
from engine.core.logic import resolve_level, shift_level
from engine.core.model import (
    AddNote,
    AddObligations,
    NoGuarantee,
    OfferChannels,
    Rule,
    SetPriority,
    SetTarget,
    Target,
    UsePlan,
    WithholdChannels,
)
from engine.run.errors import EvaluationError, FiringBoundError


def find_cycle(sequence: list[str]) -> list[str]:
    """The rules of the shortest block that repeats at the end of a firing sequence."""
    for period in range(1, len(sequence) // 2 + 1):
        if sequence[-period:] == sequence[-2 * period:-period]:
            return list(dict.fromkeys(sequence[-period:]))
    return list(dict.fromkeys(sequence[-10:]))


class Working:
    """The per-ticket working state the actions write to, and the guarded firing of a rule; the
    engine is touched only by the adapter's `swap(c, old, new)` (retract `old`, assert `new`)."""

    __slots__ = ("cp", "swap", "values", "targets_by_level", "priority", "prio_fact", "plan",
                 "guaranteed", "no_guarantee_reason", "ent_fact", "rev", "target", "target_rule",
                 "sla_reason", "offers", "withholds", "obligations", "notes", "actions", "trace",
                 "fired", "target_json", "groups", "stage", "firings", "sequence", "errors",
                 "failure", "suppressed", "interrupt")

    def __init__(self, cp: CompiledPolicy, ticket: Ticket,
                 swap: Callable[[Any, dict | None, dict], None]):
        policy = cp.policy
        self.swap = swap
        self.cp = cp
        self.values = ticket.values
        self.targets_by_level = ticket.response_targets
        self.priority: str | None = None
        self.prio_fact: dict | None = None
        self.plan: str | None = ticket.values.get("plan") or policy.default_plan
        self.guaranteed = True
        self.no_guarantee_reason: str | None = None
        self.ent_fact: dict | None = None
        self.rev = 0
        self.target: Target | None = None
        self.target_json: dict | None = None
        self.target_rule: str | None = None
        self.sla_reason: str | None = None
        self.offers: list[str] = []
        self.withholds: list[str] = []
        self.obligations: list[Obligation] = []
        self.notes: list[str] = list(policy.notes)
        self.actions: list[ActionRecord] = []
        self.trace: list[TraceEvent] = []
        self.fired: set[str] = set()
        self.groups: dict[str, str] = {}
        self.stage = -1
        self.firings = 0
        self.sequence: list[str] = []
        self.errors: list[tuple[str, BaseException]] = []
        self.failure: EvaluationError | None = None
        self.suppressed: list[tuple[str, str]] = []
        self.interrupt: BaseException | None = None   # Ctrl-C in an action: raised after the run

    # ---- facts ------------------------------------------------------------------------
    def initial_facts(self, sid: str) -> list[dict]:
        facts = [dict(nest(self.cp.ticket_parts, self.values), kind="ticket", id="t", sid=sid)]
        if self.cp.reads_priority:
            self.prio_fact = {"kind": "priority", "id": "p0", "level": None, "sid": sid}
            facts.append(self.prio_fact)
        if self.cp.reads_entitlement:
            self.ent_fact = {"kind": "entitlement", "id": "e0", "plan": self.plan,
                             "guaranteed": True, "sid": sid}
            facts.append(self.ent_fact)
        return facts

    def current(self, path: str) -> object:
        if path == "priority":
            return self.priority
        if path == "entitlement.plan":
            return self.plan
        if path == "entitlement.guaranteed":
            return self.guaranteed
        return self.values.get(path)

    def _replace(self, c, old: dict | None, new: dict) -> dict:
        self.swap(c, old, new)
        return new

    def set_priority(self, c, level: str) -> None:
        self.priority = level
        if self.cp.reads_priority:
            self.rev += 1
            self.prio_fact = self._replace(c, self.prio_fact,
                                           {"kind": "priority", "id": f"p{self.rev}",
                                            "level": level})

    def set_entitlement(self, c) -> None:
        if self.cp.reads_entitlement:
            self.rev += 1
            self.ent_fact = self._replace(c, self.ent_fact,
                                          {"kind": "entitlement", "id": f"e{self.rev}",
                                           "plan": self.plan, "guaranteed": self.guaranteed})

    # ---- firing -----------------------------------------------------------------------
    def fire(self, cr: CompiledRule, c) -> None:
        if self.failure is not None:
            return
        cp = self.cp
        rule = cp.rules[cr.rule_index]
        if rule.id in self.fired and not rule.repeat:
            return  # an alternative of a rule that already fired: not a firing
        self.firings += 1
        if self.firings > cp.policy.max_firings:
            cycle = find_cycle(self.sequence)
            shown = " → ".join(f"`{r}`" for r in [*cycle, cycle[0]])
            self.failure = FiringBoundError(
                f"firing bound of {cp.policy.max_firings} exceeded: rules {shown} keep "
                "re-triggering each other", tuple(cycle))
            return
        stage = cp.stage_index[cr.rule_index]
        if stage < self.stage:
            self.suppressed.append((rule.id, f"its stage `{rule.stage}` had passed when it "
                                    "matched"))
            return
        if rule.group and self.groups.get(rule.group, rule.id) != rule.id:
            self.suppressed.append((rule.id, f"`{self.groups[rule.group]}` of group "
                                    f"`{rule.group}` already fired"))
            return
        if cr.reads_derived:
            matched = tuple((t.path, self.current(t.path)) for t in cr.tests)
        else:
            values = self.values
            matched = tuple((p, values.get(p)) for p in cr.paths)
        try:
            changes = self.apply(rule, c)
        except Exception as exc:  # surfaced after the run: the engine would swallow it
            self.errors.append((rule.id, exc))
            return
        self.fired.add(rule.id)
        if rule.group:
            self.groups[rule.group] = rule.id
        if stage > self.stage:
            self.stage = stage
        self.sequence.append(rule.id)
        citation, source = cp.trace_meta[cr.rule_index]
        trace = self.trace
        trace.append(TraceEvent(len(trace) + 1, "rule", rule.id, citation, rule.stage, matched,
                                tuple(changes), rule.because, source))

    def resolve_level(self, value: object) -> str:
        if isinstance(value, dict) and "fact" not in value:
            assert self.priority is not None  # implied by the compiled `priority present` test
            return shift_level(self.cp.policy.levels, self.priority, value)
        return resolve_level(self.cp.policy.levels, value, self.values)

    def apply(self, rule: Rule, c) -> list[Change]:
        changes: list[Change] = []
        for action in rule.actions:
            match action:
                case SetPriority(kind=kind, level=level):
                    to = self.resolve_level(level)
                    before = self.priority
                    changes.append(Change("priority", before, to))
                    if to != before:
                        self.set_priority(c, to)
                        self.actions.append(ActionRecord(kind, before, to, rule.id,
                                                         rule.because))
                case UsePlan(plan=plan):
                    if plan != self.plan:
                        changes.append(Change("plan", self.plan, plan))
                        self.plan = plan
                        self.set_entitlement(c)
                case NoGuarantee(reason=reason):
                    changes.append(Change("guaranteed", self.guaranteed, False, reason))
                    self.guaranteed = False
                    self.no_guarantee_reason = reason
                    self.set_entitlement(c)
                case SetTarget(target=target):
                    changes.append(self.set_target(rule, target))
                case OfferChannels(channels=channels):
                    self.offers.extend(channels)
                    changes.append(Change("channels.offered", None, list(channels)))
                case WithholdChannels(channels=channels):
                    self.withholds.extend(channels)
                    changes.append(Change("channels.withheld", None, list(channels)))
                case AddObligations(items=items):
                    for party, duty in items:
                        self.obligations.append(Obligation(party, duty, rule.id))
                        changes.append(Change("obligations", None,
                                              {"party": party, "duty": duty}))
                case AddNote(text=text):
                    self.notes.append(text)
                    changes.append(Change("notes", None, text))
        return changes

    def _target_change(self, target: Target | None, basis: str,
                       reason: str | None = None) -> Change:
        before = self.target_json
        after = None if target is None or target.within is None else {
            "metric": target.metric, "within": _hours(target.within),
            "calendar": target.calendar, "basis": basis}
        self.target_json = after
        return Change("target", before, after, reason)

    def set_target(self, rule: Rule, value: Target | None) -> Change:
        """Apply a target (None, or a `within` of None: the customer's contract's target for
        the current level, on the target's calendar or else the plan's)."""
        plan = self.cp.policy.plans.get(self.plan) if self.plan else None
        if value is not None and value.within is not None:
            if value.calendar is None:  # `target: PT4H`: on the plan in effect's calendar
                if plan is None or plan.calendar is None:
                    self.target, self.target_rule = None, rule.id
                    self.sla_reason = "no plan calendar to measure the target on"
                    return self._target_change(None, "rule", self.sla_reason)
                value = Target(value.within, plan.calendar, value.metric)
            self.target, self.target_rule, self.sla_reason = value, rule.id, None
            return self._target_change(value, "plan" if rule.origin == "plan" else "rule")
        level = self.priority
        within = self.targets_by_level.get(level) if level else None
        self.target, self.target_rule = None, rule.id
        if within is None:
            self.sla_reason = (f"the customer's contract sets no response target for "
                               f"{level or 'this ticket'}")
            return self._target_change(None, "contract", self.sla_reason)
        calendar = value.calendar if value is not None and value.calendar else (
            plan.calendar if plan is not None else None)
        if calendar is None:
            self.sla_reason = "no plan calendar to measure the contract's target on"
            return self._target_change(None, "contract", self.sla_reason)
        self.target, self.sla_reason = Target(within, calendar), None
        return self._target_change(self.target, "contract")

    def outcome(self) -> Outcome:
        policy = self.cp.policy
        plan = policy.plans.get(self.plan) if self.plan else None
        if self.offers or self.withholds:
            chosen = (set(plan.channels if plan else ()) | set(self.offers)) - set(self.withholds)
            channels = tuple(c for c in CHANNELS if c in chosen)
        else:
            channels = self.cp.plan_channels.get(self.plan, ())
        trace = self.trace
        if plan is not None:
            trace.append(TraceEvent(len(trace) + 1, "channels", None, None, None,
                                    (("entitlement.plan", plan.id),),
                                    (Change("channels", None, list(channels)),), None, None))
        sla_reason = self.sla_reason
        if not self.guaranteed:
            sla_reason = self.no_guarantee_reason
        elif self.target is None and sla_reason is None:
            if plan is None:
                sla_reason = "no plan applies to this ticket"
            elif self.priority is None:
                sla_reason = "no priority was decided"
            else:
                sla_reason = f"plan `{plan.id}` sets no response target for {self.priority}"
        stated = not self.guaranteed or self.sla_reason is not None  # a rule already said why
        if sla_reason and not stated and self.target is None:
            trace.append(TraceEvent(len(trace) + 1, "no_sla", None, None, None, (),
                                    (Change("sla", None, None, sla_reason),), None, None))
        if not trace:
            trace.append(TraceEvent(1, "no_match", None, None, None, (), (), None, None))
        return Outcome(
            priority=self.priority, actions=tuple(self.actions), plan=self.plan,
            guaranteed=self.guaranteed, no_guarantee_reason=self.no_guarantee_reason,
            target=self.target if self.guaranteed else None, target_rule=self.target_rule,
            sla_reason=sla_reason if (self.target is None or not self.guaranteed) else None,
            channels=channels,
            obligations=tuple(self.obligations), notes=tuple(dict.fromkeys(self.notes)),
            trace=tuple(trace), fired=frozenset(self.fired), suppressed=tuple(self.suppressed))


@lru_cache(maxsize=1024)
def _hours(within: timedelta) -> str:
    """A target as the trace writes it (hours, never days); targets repeat."""
    return format_duration(within, days=False)


def nest(parts: tuple[tuple[str, tuple[str, ...]], ...], values: dict) -> dict:
    """The ticket fact: each (path, split path) the rules read, nested as the engine expects."""
    out: dict = {}
    for path, (*parents, leaf) in parts:
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = values.get(path)
    return out
