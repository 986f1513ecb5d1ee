"""Throughput of engine.evaluate per bundled policy, next to bare durable_rules for the same rules.

    python benchmarks/bench_evaluate.py [--tickets 20000] [--policy ID ...] [--seed 1]

For each bundled policy, 20,000 generated tickets are evaluated in one process. Submission times
(any second of 2026) and customer zones are random; each categorical fact the rules read is drawn
from its values (and absent) with a Zipf(s=2) distribution, as in real queues where a few profiles
dominate — the "realistic" corpus. The "uniform" corpus draws every value equally (worst case).

- warm:  engine.evaluate with full trace and the decision cache (the production path): from an
         empty cache, and again on 20,000 new tickets of the same distribution once the process
         has seen the first 20,000 (a long-running service's steady state);
- cold:  engine.evaluate with the cache off (every ticket runs the engine);
- bare:  the same durable_rules ruleset and firings with actions that only make the working-memory
         changes — no validation, trace, guards or decision (the floor under `cold`);
         cold and bare run interleaved in chunks of 500 tickets, so machine drift hits both.

The corpora are built before any timing and then set aside from Python's cyclic collector
(`gc.collect()`, `gc.freeze()`; unfrozen after the policy): 80,000 ticket dicts held by the
harness would otherwise be walked by every full collection that falls inside a timed loop — a
cost of this script's own data (0.66–0.79x of the frozen figures from an empty cache, measured
2026-12-03), not of deciding. Everything the engine allocates while timed is collected as usual.

Not a test: figures depend on the machine. Reported: tickets/s and p50/p99 µs per ticket.

    python benchmarks/bench_evaluate.py --against DIR [--reps 5] [--tickets 5000]

compares this checkout with another one (DIR: e.g. a `git worktree` of main) side by side: per
policy, child processes of both take turns (DIR, this, DIR, this, ...; each child imports its
own tree's engine), each timing `engine.evaluate` + `to_json_bytes()` on a filled cache,
`to_json_bytes()` of an `engine.evaluate` decision, `Evaluator.evaluate` + `to_json_bytes()`
(the run stage), and cold/bare interleaved; the table gives the medians of the reps' p50s.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if "--root" in sys.argv:   # a child of --against: time that tree's engine
    _ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(_ROOT))

from engine import bundled, evaluate, load_policy  # noqa: E402
from engine.core.durations import format_duration  # noqa: E402
from engine.run.evaluator import clear_cache, default_evaluator  # noqa: E402

CHUNK = 500
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/Bratislava", None]
START = datetime(2026, 1, 1, tzinfo=UTC)


def _pick(rnd: random.Random, values: list, skew: float) -> object:
    """Zipf-weighted choice (skew 0 = uniform): real queues are dominated by a few profiles."""
    if skew == 0:
        return rnd.choice(values)
    weights = [1 / (k + 1) ** skew for k in range(len(values))]
    return rnd.choices(values, weights)[0]


def generate(cp, n: int, rnd: random.Random, skew: float = 2.0) -> list[dict]:
    """Tickets whose categorical facts repeat (Zipf-distributed) and whose times do not."""
    policy = cp.policy
    tickets = []
    orders: dict[str, list] = {}
    for i in range(n):
        t: dict = {"id": f"B-{i}",
                   "submitted_at": (START + timedelta(seconds=rnd.randrange(365 * 86400)))
                   .isoformat()}
        for path in cp.key_paths:
            spec = policy.facts[path]
            if spec.type == "level":
                # a shuffled order per fact, so the dominant level differs between facts
                value = _pick(rnd, orders.setdefault(path, _shuffled(
                    [*policy.levels, None], path)), skew)
            elif spec.type == "plan":
                value = _pick(rnd, orders.setdefault(path, _shuffled(list(policy.plans), path)),
                              skew)
            elif spec.type == "boolean":
                value = rnd.random() < 0.9
            elif spec.type == "targets":
                value = _pick(rnd, [{lvl: f"PT{2 * (k + 1)}H" for k, lvl in
                                     enumerate(policy.levels)}, None], skew)
            elif spec.enum:
                value = _pick(rnd, orders.setdefault(path, _shuffled([*spec.enum, None], path)),
                              skew)
            else:
                continue
            if value is None:
                continue
            *parents, leaf = path.split(".")
            node = t
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        zone = rnd.choice(ZONES)
        if zone:
            t.setdefault("customer", {})["timezone"] = zone
        tickets.append(t)
    return tickets


def _shuffled(values: list, path: str) -> list:
    out = list(values)
    random.Random(path).shuffle(out)
    return out


def measure(fn, items) -> list[float]:
    out = []
    clock = time.perf_counter
    for item in items:
        start = clock()
        fn(item)
        out.append(clock() - start)
    return out


def distinct(cp, tickets: list[dict]) -> int:
    """How many cache entries the corpus needs (values that satisfy the same tests share one)."""
    keys = set()
    for t in tickets:
        checked = cp.checker.check(t)[0]
        values = checked.values
        keys.add((tuple(values.get(p) if c is None else c[values.get(p)] for p, c in cp.key_plan),
                  checked.targets_key))
    return len(keys)


def set_aside() -> None:
    """Move everything alive now (the harness's corpora above all) out of the cyclic
    collector's reach until `gc.unfreeze()` (see the module docstring)."""
    gc.collect()
    gc.freeze()


def summary(timings: list[float]) -> tuple[float, float, float]:
    timings = sorted(timings)
    rate = len(timings) / sum(timings)
    p50 = timings[len(timings) // 2] * 1e6
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))] * 1e6
    return rate, p50, p99


def calendar_figures() -> list[str]:
    """Due-time arithmetic: the 1,000-open-hour goal (< 1 ms) and ordinary targets."""
    cp = load_policy("cloudtalk")
    office = cp.policy.calendars["office"]
    rnd = random.Random(3)
    starts = [START + timedelta(minutes=rnd.randrange(365 * 24 * 60)) for _ in range(5000)]
    lines = []
    for hours in (1, 8, 1000):
        within = timedelta(hours=hours)
        rate, p50, p99 = summary(measure(lambda s, w=within: office.due(s, w), starts))
        lines.append(f"  due() PT{hours}H on cloudtalk office: p50 {p50:7.1f} µs  p99 "
                     f"{p99:7.1f} µs" + ("   (goal < 1000 µs)" if hours == 1000 else ""))
    return lines


def arguments(doc: str, tickets: int,
              compare: bool = False) -> tuple[argparse.Namespace, list[str]]:
    """The benchmarks' common options (--tickets, --policy ..., --seed) and the policies."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=tickets)
    ap.add_argument("--policy", action="append")
    ap.add_argument("--seed", type=int, default=1)
    if compare:   # bench_evaluate's --against (and its children's options)
        ap.add_argument("--against", metavar="DIR", help="another checkout, side by side")
        ap.add_argument("--reps", type=int, default=5)
        ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
        ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    return args, args.policy or list(bundled())


def table_header(title: str, header: str) -> None:
    print(f"{title}, Python {sys.version.split()[0]}")
    print(header)
    print("-" * len(header))


SECTIONS = ("evaluate+bytes", "bytes", "run stage+bytes", "cold", "bare", "cold/bare")


def child(pid: str, n: int, seed: int) -> dict[str, float]:
    """One rep of the --against comparison in this process: p50 µs of each section."""
    cp = load_policy(pid)
    tickets = generate(cp, n, random.Random(seed))
    checked = [cp.checker.check(t)[0] for t in tickets]
    run = default_evaluator()
    for t in tickets:   # fill the cache: the sections time the hit path
        evaluate(cp, t).to_json_bytes()
    set_aside()
    p50 = {}
    p50["evaluate+bytes"] = summary(measure(lambda t: evaluate(cp, t).to_json_bytes(),
                                            tickets))[1]
    decisions = [evaluate(cp, t) for t in tickets]
    p50["bytes"] = summary(measure(lambda d: d.to_json_bytes(), decisions))[1]
    p50["run stage+bytes"] = summary(measure(lambda t: run.evaluate(cp, t).to_json_bytes(),
                                             tickets))[1]
    cold_t: list[float] = []
    bare_t: list[float] = []
    for lo in range(0, len(tickets), CHUNK):
        cold_t += measure(lambda t: evaluate(cp, t, cache=False), tickets[lo:lo + CHUNK])
        bare_t += run.adapter.run_bare(cp, checked[lo:lo + CHUNK])
    p50["cold"], p50["bare"] = summary(cold_t)[1], summary(bare_t)[1]
    p50["cold/bare"] = p50["cold"] / p50["bare"]
    return p50


def against(other: Path, ids: list[str], n: int, seed: int, reps: int) -> None:
    """Both trees side by side (see the module docstring)."""
    import json
    import subprocess

    me = Path(__file__).resolve()
    trees = {"other": other.resolve(), "this": _ROOT}
    table_header(f"{n} tickets per policy, {reps} reps, children alternating; medians of p50 "
                 f"µs (other: {trees['other']})",
                 f"{'policy':<10} {'section':<16} {'other':>9} {'this':>9} {'this/other':>10}")
    for pid in ids:
        got: dict[str, list[dict]] = {"other": [], "this": []}
        for _ in range(reps):
            for name, root in trees.items():
                out = subprocess.run([sys.executable, str(me), "--root", str(root), "--child",
                                      "--policy", pid, "--tickets", str(n), "--seed",
                                      str(seed)], capture_output=True, text=True, check=True)
                got[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
        for k, section in enumerate(SECTIONS):
            a, b = (statistics.median(r[section] for r in got[x]) for x in ("other", "this"))
            print(f"{pid if k == 0 else '':<10} {section:<16} {a:>9.2f} {b:>9.2f} "
                  f"{b / a:>9.2f}x")


def main() -> None:
    args, ids = arguments(__doc__ or "", 20_000, compare=True)
    if args.child:
        import json
        print(json.dumps(child(ids[0], args.tickets, args.seed)))
        return
    if args.against:
        against(Path(args.against), ids, args.tickets, args.seed, args.reps)
        return
    table_header(f"{args.tickets} tickets per policy, one process",
                 f"{'policy':<10} {'path':<5} {'tickets/s':>10} {'p50 µs':>8} {'p99 µs':>8}"
                 f"  {'notes'}")
    for pid in ids:
        cp = load_policy(pid)
        tickets = generate(cp, args.tickets, random.Random(args.seed))
        uniform = generate(cp, args.tickets, random.Random(args.seed), skew=0)
        checked = [cp.checker.check(t)[0] for t in tickets]
        later = generate(cp, args.tickets, random.Random(args.seed + 1000))
        clear_cache()
        set_aside()
        warm = summary(measure(lambda t, cp=cp: evaluate(cp, t), tickets))
        steady = summary(measure(lambda t, cp=cp: evaluate(cp, t), later))
        clear_cache()
        worst = summary(measure(lambda t, cp=cp: evaluate(cp, t), uniform))
        cold_t: list[float] = []
        bare_t: list[float] = []
        for lo in range(0, len(tickets), CHUNK):  # interleaved, so drift hits both alike
            cold_t += measure(lambda t, cp=cp: evaluate(cp, t, cache=False),
                              tickets[lo:lo + CHUNK])
            bare_t += default_evaluator().adapter.run_bare(cp, checked[lo:lo + CHUNK])
        cold, bare = summary(cold_t), summary(bare_t)
        fired = statistics.mean(len(evaluate(cp, t).fired) for t in tickets[:2000])
        gc.unfreeze()
        print(f"{pid:<10} {'warm':<5} {warm[0]:>10,.0f} {warm[1]:>8.1f} {warm[2]:>8.1f}"
              f"  cache from empty, realistic corpus: {distinct(cp, tickets)} cache keys")
        print(f"{'':<10} {'warm':<5} {steady[0]:>10,.0f} {steady[1]:>8.1f} {steady[2]:>8.1f}"
              f"  cache after 20k earlier tickets: 20k new tickets, same distribution")
        print(f"{'':<10} {'warm':<5} {worst[0]:>10,.0f} {worst[1]:>8.1f} {worst[2]:>8.1f}"
              f"  cache from empty, uniform corpus (worst case): {distinct(cp, uniform)} keys")
        print(f"{'':<10} {'cold':<5} {cold[0]:>10,.0f} {cold[1]:>8.1f} {cold[2]:>8.1f}"
              f"  no cache, {fired:.1f} rules fired/ticket")
        print(f"{'':<10} {'bare':<5} {bare[0]:>10,.0f} {bare[1]:>8.1f} {bare[2]:>8.1f}"
              f"  durable_rules alone; cold/bare p50 = {cold[1] / bare[1]:.2f}x, "
              f"mean = {bare[0] / cold[0]:.2f}x")
    print()
    print("calendar arithmetic:")
    for line in calendar_figures():
        print(line)
    print(f"(durations printed as ISO 8601, e.g. {format_duration(timedelta(hours=1000))})")


if __name__ == "__main__":
    main()
