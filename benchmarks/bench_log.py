"""What the decision log costs: decisions/s with the log against without, side by side in one run.

    python benchmarks/bench_log.py [--tickets 20000] [--policy ID ...] [--chunk 1000] [--seed 1]

- batch: the batch runner, `engine.ops.batch.run_batch`, on chunks of JSONL lines (parse,
  `evaluate_many`, encode each decision as a line) without a log, and with the chunk's
  decisions collected by its `on_decided` hook and `DecisionLog.append_many` per chunk (a group
  commit: one transaction, one fsync per chunk, as `batch --log` does before it writes the
  chunk's lines). (A build whose run_batch has no hook runs the same loop written out.)
  The two variants alternate round by round, so machine drift hits both alike.
  Each batch figure is the best of --rounds; beside the wall-clock ratio, the ratio of decisions
  per CPU second of this process (immune to other processes on a shared machine, blind to
  fsync waits).
- single: one `append` per decision (one commit and fsync each: what `evaluate --log` does, and
  a service whose requests arrive one at a time), against the same evaluation without a log.
- threads: 4 threads appending pre-made decisions to one `DecisionLog` (concurrent appends are
  group-committed), against 1 thread.
- processes: 2 processes appending to one file at once (each its own connection, taking turns
  through the writers' flock and SQLite's write lock), against 1 process.

Not a test: figures depend on the machine (and its disk's fsync). The log file lives in the
system's temporary folder unless --dir says otherwise.
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_evaluate import generate  # noqa: E402

from engine import Evaluator, load_policy  # noqa: E402
from engine.adapters.batch.files import CHUNK_BYTES  # noqa: E402
from engine.ops.batch import run_batch  # noqa: E402
from engine.ops.jsonl import DecisionEncoder  # noqa: E402
from engine.ops.log import DecisionLog, Entry  # noqa: E402
from engine.ops.log.query import LogReader  # noqa: E402

#: `run_batch(..., on_decided=)` (the batch runner's hook for `batch --log`), where this build
#: has it; else the same loop written out here
RUN_BATCH_HOOK = "on_decided" in inspect.signature(run_batch).parameters


def _batch(evaluator, cp, lines: list[bytes], log: DecisionLog | None,
           encoder: DecisionEncoder) -> float:
    """Seconds for one chunk of the batch runner: decide, log the chunk in one transaction,
    then write its lines (to memory)."""
    start = time.perf_counter()
    out = io.BytesIO()
    if RUN_BATCH_HOOK:
        entries: list[Entry] = []
        hook = (lambda d, t: entries.append(Entry(d, cp, t))) if log is not None else None
        result = run_batch(lines, out, evaluator, policy=cp, encoder=encoder,
                           on_decided=hook)  # type: ignore[call-arg]
        if log is not None:
            log.append_many(entries)
        assert result.decided == len(lines)
    else:
        tickets = [json.loads(line) for line in lines]
        results = list(evaluator.evaluate_many(cp, tickets))
        if log is not None:
            log.append_many([Entry(d, cp, t) for d, t in zip(results, tickets, strict=True)])
        for r in results:
            out.write(json.dumps(r.to_json(), ensure_ascii=False).encode() + b"\n")
    return time.perf_counter() - start


def batch(cp, lines: list[bytes], chunk: int, folder: Path, rounds: int) -> dict[str, float]:
    """Decisions/s of the batch loop without a log and with group commits: each round runs the
    corpus in each mode (the order alternating between rounds); the best round of each mode
    counts (on a shared machine the others measure its neighbours). Also the log's own cost per
    record: serialising (prepare) and committing."""
    evaluator = Evaluator()
    encoder = DecisionEncoder()
    _batch(evaluator, cp, lines[:chunk], None, encoder)   # warm the engine and the caches
    path = folder / f"batch-{cp.id}.db"
    n = len(lines)
    chunks = [lines[lo:lo + chunk] for lo in range(0, n, chunk)]
    best = {"without": 0.0, "with": 0.0, "prepare": 1e9, "commit": 1e9}
    with DecisionLog.open(path) as log:
        _batch(evaluator, cp, lines[:chunk], log, encoder)   # the policy source is stored once
        modes = {"without": lambda: sum(_batch(evaluator, cp, c, None, encoder) for c in chunks),
                 "with": lambda: sum(_batch(evaluator, cp, c, log, encoder) for c in chunks)}
        for r in range(rounds):
            for mode in (["without", "with"] if r % 2 == 0 else ["with", "without"]):
                cpu = time.process_time()
                best[mode] = max(best[mode], n / modes[mode]())
                cpu = time.process_time() - cpu   # this process's CPU, the writer thread's too
                best[f"{mode}_cpu"] = max(best.get(f"{mode}_cpu", 0.0), n / cpu)
            tickets = [json.loads(line) for line in lines]
            decisions = list(evaluator.evaluate_many(cp, tickets))
            start = time.perf_counter()
            prepared = [log.prepare(d, policy=cp, ticket=t) for d, t in zip(decisions, tickets,
                                                                             strict=True)]
            best["prepare"] = min(best["prepare"], (time.perf_counter() - start) / n * 1e6)
            start = time.perf_counter()
            for lo in range(0, n, chunk):
                log.append_prepared(prepared[lo:lo + chunk])
            best["commit"] = min(best["commit"], (time.perf_counter() - start) / n * 1e6)
        with LogReader(path) as reader:
            best["size"] = path.stat().st_size // reader.count()
    evaluator.close()
    return best


def single(cp, tickets: list[dict], folder: Path) -> tuple[float, float]:
    evaluator = Evaluator()
    for t in tickets[:200]:
        evaluator.evaluate(cp, t)
    with DecisionLog.open(folder / f"single-{cp.id}.db") as log:
        start = time.perf_counter()
        for t in tickets:
            evaluator.evaluate(cp, t)
        without = time.perf_counter() - start
        start = time.perf_counter()
        for t in tickets:
            log.append(evaluator.evaluate(cp, t), policy=cp, ticket=t)
        with_log = time.perf_counter() - start
    evaluator.close()
    return len(tickets) / without, len(tickets) / with_log


def threads(cp, tickets: list[dict], folder: Path, n: int) -> float:
    evaluator = Evaluator()
    decisions = [evaluator.evaluate(cp, t) for t in tickets]
    evaluator.close()
    with DecisionLog.open(folder / f"threads{n}-{cp.id}.db") as log:
        log.append(decisions[0], policy=cp, ticket=tickets[0])
        per = len(tickets) // n

        def work(k: int) -> None:
            for i in range(k * per, (k + 1) * per):
                log.append(decisions[i], policy=cp, ticket=tickets[i])

        workers = [threading.Thread(target=work, args=(k,)) for k in range(n)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return per * n / (time.perf_counter() - start)


_SHARED: dict = {}


def _append_all(path: str, k: int, n: int, go) -> None:
    cp, tickets, decisions = _SHARED["cp"], _SHARED["tickets"], _SHARED["decisions"]
    with DecisionLog.open(path) as log:
        go.wait()
        for i in range(k, len(tickets), n):
            log.append(decisions[i], policy=cp, ticket=tickets[i])


def processes(cp, tickets: list[dict], folder: Path, n: int) -> float:
    evaluator = Evaluator()
    _SHARED.update(cp=cp, tickets=tickets, decisions=[evaluator.evaluate(cp, t) for t in tickets])
    evaluator.close()
    path = str(folder / f"procs{n}-{cp.id}.db")
    DecisionLog.open(path).close()
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    procs = [ctx.Process(target=_append_all, args=(path, k, n, go)) for k in range(n)]
    for p in procs:
        p.start()
    time.sleep(0.5)   # every writer has opened the log
    start = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    return len(tickets) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=20_000)
    ap.add_argument("--single", type=int, default=2_000, help="tickets for the one-commit runs")
    ap.add_argument("--policy", action="append")
    ap.add_argument("--chunk", type=int, default=None,
                    help="lines per transaction (default: as many as the batch runner's chunks "
                         "of CHUNK_BYTES hold)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="batch rounds; the best counts")
    ap.add_argument("--dir", help="where the log files go (default: a temporary folder)")
    ap.add_argument("--batch-only", action="store_true", help="skip single, threads, processes")
    args = ap.parse_args()
    ids = args.policy or ["cloudtalk", "zmanda"]
    print(f"{args.tickets} tickets per policy (batch), {args.single} (single, threads, "
          f"processes); Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        for pid in ids:
            cp = load_policy(pid)
            tickets = generate(cp, args.tickets, random.Random(args.seed))
            lines = [json.dumps(t).encode() for t in tickets]
            if args.chunk is None:   # the batch runner cuts chunks by size
                args.chunk = max(1, CHUNK_BYTES * len(lines) // sum(len(x) + 1 for x in lines))
            b = batch(cp, lines, args.chunk, folder, args.rounds)
            print(f"{pid:<10} batch      without log {b['without']:>9,.0f}/s   with log "
                  f"{b['with']:>9,.0f}/s   ratio {b['with'] / b['without']:.2f}  (append_many per "
                  f"chunk of {args.chunk}); by CPU time "
                  f"{b['with_cpu'] / b['without_cpu']:.2f}")
            print(f"{'':<10} the log    prepare {b['prepare']:.1f} µs + commit "
                  f"{b['commit']:.1f} µs per record; ~{b['size']:,} bytes per record on disk")
            if args.batch_only:
                continue
            few = tickets[:args.single]
            plain, logged = single(cp, few, folder)
            print(f"{'':<10} single     without log {plain:>9,.0f}/s   with log {logged:>9,.0f}/s"
                  f"   ratio {logged / plain:.2f}  (one commit + fsync per decision)")
            one, four = threads(cp, few, folder, 1), threads(cp, few, folder, 4)
            print(f"{'':<10} threads    1 thread    {one:>9,.0f}/s   4 threads {four:>9,.0f}/s"
                  f"   (appends only; concurrent appends are group-committed)")
            one, two = processes(cp, few, folder, 1), processes(cp, few, folder, 2)
            print(f"{'':<10} processes  1 process   {one:>9,.0f}/s   2 processes {two:>7,.0f}/s"
                  f"   (appends only; one file, SQLite's write lock)")


if __name__ == "__main__":
    main()
