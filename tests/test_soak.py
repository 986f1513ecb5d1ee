"""100,000 consecutive evaluations in one process: no MemoryError, flat memory, no leaked state.

Runs the cold path (cache off), so every ticket creates and deletes a durable_rules session.
TICKET_POLICY_SOAK sets the count (default 100,000; about 12 s). Marked slow: it runs when CI is
set or with --runslow.
"""

from __future__ import annotations

import gc
import os
import random

import pytest

from engine import evaluate, load_policy

N = int(os.environ.get("TICKET_POLICY_SOAK", "100000"))


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_soak_flat_memory_no_leaks():
    cp = load_policy("cloudtalk")
    rnd = random.Random(42)
    levels = ["P1", "P2", "P3", None]
    envs = ["production", "staging", "development"]
    plans = ["basic", "professional", "advanced"]
    warm = min(10_000, N // 5)
    baseline = None
    for i in range(N):
        level, env, plan = rnd.choice(levels), rnd.choice(envs), rnd.choice(plans)
        t = {"id": f"S{i}", "submitted_at": "2026-03-02T10:00:00+01:00",
             "requested_priority": level, "environment": env, "plan": plan,
             "category": "outage"}
        d = evaluate(cp, t, cache=False)
        expected = "P3" if level is None or env != "production" and level != "P3" else level
        assert d.priority == expected, (i, t)  # no state leaks from the previous ticket
        assert (d.sla is None) == (plan == "basic")
        if i == warm:
            gc.collect()
            baseline = rss_mib()
    gc.collect()
    growth = rss_mib() - baseline
    assert growth < 16, f"memory grew by {growth:.1f} MiB over {N - warm} evaluations"
