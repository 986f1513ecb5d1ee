"""Throughput of ticket timelines: tickets with 1, 5 and 20 events per bundled policy, one process.

    python benchmarks/bench_timelines.py [--tickets 5000] [--policy ID ...] [--seed 1]

The corpus is bench_evaluate's realistic one (each categorical fact Zipf-distributed, random
submission times and customer zones), each ticket given a life of N events: a reply by the
agent, customer replies, pending/open spells, and now and then an engineer's or the customer's
level or a corrected fact (`environment`, `customer.reachable`), Zipf-distributed too, minutes to
hours apart. Every clock is computed; decisions are serialised too (`+json`), since history and
clocks of a ticket without events are only computed when read.

Measured once warm: a first corpus of the same size fills the caches, then a new corpus of the
same distribution is timed; the runs interleave in chunks of 500 tickets so machine drift hits
all alike. Row 0 is the same corpus without events, beside the run stage's one-snapshot
`Evaluator.evaluate` (`snapshot/s`): what following events costs a ticket that has none.
`timelines/s` is wall time per ticket; `cpu/s` is process CPU time (on a shared machine the
better estimate of an idle one). Goals (issue 10): 20 events ≤ 25× one event; 5 events ≥ 10,000
timelines/s. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_evaluate import (  # noqa: E402
    _pick,
    arguments,
    generate,
    measure,
    summary,
    table_header,
)

from engine import evaluate, load_policy  # noqa: E402
from engine.run.evaluator import default_evaluator  # noqa: E402

SIZES = (0, 1, 5, 20)
CHUNK = 500


def life(cp, ticket: dict, n: int, rnd: random.Random) -> dict:
    """`ticket` with n events that respect the event rules (order, statuses, no reply after
    closed): mostly replies and pending spells, sometimes a level or a corrected fact."""
    policy = cp.policy
    at = datetime.fromisoformat(ticket["submitted_at"])
    status, events = "open", []
    kinds = ["reply_agent", "reply_customer", "status", "agent_priority", "priority_requested",
             "fact"]
    facts = [p for p in ("environment", "customer.reachable") if p in policy.facts]
    while len(events) < n:
        at += timedelta(minutes=rnd.choice((5, 20, 45, 90, 240, 600)))
        kind = _pick(rnd, kinds, 1.2)
        stamp = at.isoformat()
        if kind == "status":
            status = "pending" if status == "open" else "open"
            events.append({"at": stamp, "type": "status", "status": status})
        elif kind in ("agent_priority", "priority_requested"):
            events.append({"at": stamp, "type": kind, "level": _pick(rnd, list(policy.levels),
                                                                     1.5)})
        elif kind == "fact" and facts:
            fact = rnd.choice(facts)
            value = rnd.random() < 0.7 if fact == "customer.reachable" else _pick(
                rnd, ["production", "staging", "development"], 1.5)
            events.append({"at": stamp, "type": "fact", "fact": fact, "value": value})
        else:
            events.append({"at": stamp, "type": "reply",
                           "by": "agent" if kind == "reply_agent" else "customer"})
    return dict(ticket, events=events)


def corpus(cp, count: int, n: int, seed: int) -> list[dict]:
    rnd = random.Random(seed * 100 + n)
    tickets = generate(cp, count, random.Random(seed + n))
    return [life(cp, t, n, rnd) for t in tickets] if n else tickets


def main() -> None:
    args, ids = arguments(__doc__ or "", 5000)
    table_header(f"{args.tickets} tickets per size and policy, warm, one process",
                 f"{'policy':<10} {'events':>6} {'timelines/s':>12} {'cpu/s':>9} {'p50 µs':>8} "
                 f"{'p99 µs':>8} {'+json/s':>9} {'µs/event':>9}")
    for pid in ids:
        cp = load_policy(pid)
        for n in SIZES:  # fill the caches with a corpus of the same distribution
            for t in corpus(cp, args.tickets, n, args.seed):
                evaluate(cp, t).to_json()
        timed = {n: corpus(cp, args.tickets, n, args.seed + 1) for n in SIZES}
        plain: dict[int, list[float]] = {n: [] for n in SIZES}
        full: dict[int, list[float]] = {n: [] for n in SIZES}
        cpu = {n: 0.0 for n in SIZES}
        snap: list[float] = []
        snapshot = default_evaluator().evaluate
        for lo in range(0, args.tickets, CHUNK):
            snap += measure(lambda t, cp=cp, f=snapshot: f(cp, t), timed[0][lo:lo + CHUNK])
            for n in SIZES:
                chunk = timed[n][lo:lo + CHUNK]
                start = time.process_time()
                plain[n] += measure(lambda t, cp=cp: evaluate(cp, t), chunk)
                cpu[n] += time.process_time() - start
                full[n] += measure(lambda t, cp=cp: evaluate(cp, t).to_json_bytes(), chunk)
        rates, cpu_rates = {}, {}
        for n in SIZES:
            rate, p50, p99 = summary(plain[n])
            rates[n], cpu_rates[n] = rate, args.tickets / cpu[n]
            json_rate = summary(full[n])[0]
            per_event = f"{1e6 / rate / n:>9.1f}" if n else f"{'':>9}"
            print(f"{pid:<10} {n:>6} {rate:>12,.0f} {cpu_rates[n]:>9,.0f} {p50:>8.1f} "
                  f"{p99:>8.1f} {json_rate:>9,.0f} {per_event}")
        snap_rate, snap_p50, _ = summary(snap)
        print(f"{'':<10} no events: {rates[0]:,.0f}/s beside the snapshot evaluator's "
              f"{snap_rate:,.0f}/s (p50 {snap_p50:.1f} µs)")
        print(f"{'':<10} 20 events cost {rates[1] / rates[20]:.1f}× one event (goal ≤ 25×); "
              f"5 events {rates[5]:,.0f}/s, {cpu_rates[5]:,.0f}/s of CPU (goal ≥ 10,000/s)")


if __name__ == "__main__":
    main()
