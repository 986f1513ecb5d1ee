"""The decision cache across policies: the evaluator remembers the last policy's cache (a
shortcut), which must never hand one policy's outcome to another, nor survive clear_cache."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from engine import load_policy
from engine.run.evaluator import Evaluator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_evaluate import generate  # noqa: E402


def test_alternating_policies_each_get_their_own_outcomes():
    policies = [load_policy(p) for p in ("cloudtalk", "zmanda", "csd-group")]
    again = load_policy("cloudtalk")          # another object, the same cache scope
    tickets = {cp.id: generate(cp, 60, random.Random(3)) for cp in policies}
    ev = Evaluator(max_policies=2)            # three policies: the least recent is evicted
    reference = Evaluator(cache_size=0)
    rnd = random.Random(5)
    for _ in range(400):
        cp = rnd.choice([*policies, again])
        t = rnd.choice(tickets[cp.id])
        got = ev.evaluate(cp, t)
        assert got.to_json() == reference.evaluate(cp, t, cache=False).to_json()
        if rnd.random() < 0.02:
            ev.clear_cache()
    assert ev.hits > 0 and ev.cache_info()["policies"] <= 2


def test_raw_value_index_stays_within_the_bound_and_equal_to_the_engine():
    """The index by raw values in front of the entries: emptied when it reaches `cache_size`,
    dropped with its policy, and never handing out an outcome the engine would not give."""
    policies = [load_policy(p) for p in ("cloudtalk", "credenti")]
    tickets = {cp.id: generate(cp, 300, random.Random(7), skew=0.0) for cp in policies}
    ev = Evaluator(cache_size=24, max_policies=1)
    reference = Evaluator(cache_size=0)
    rnd = random.Random(11)
    for _ in range(600):
        cp = rnd.choice(policies)
        t = rnd.choice(tickets[cp.id])
        assert ev.evaluate(cp, t).to_json() == reference.evaluate(cp, t, cache=False).to_json()
        info = ev.cache_info()
        assert 0 < info["indexed"] <= 24 and sum(info["entries"]) <= 24
        assert info["indexed"] == sum(len(index) for _, _, index in ev._caches.values())
    ev.clear_cache()
    assert ev.cache_info()["indexed"] == 0
