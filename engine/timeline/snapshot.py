"""Timeline stage, a ticket without events: its history, clocks and held facts, computed when
first read — and its canonical JSON parts written without building them.

A one-snapshot ticket has one history entry (the submission, credited to the rule that set the
priority) and one clock per metric with a single target from the submission (`clocks.single`).
The history entry's JSON is the same for every ticket of an Outcome but for its instant, so it
is encoded once per Outcome object; the first_response clock reuses the due time the run
stage's `sla` already computed. An outcome whose clocks have no target (a ticket without a
guarantee, most of a realistic queue) keeps its clocks' templates too, filled in with the
submission and the first response alone. Otherwise each metric's target and its clock's
template are looked up once per (Outcome object, metric, customer zone) (`_targets`), and a
clock that cannot run (not promised, or started by a reply no ticket without events has) is
its metric's JSON around `as_of` (`_split`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.check.tickets import Ticket
from engine.compile.compiler import CompiledPolicy
from engine.core.canonical import canonical_bytes, instant_json
from engine.core.clock import Clock, as_of_split, clock_bytes, slot_template, slot_text
from engine.core.decision import Outcome, Sla
from engine.core.decision_json import OutcomeMemo
from engine.core.model import Metric
from engine.run.errors import CalendarError
from engine.timeline.clocks import ZERO, Change, _in, not_applicable, single, single_figures
from engine.timeline.derive import entry
from engine.timeline.metrics import Config, config

_HELD = b',"held":[]'
_NO_HISTORY = b',"history":[]'
# an outcome's history entry after its `at` (sorted keys: `at` comes first)
_tails = OutcomeMemo()
# a one-snapshot clock's `%` template by its shape (what does not differ between tickets);
# b"" for a shape that has none (its text holds the slot sentinel, or it is not one phase)
_shapes: dict[tuple, bytes] = {}
_NULL, _NOT_APPLICABLE = b"null", b'"not_applicable"'
# an outcome's clocks when none has a target, as of the submission (`SnapshotLife._plan`)
_plans = OutcomeMemo()
_SLOT = b"%b"
# by (id(Outcome), metric, customer zone): the outcome (kept, so that its id stays its own),
# the metric's target, its clock's shape template and that baked (`_target_shape`)
_targets: dict[tuple, list] = {}


class SnapshotLife:
    """The timeline of a ticket without events, as `Decision`'s lazy `(history, clocks, held)`;
    `canonical_parts()` gives their canonical JSON members without keeping them."""

    __slots__ = ("metrics", "policy", "checked", "outcome", "sla", "as_of", "_parts")

    def __init__(self, metrics: tuple[Metric, ...], policy: CompiledPolicy, checked: Ticket,
                 outcome: Outcome, sla: Sla | None, as_of: datetime):
        self.metrics, self.policy, self.checked = metrics, policy, checked
        self.outcome, self.sla, self.as_of = outcome, sla, as_of
        self._parts: tuple[bytes, bytes, bytes] | None = None

    def clocks(self) -> tuple[Clock, ...]:
        try:
            return tuple(self._clock(m) for m in self.metrics)
        except (ValueError, OverflowError) as exc:
            raise CalendarError(f"calendar: {exc}", ()) from exc

    def __call__(self) -> tuple:
        outcome = self.outcome
        history = (entry(self.checked.submitted_at, None, outcome, None),) \
            if outcome.priority is not None else ()
        return history, self.clocks(), ()

    def canonical_parts(self) -> tuple[bytes, bytes, bytes]:
        """The `,"clocks":…`, `,"held":…` and `,"history":…` members of the canonical JSON
        (kept: a decision written twice, to a log and an answer, computes them once)."""
        if self._parts is None:
            self._parts = self._encode()
        return self._parts

    def _encode(self) -> tuple[bytes, bytes, bytes]:
        checked, outcome = self.checked, self.outcome
        at = instant_json(checked.submitted_at)  # written once: clocks and history hold it
        plan = _plans.get(outcome, self._plan) if self.as_of is checked.submitted_at else None
        if plan is not None:   # no clock has a target: the submission and the first response
            first = checked.first_response_at
            first_json = _NULL if first is None else instant_json(first)
            clocks = b',"clocks":[' + b",".join([template % (
                at, _NULL, _NULL, _NULL, first_json if takes_first else _NULL, at, _NULL, _NULL,
                at, _NOT_APPLICABLE, _NULL, _NULL) for template, takes_first in plan]) + b"]"
        else:
            try:
                clocks = b',"clocks":[' + b",".join(
                    [self._clock_bytes(m, at) for m in self.metrics]) + b"]"
            except (ValueError, OverflowError) as exc:
                raise CalendarError(f"calendar: {exc}", ()) from exc
        if outcome.priority is None:
            return clocks, _HELD, _NO_HISTORY
        tail = _tails.get(outcome, _tail)
        return clocks, _HELD, b',"history":[{"at":' + at + tail

    def _plan(self, outcome: Outcome) -> tuple[tuple[bytes, bool], ...] | None:
        """What `_clock_bytes` writes for an outcome none of whose metrics has a target from
        the submission, as of the submission: each metric's template (its slots the
        submission's and the first response's instants) and whether the first response
        fulfils it; None for any other outcome (kept per Outcome object: `_plans`)."""
        plan = []
        for metric in self.metrics:
            if metric.not_promised or metric.starts != "submitted":
                return None
            found = config(metric, self.policy.policy, outcome, self.checked.customer_zone)
            if not isinstance(found, str):
                return None   # a target: its figures differ between tickets
            template = self._shape((metric.name, found, outcome.priority), metric)
            if not template:
                return None
            plan.append((template, "agent_reply" in metric.fulfilled_by))
        return tuple(plan)

    def _clock_bytes(self, metric: Metric, start_json: bytes) -> bytes:
        """`clock_bytes(self._clock(metric))`, for a clock from the submission written
        straight into its shape's template from the instants and open times that differ
        between tickets (no Clock built but the first of each shape, whose template it is).
        `start_json`: the submission instant's JSON, written once for the whole decision."""
        if metric.not_promised or metric.starts != "submitted":
            return _inapplicable(metric, self.as_of)
        checked, outcome, as_of = self.checked, self.outcome, self.as_of
        shape = _targets.get((id(outcome), metric.name, checked.customer_zone))
        if shape is None or shape[0] is not outcome:
            shape = self._target_shape(metric)
        found, template = shape[1], shape[2]
        start, first, due = self._instants(metric, found)
        running = False
        if isinstance(found, str):
            values: tuple = (start_json if as_of is start else instant_json(as_of), _NULL,
                             _NULL, _NULL, _NULL if first is None else instant_json(first),
                             start_json, _NULL, _NULL, start_json, _NOT_APPLICABLE, _NULL, _NULL)
        else:
            cal, within, zone = found.calendar, found.within, found.calendar.zone
            running = as_of is start and first is None and metric.warn_before is None \
                and metric.warn_fraction is None   # as of the submission, unanswered
            if running and shape[3] is not None:   # only the start and the due time differ
                at = instant_json(_in(start, zone))
                due_text = instant_json(due if due is not None else cal.due(start, within))
                return shape[3] % (at, due_text, at, due_text, at)
            due, warn_at, consumed, late, status = single_figures(metric, found, start, first,
                                                                  as_of, due)
            # each instant written once: the start is also the phase's, the due time the
            # phase's (and the breach's); as_of is the start unless `now` was given
            at, due_text = instant_json(_in(start, zone)), slot_text(due)
            values = (at if as_of is start else slot_text(_in(as_of, zone)),
                      due_text if late else _NULL, slot_text(consumed), due_text,
                      slot_text(_in(first, zone)), at, due_text,
                      slot_text(None if first is not None else within - consumed), at,
                      slot_text(status), slot_text(zone.key), slot_text(warn_at))
        if not template:
            return clock_bytes(self._clock(metric))
        if running and b"%%" not in template:   # bake it for the next tickets of this target
            assert not isinstance(found, str)
            shape[3] = _bake(template, found.calendar.zone.key, found.within)
        return template % values

    def _target_shape(self, metric: Metric) -> list:
        """[outcome, target (or why none), its clock's shape template, the template baked for a
        clock running as of the submission (None: not yet)] of a metric for this ticket's
        Outcome object and customer zone, kept in `_targets` for the tickets that share them."""
        checked, outcome = self.checked, self.outcome
        found = config(metric, self.policy.policy, outcome, checked.customer_zone)
        if isinstance(found, str):
            key: tuple = (metric.name, found, outcome.priority)
        else:
            cal = found.calendar
            key = (metric.name, found.level, found.within, cal.clock, found.name, found.rule)
        if len(_targets) >= 4096:
            _targets.clear()
        shape = _targets[(id(outcome), metric.name, checked.customer_zone)] = [
            outcome, found, self._shape(key, metric), None]
        return shape

    def _shape(self, key: tuple, metric: Metric) -> bytes:
        """The `%` template of the clock shape `key` (made from this ticket's clock of `metric`
        the first time; b"" for a shape without one)."""
        template = _shapes.get(key)
        if template is None:
            if len(_shapes) >= 4096:
                _shapes.clear()
            template = _shapes[key] = slot_template(self._clock(metric)) or b""
        return template

    def _clock(self, metric: Metric) -> Clock:
        """A metric's clock for a ticket without events."""
        as_of, outcome = self.as_of, self.outcome
        if metric.not_promised or metric.starts != "submitted":
            return not_applicable(metric, _why_not(metric), as_of)
        found, start, first, due = self._target(metric)
        if isinstance(found, str):
            change = Change(start, -2, outcome.priority, None, found)
        else:
            change = Change(start, -2, found.level, found, None)
        return single(metric, start, change, first, as_of, due)

    def _target(self, metric: Metric) -> tuple[Config | str, datetime, datetime | None,
                                               datetime | None]:
        """A metric from the submission: its target (or why none), the start, the first
        response that fulfils it, and the due time the run stage already computed (None:
        not computed)."""
        found = config(metric, self.policy.policy, self.outcome, self.checked.customer_zone)
        return (found, *self._instants(metric, found))

    def _instants(self, metric: Metric, found: Config | str
                  ) -> tuple[datetime, datetime | None, datetime | None]:
        """The start of a metric from the submission under target `found`, the first response
        that fulfils it, and the due time the run stage already computed, in the target
        calendar's zone (None: not computed)."""
        checked, sla = self.checked, self.sla
        first = checked.first_response_at if "agent_reply" in metric.fulfilled_by else None
        due = None
        if metric.name == "first_response" and sla is not None and not isinstance(found, str):
            zone = found.calendar.zone
            due = sla.due_at if sla.due_at.tzinfo is zone else sla.due_at.astimezone(zone)
        return checked.submitted_at, first, due


def _why_not(metric: Metric) -> str:
    """Why a metric's clock cannot run for a ticket without events."""
    return metric.not_promised or "no customer reply awaits an answer"


def _inapplicable(metric: Metric, as_of: datetime) -> bytes:
    """`clock_bytes` of the metric's not-applicable clock: only its `as_of` differs between
    tickets, so the rest is encoded once per metric (`_split`)."""
    reason = _why_not(metric)
    key = (metric.name, reason)   # all a not-applicable clock holds but its `as_of`
    split = _split.get(key, _NO_SPLIT)
    if split is _NO_SPLIT:
        if len(_split) >= 4096:
            _split.clear()
        split = _split[key] = as_of_split(not_applicable(metric, reason, as_of))
    if split is None:   # its text holds the slot sentinel: encoded whole
        return clock_bytes(not_applicable(metric, reason, as_of))
    return split[0] + instant_json(as_of) + split[1]


# a not-applicable clock's canonical JSON around its `as_of`, by (metric, reason); None: none
_split: dict[tuple[str, str], tuple[bytes, bytes] | None] = {}
_NO_SPLIT = (b"", b"")


def _bake(template: bytes, zone: str, within: timedelta) -> bytes:
    """`template` with what a running clock as of its start writes the same for every ticket
    filled in (nothing consumed, the whole target remaining, no response, no breach, the
    zone): its slots left are the start, the due time, the phase's start and due time, and
    the start again. Only for a template without a literal `%` (`%%`), which one fill would
    turn into a slot marker."""
    return template % (_SLOT, _NULL, slot_text(ZERO), _SLOT, _NULL, _SLOT, _SLOT,
                       slot_text(within), _SLOT, b'"running"', slot_text(zone), _NULL)


def _tail(outcome: Outcome) -> bytes:
    """The history entry's canonical JSON after `"at":…` (through the closing `]`)."""
    data = entry(datetime.min, None, outcome, None).to_json()
    del data["at"]
    return b"," + canonical_bytes(data)[1:] + b"]"
