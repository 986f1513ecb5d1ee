"""Micro-benchmark of engine.calendars: µs per call of due() and elapsed().

    python benchmarks/bench_calendars.py [--calls N] [--seed S]

Random starts (any second) in 2026–2027; each figure is the median and p99 over N single
calls timed with perf_counter_ns. The month caches are warmed before timing (a policy engine
keeps its calendars), and one cold-cache figure is printed separately.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.calendars import Calendar, build_calendar  # noqa: E402

CALENDARS = {
    "cloudtalk office": {"timezone": "Europe/Bratislava", "hours": {"mon-fri": ["09:00-17:00"]},
                         "holidays": {"country": "SK"}},
    "credenti 8x5": {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["09:00-17:00"]},
                     "holidays": {"country": "DE"}},
}
TARGETS = {"PT1H": timedelta(hours=1), "PT8H": timedelta(hours=8),
           "PT1000H": timedelta(hours=1000)}
WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_SECONDS = 2 * 365 * 86_400
GOAL_US = 1000.0


def _starts(count: int, rng: random.Random) -> list[datetime]:
    return [WINDOW_START + timedelta(seconds=rng.randrange(WINDOW_SECONDS)) for _ in range(count)]


def _measure(call: Callable[[datetime, datetime], object], starts: list[datetime],
             ends: list[datetime]) -> tuple[float, float]:
    timings = []
    clock = time.perf_counter_ns
    for start, end in zip(starts, ends, strict=True):
        before = clock()
        call(start, end)
        timings.append((clock() - before) / 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.99) - 1]


def _warm(calendar: Calendar) -> None:
    """Build every month the benchmark can touch (2026 – mid 2028)."""
    calendar.elapsed(WINDOW_START, WINDOW_START + timedelta(days=3 * 365))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"{'calendar':<18} {'call':<16} {'median µs':>10} {'p99 µs':>10}   ({args.calls} calls)")
    thousand: list[tuple[str, float, float]] = []
    for label, spec in CALENDARS.items():
        cold = build_calendar(label, spec)
        before = time.perf_counter_ns()
        cold.due(WINDOW_START + timedelta(days=40), TARGETS["PT1000H"])
        cold_us = (time.perf_counter_ns() - before) / 1000
        calendar = build_calendar(label, spec)
        _warm(calendar)
        starts = _starts(args.calls, rng)
        for name, within in TARGETS.items():
            median, p99 = _measure(lambda s, _e, w=within, c=calendar: c.due(s, w), starts, starts)
            print(f"{label:<18} {'due ' + name:<16} {median:>10.1f} {p99:>10.1f}")
            if name == "PT1000H":
                thousand.append((label, median, p99))
        ends = [s + timedelta(seconds=rng.randrange(30 * 86_400)) for s in starts]
        median, p99 = _measure(calendar.elapsed, starts, ends)
        print(f"{label:<18} {'elapsed ≤30 days':<16} {median:>10.1f} {p99:>10.1f}")
        print(f"{label:<18} {'cold due PT1000H':<16} {cold_us:>10.1f} {'(1 call)':>10}")
    print()
    for label, median, p99 in thousand:
        verdict = "meets" if p99 < GOAL_US else "MISSES"
        print(f"1,000-hour due on {label}: median {median:.1f} µs, p99 {p99:.1f} µs — "
              f"{verdict} the {GOAL_US:.0f} µs (1 ms) goal")


if __name__ == "__main__":
    main()
