"""Memory and throughput over many varied evaluations in one process: both should stay flat.

    python benchmarks/bench_memory.py [--evaluations 100000] [--window 10000] [--seed 1]
                                      [--cold] [--json]

The four bundled policies take turns on one Evaluator (the production path: validation, the
decision cache, the due time and `remaining` computed per ticket). Every ticket is different
where caches could grow without bound: a submission time in any year 1900–2999 at any offset,
any IANA zone for the customer, contract response targets of any length up to a year, a random
`now` at or after the submission, and every categorical fact the rules read drawn uniformly (or
absent). Every ticket is valid: a policy whose calendars count public holidays is exact only for
the years the holidays library knows (e.g. 1991–2100 for DE), so its tickets are submitted in
those years less five (a year-long target on 8×5 hours is due ~4.4 years later); the others
use 1900–2999. A ticket that still fails to decide is counted by its code (`failures`), apart.

Reported per window of evaluations: the process's resident memory (RSS) at the end of the
window and the window's throughput; then the peak RSS, the growth from the first window to the
last and the ratio of the last window's throughput to the first's. The peak is the process's
own high-water mark (`VmHWM` of /proc/self/status), not `ru_maxrss`: Linux carries a parent's
`ru_maxrss` into a child across fork and exec, so a benchmark started by a test suite that had
grown to 1.5 GiB reported 1.5 GiB. Not a test: tests/test_memory.py runs this script and holds
it to 200 MiB with no failures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import EvaluationError, TicketError, bundled, load_policy  # noqa: E402
from engine.calendars.zones import holiday_years  # noqa: E402
from engine.core.facts import iana_zones  # noqa: E402
from engine.core.logic import domain  # noqa: E402
from engine.run.evaluator import Evaluator  # noqa: E402

ZONES = sorted(iana_zones())


FIRST_YEAR, LAST_YEAR = 1900, 2999   # the years a ticket may be in
MARGIN_YEARS = 5                     # a holiday calendar's due times stay inside its years


def exact_years(policy) -> tuple[int, int]:
    """The years every calendar of `policy` is exact for, less a margin for due times."""
    first, last = FIRST_YEAR, LAST_YEAR
    for spec in policy.calendar_specs.values():
        country = (spec.get("holidays") or {}).get("country") if isinstance(spec, dict) else None
        if country:
            lo, hi = holiday_years(country, spec["holidays"].get("subdivision"))
            first, last = max(first, lo), min(last, hi - MARGIN_YEARS)
    return first, last


def _instant(rnd: random.Random, years: tuple[int, int]) -> datetime:
    """Any second of `years` (kept inside them at any offset, with room for a response time
    after it), at any offset."""
    start = datetime(years[0], 1, 2, tzinfo=UTC)
    span = (datetime(years[1], 10, 1, tzinfo=UTC) - start).total_seconds()
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


def varied_ticket(cp, rnd: random.Random, i: int, years: tuple[int, int] = (FIRST_YEAR, LAST_YEAR)
                  ) -> tuple[dict, datetime]:
    """A valid ticket for `cp` with random times (in `years`), zone, targets and facts; and a
    random `now` at or after its submission."""
    policy = cp.policy
    submitted = _instant(rnd, years)
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
    now = submitted + timedelta(seconds=rnd.randint(0, 400 * 86_400))
    return t, now


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """This process's own peak RSS (`VmHWM`; `ru_maxrss` may be a parent's, see above)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run(evaluations: int, window: int, seed: int, cache: bool = True) -> dict:
    rnd = random.Random(seed)
    policies = [load_policy(pid) for pid in sorted(bundled())]
    years = [exact_years(cp.policy) for cp in policies]
    evaluator = Evaluator()
    windows: list[dict] = []
    failures: Counter[str] = Counter()
    started = time.perf_counter()
    for i in range(evaluations):
        k = i % len(policies)
        t, now = varied_ticket(policies[k], rnd, i, years[k])
        try:
            evaluator.evaluate(policies[k], t, now=now, cache=cache)
        except TicketError as exc:
            failures.update(d.code for d in exc.diagnostics[:1])
        except EvaluationError as exc:
            failures[exc.code] += 1
        if (i + 1) % window == 0:
            elapsed = time.perf_counter() - started
            gc.collect()
            windows.append({"evaluations": i + 1, "rss_mib": round(rss_mib(), 1),
                            "per_second": round(window / elapsed)})
            started = time.perf_counter()
    return {"windows": windows, "failures": dict(failures.most_common()),
            "peak_rss_mib": round(peak_rss_mib(), 1),
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
          f"failed to decide: {result['failures'] or 'none'}, cache entries {result['cache']}")


if __name__ == "__main__":
    main()
