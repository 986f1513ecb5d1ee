"""Fuzz: event timelines (a ticket filed, changed, answered and evaluated again and again as
time passes), and the loaders on arbitrary input.

Invariants on every evaluation of a timeline: the cache equals the engine; evaluating the same
state twice gives the same decision; the record round-trips through JSON; the due time is not
before the submission; `met` agrees with the first response; and while the ticket does not
change, `remaining` never grows as `now` moves on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fuzz_support import BUNDLED, PROFILE, TIME_BOUND, tickets, timed
from hypothesis import given
from hypothesis import strategies as st

from engine import load_policy
from engine.core.decision import Decision
from engine.load import load_json, load_yaml, read_text
from engine.run.errors import EvaluationError, TicketError
from engine.run.evaluator import Evaluator

pytestmark = pytest.mark.slow
POLICIES = {pid: load_policy(pid) for pid in BUNDLED}


@st.composite
def timelines(draw) -> tuple[str, dict, list]:
    """A policy, a valid ticket, and events: ("set", field, value), ("respond", seconds after
    filing) or ("evaluate", seconds after filing) — times never go back."""
    pid = draw(st.sampled_from(BUNDLED))
    cp = POLICIES[pid]
    start = draw(tickets(cp, hostile=0.0))
    start.pop("first_response_at", None)
    levels, plans = list(cp.policy.levels), list(cp.policy.plans)
    events, clock = [], 0
    for _ in range(draw(st.integers(2, 12))):
        clock += draw(st.integers(0, 5 * 86400))
        kind = draw(st.sampled_from(["evaluate", "evaluate", "evaluate", "set", "respond"]))
        if kind == "set":
            field, value = draw(st.sampled_from([
                ("agent_priority", draw(st.sampled_from(levels))),
                ("requested_priority", draw(st.sampled_from(levels))),
                ("plan", draw(st.sampled_from(plans))) if plans else ("plan", None),
                ("environment", draw(st.sampled_from(["production", "staging", None]))),
                ("category", draw(st.sampled_from(["outage", "how_to", None])))]))
            events.append(("set", field, value))
        else:
            events.append((kind, clock))
    return pid, start, events


@PROFILE.examples(600)
@given(timelines())
def test_event_timelines(timeline):
    pid, state, events = timeline
    cp = POLICIES[pid]
    warm, cold = Evaluator(), Evaluator(cache_size=0)
    filed = datetime.fromisoformat(state["submitted_at"])
    previous = None   # (remaining, the state it was computed for)
    for event in events:
        if event[0] == "set":
            _, field, value = event
            if value is None:
                state.pop(field, None)
            else:
                state[field] = value
            continue
        if event[0] == "respond":
            state.setdefault("first_response_at", (filed + timedelta(seconds=event[1]))
                             .isoformat())
            continue
        now = filed + timedelta(seconds=event[1])
        try:
            decision, seconds = timed(warm.evaluate, cp, dict(state), now=now)
        except EvaluationError as exc:
            assert exc.code == "calendar_exhausted", exc
            with pytest.raises(EvaluationError):
                cold.evaluate(cp, dict(state), now=now, cache=False)
            continue
        except TicketError as exc:  # outside the years the calendar's holidays are known
            assert {d.code for d in exc.diagnostics} == {"ticket_calendar_range"}, exc
            return
        assert seconds < TIME_BOUND
        record = decision.to_json()
        assert cold.evaluate(cp, dict(state), now=now, cache=False).to_json() == record
        assert warm.evaluate(cp, dict(state), now=now).to_json() == record
        assert Decision.from_json(record).to_json() == record
        sla = decision.sla
        if sla is None:
            previous = None
            continue
        assert sla.due_at >= filed
        if "first_response_at" in state:
            first = datetime.fromisoformat(state["first_response_at"])
            assert sla.met == (first <= sla.due_at)
        key = repr(sorted(state.items()))
        if previous is not None and previous[1] == key and None not in (sla.remaining,
                                                                        previous[0]):
            assert sla.remaining <= previous[0], (previous, sla.remaining)
        previous = (sla.remaining, key)


@PROFILE.examples(1500)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                              lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                                  st.text(max_size=6), inner, max_size=4), max_leaves=20)
                 .map(lambda v: repr(v).replace("'", '"').encode("utf-8", "surrogatepass"))))
def test_loaders_never_raise(raw):
    text, diags = read_text(raw, "<fuzz>")
    if text is None:
        assert diags
        return
    for loader in (load_json, load_yaml):
        (doc, diags), seconds = timed(loader, text, "<fuzz>")
        assert seconds < TIME_BOUND
        assert doc is not None or diags
        for d in diags:
            assert d.render()
