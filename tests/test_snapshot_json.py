"""A one-snapshot ticket's canonical JSON parts (engine.timeline.snapshot), written without
building its history and clocks, against the canonical JSON of `to_json()` — with and without
`now`, `at` and a first response, answered and late, on every bundled policy."""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine import evaluate, load_policy
from engine.core import clock as clock_module
from engine.core.decision import canonical_bytes
from engine.timeline import snapshot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_evaluate import generate  # noqa: E402


@pytest.mark.parametrize("pid", ["cloudtalk", "credenti", "csd-group", "zmanda"])
def test_snapshot_parts_are_the_canonical_bytes(pid):
    cp = load_policy(pid)
    rnd = random.Random(pid)
    for i, t in enumerate(generate(cp, 600, rnd, skew=1.0)):
        submitted = datetime.fromisoformat(t["submitted_at"])
        if i % 3:
            t["first_response_at"] = (submitted + timedelta(minutes=rnd.randrange(6000))
                                      ).isoformat()
        moment = submitted + timedelta(minutes=rnd.randrange(9000))
        given = [{}, {"now": moment}, {"at": moment}][i % 3]
        if "now" in given and "first_response_at" in t and \
                datetime.fromisoformat(t["first_response_at"]) > moment:
            given = {}
        d = evaluate(cp, t, **given)
        assert isinstance(d._lazy, snapshot.SnapshotLife)
        fast = d.to_json_bytes()            # while the timeline is not computed
        assert fast == canonical_bytes(d.to_json()), (t, given)
        assert d.to_json_bytes() == fast    # once it is


def test_clock_bytes_of_odd_records_are_their_canonical_json():
    """A clock's template fallback: text holding the template's sentinel, and records read
    from JSON with a float or a list where text belongs, are encoded whole and exactly."""
    cp = load_policy("cloudtalk")
    t = generate(cp, 1, random.Random(2))[0]
    clock = evaluate(cp, t).clocks[0]
    sentinel = clock_module._SENTINEL
    odd = [clock, clock._replace(rule=sentinel, phases=(clock.phases[0]._replace(
        rule=sentinel),)), clock._replace(status=1e16), clock._replace(reason=["a", 1e16])]
    for c in odd:
        assert clock_module.clock_bytes(c) == canonical_bytes(c.to_json()), c


def test_a_materialised_timeline_writes_the_same_bytes():
    cp = load_policy("zmanda")
    for t in generate(cp, 50, random.Random(3)):
        d = evaluate(cp, t)
        fast = d.to_json_bytes()
        d.to_json()   # the history and clocks are built now; the bytes come from them
        assert d._lazy is None and d.to_json_bytes() == fast


NOT_APPLICABLE = """
metrics:
  next_response:
    targets: {std: {P1: PT2H, P2: PT4H, P3: PT8H}}
  resolution:
    not_promised: "100% best effort, written %b and %s as they are; \\uf8ffslot\\uf8ff too"
"""


RULE = """
rules:
  - id: chosen
    when: {requested_priority: {present: true}}
    then: {assign: {fact: requested_priority}}
"""


@pytest.mark.parametrize("reason", ["plain", "odd"])
def test_clocks_that_cannot_run_are_their_canonical_json(make_policy, reason):
    """A metric not promised and one that starts on a customer reply (none awaits an answer in
    a ticket without events): their clocks, encoded around `as_of` once per metric, or whole
    when the reason holds the slot sentinel."""
    from conftest import BASE
    metrics = NOT_APPLICABLE if reason == "odd" else NOT_APPLICABLE.replace(
        NOT_APPLICABLE.split("not_promised: ")[1].split("\n")[0], "no resolution time")
    cp = make_policy(RULE, BASE + metrics)
    rnd = random.Random(reason)
    for i, t in enumerate(generate(cp, 60, rnd)):
        moment = datetime.fromisoformat(t["submitted_at"]) + timedelta(minutes=rnd.randrange(900))
        d = evaluate(cp, t, **([{}, {"now": moment}, {"at": moment}][i % 3]))
        assert [c.status for c in d.clocks[1:]] == ["not_applicable"] * 2
        d = evaluate(cp, t, **([{}, {"now": moment}, {"at": moment}][i % 3]))  # still lazy
        assert d.to_json_bytes() == canonical_bytes(d.to_json()), t
