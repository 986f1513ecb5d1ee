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


def test_a_clock_whose_text_holds_the_sentinel_is_encoded_whole(monkeypatch):
    cp = load_policy("cloudtalk")
    t = generate(cp, 1, random.Random(2))[0]
    clock = evaluate(cp, t).clocks[0]
    odd = clock._replace(rule=snapshot._SENTINEL, phases=(clock.phases[0]._replace(
        rule=snapshot._SENTINEL),))
    assert snapshot.clock_bytes(odd) == canonical_bytes(odd.to_json())
    assert snapshot.clock_bytes(clock) == canonical_bytes(clock.to_json())
