"""Memory and throughput over many varied evaluations in one process: both should stay flat.

    python benchmarks/bench_memory.py [--evaluations 100000] [--window 10000] [--seed 1]
                                      [--cold] [--json]

The four bundled policies take turns on one Evaluator (the production path: validation, the
decision cache, the due time and `remaining` computed per ticket). Every ticket is different
where caches could grow without bound: a submission time in any year 1900–2999 at any offset,
any IANA zone for the customer, contract response targets of any length up to a year, a random
`now`, and every categorical fact the rules read drawn uniformly (or absent).

Reported per window of evaluations: the process's resident memory (RSS) at the end of the
window and the window's throughput; then the peak RSS (`ru_maxrss`), the growth from the first
window to the last and the ratio of the last window's throughput to the first's. Not a test:
tests/test_memory.py runs this script and holds it to 200 MiB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import EvaluationError, TicketError, bundled, load_policy  # noqa: E402
from engine.core.facts import iana_zones  # noqa: E402
from engine.core.logic import domain  # noqa: E402
from engine.run.evaluator import Evaluator  # noqa: E402

ZONES = sorted(iana_zones())


def _instant(rnd: random.Random) -> datetime:
    """Any second of the years 1900–2999 (kept inside them at any offset), at any offset."""
    start = datetime(1900, 1, 2, tzinfo=UTC)
    span = (datetime(2999, 12, 30, tzinfo=UTC) - start).total_seconds()
    moment = start + timedelta(seconds=rnd.randrange(int(span)))
    offset = timezone(timedelta(minutes=15 * rnd.randint(-48, 56)))
    return moment.astimezone(offset)


def _target(rnd: random.Random) -> str:
    unit = rnd.choice("MHD")
    if unit == "M":
        return f"PT{rnd.randint(1, 525_600)}M"
    if unit == "H":
        return f"PT{rnd.randint(1, 8_760)}H"
    return f"P{rnd.randint(1, 365)}D"


def varied_ticket(cp, rnd: random.Random, i: int) -> tuple[dict, datetime]:
    """A ticket for `cp` with random times, zone, targets and facts; and a random `now`."""
    policy = cp.policy
    submitted = _instant(rnd)
    t: dict = {"id": f"M-{i}", "submitted_at": submitted.isoformat(),
               "customer": {"timezone": rnd.choice(ZONES)}}
    for path in cp.key_paths:
        spec = policy.facts[path]
        if spec.type == "targets":
            value = {lvl: _target(rnd) for lvl in policy.levels if rnd.random() < 0.8} or None
        else:
            value = rnd.choice(domain(spec, policy) or (None,))
        if value is not None:
            *parents, leaf = path.split(".")
            node = t
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
    if rnd.random() < 0.3:
        t["first_response_at"] = (submitted + timedelta(minutes=rnd.randint(0, 10**5))) \
            .isoformat()
    now = submitted + timedelta(seconds=rnd.randint(-86_400, 400 * 86_400))
    return t, now


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(evaluations: int, window: int, seed: int, cache: bool = True) -> dict:
    rnd = random.Random(seed)
    policies = [load_policy(pid) for pid in sorted(bundled())]
    evaluator = Evaluator()
    windows, failures = [], 0
    started = time.perf_counter()
    for i in range(evaluations):
        cp = policies[i % len(policies)]
        t, now = varied_ticket(cp, rnd, i)
        try:
            evaluator.evaluate(cp, t, now=now, cache=cache)
        except (TicketError, EvaluationError):
            failures += 1
        if (i + 1) % window == 0:
            elapsed = time.perf_counter() - started
            gc.collect()
            windows.append({"evaluations": i + 1, "rss_mib": round(rss_mib(), 1),
                            "per_second": round(window / elapsed)})
            started = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"windows": windows, "failures": failures, "peak_rss_mib": round(peak, 1),
            "growth_mib": round(windows[-1]["rss_mib"] - windows[0]["rss_mib"], 1),
            "throughput_ratio": round(windows[-1]["per_second"] / windows[0]["per_second"], 2),
            "cache": evaluator.cache_info()["entries"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--evaluations", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cold", action="store_true", help="decision cache off")
    parser.add_argument("--json", action="store_true", help="the result as JSON")
    args = parser.parse_args()
    result = run(args.evaluations, args.window, args.seed, cache=not args.cold)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{'evaluations':>11} {'RSS MiB':>8} {'per s':>7}")
    for w in result["windows"]:
        print(f"{w['evaluations']:>11,} {w['rss_mib']:>8} {w['per_second']:>7,}")
    print(f"peak RSS {result['peak_rss_mib']} MiB, growth {result['growth_mib']} MiB first to "
          f"last window, throughput last/first {result['throughput_ratio']}, "
          f"{result['failures']} failed to decide, cache entries {result['cache']}")


if __name__ == "__main__":
    main()
