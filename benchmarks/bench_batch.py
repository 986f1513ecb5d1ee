"""Batch throughput, side by side in one run: the core, the command with 1 and 2 workers (with
and without a decision log), Dask, and the I/O floor.

    python benchmarks/bench_batch.py [--tickets 1000000] [--policy cloudtalk] [--no-dask]
                                     [--no-log] [--reps 1]

On 1,000,000 realistic tickets (tests/batch_corpus.py: the evaluate benchmark's Zipf-distributed
facts, half answered), written as JSON lines to a temporary folder, in lines/s:

- (a) core: `Evaluator.evaluate_many` over the same tickets already parsed, one process
      (parsed 50,000 at a time, untimed, so memory stays bounded; one evaluator throughout);
- (r) the record: what every batch line needs beyond (a), in one process, no I/O — the
      `TimelineEvaluator` (a ticket's events, history and clocks) and the decision record
      encoded (`DecisionEncoder`), over the same parsed tickets;
- (b) `ticket-policy batch --workers 1` (the command, wall clock, process start included);
- (c) `--workers 2`;  (d) `--dask local --workers 2` (LocalCluster start included);
- (b log), (c log): (b) and (c) with `--log` (a new decision log each run);
- floor: read, parse and write each line back (the batch reader, parser and encoder), no
  evaluation, one process; floor+: the same reading and parsing, and in each line's place a
  decision record of this corpus's size written by the command's output writer (direct I/O):
  the I/O a batch line costs with its ~5.8 KB record.

With `--reps N` the variants run interleaved N times and each figure is the median. Goals:
(b) >= 0.6 x (a), (c) >= 1.8 x (b), (d) >= 0.8 x (c), and --log costs at most 30%:
(b log) >= 0.7 x (b), (c log) >= 0.7 x (c). Also: the JSON libraries on our lines (parse a
ticket line, encode a decision record). Not a test: figures depend on the machine (and on
what else it runs: the load average is printed before and after).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import msgspec  # noqa: E402
from batch_corpus import tickets  # noqa: E402
from bench_evaluate import set_aside  # noqa: E402

from engine import Evaluator, load_policy  # noqa: E402
from engine.adapters.batch.direct import DirectFile  # noqa: E402
from engine.adapters.batch.files import Input  # noqa: E402
from engine.ops.jsonl import DecisionEncoder, encode, parse_line  # noqa: E402
from engine.timeline.evaluator import TimelineEvaluator  # noqa: E402

BLOCK = 50_000


def write_corpus(cp, n: int, path: Path) -> None:
    with open(path, "wb") as f:
        for start in range(0, n, BLOCK):
            for t in tickets(cp, min(BLOCK, n - start), seed=1000 + start):
                f.write(msgspec.json.encode(t) + b"\n")


def _timed(path: Path, decide) -> tuple[float, float]:
    """Wall and CPU seconds `decide(block)` takes over every ticket, parsed 50,000 at a time
    beforehand (untimed, so memory stays bounded; set aside from the cyclic collector while
    timed: full collections walking the harness's parsed block would be this script's cost)."""
    decode = msgspec.json.Decoder().decode
    wall = cpu = 0.0
    with open(path, "rb") as f:
        while True:
            block = [decode(line) for _, line in zip(range(BLOCK), f, strict=False)]
            if not block:
                return wall, cpu
            set_aside()   # the block held here is not the command's (it streams, holding none)
            start, start_cpu = time.perf_counter(), time.process_time()
            decide(block)
            wall += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            del block
            gc.unfreeze()


def core(cp, path: Path) -> tuple[float, float]:
    """(a): evaluate_many over every ticket (one evaluator throughout)."""
    evaluator = Evaluator()
    return _timed(path, lambda block: all(True for _ in evaluator.evaluate_many(cp, block)))


def record(cp, path: Path) -> tuple[float, float]:
    """(r): the timeline evaluator and the record's encoding over every ticket (what each
    batch line costs but reading, parsing and writing)."""
    timeline, encoder = TimelineEvaluator(Evaluator()), DecisionEncoder()
    return _timed(path, lambda block: all(encoder.encode(d, b"\n")
                                          for d in timeline.evaluate_many(cp, block)))


def floor(path: Path, out: Path) -> tuple[float, float]:
    """Read, parse and write each line back, no evaluation."""
    start, start_cpu = time.perf_counter(), time.process_time()
    source = Input(str(path))
    with open(out, "wb") as f:
        for n, raw in enumerate(source.lines(), 1):
            data, _ = parse_line(raw, source.name, n)
            f.write(encode(data) + b"\n")
    source.close()
    return time.perf_counter() - start, time.process_time() - start_cpu


def floor_records(cp, path: Path, out: Path) -> tuple[float, float]:
    """Read and parse each line, and write a decision record of the corpus's size in its place
    (one record's bytes, encoded beforehand) through the output writer the command uses, a
    chunk's lines at a time: the I/O the command cannot avoid for these lines."""
    with open(path, "rb") as f:
        first = msgspec.json.decode(f.readline())
    line = TimelineEvaluator(Evaluator()).evaluate(cp, first).to_json_bytes() + b"\n"
    start, start_cpu = time.perf_counter(), time.process_time()
    source = Input(str(path))
    sink = DirectFile(out)
    pending: list[bytes] = []
    for n, raw in enumerate(source.lines(), 1):
        parse_line(raw, source.name, n)
        pending.append(line)
        if len(pending) == 1300:   # ~ a chunk of CHUNK_BYTES of this corpus
            sink.write(b"".join(pending))
            pending = []
    sink.write(b"".join(pending))
    sink.sync()
    sink.close()
    source.close()
    took = time.perf_counter() - start, time.process_time() - start_cpu
    out.unlink()
    return took


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command(policy: str, path: Path, out: str, *extra: str) -> tuple[float, float]:
    """Wall seconds of the command and the CPU seconds of the command's process (its pool's
    workers are the fork server's children: not counted)."""
    start, start_cpu = time.perf_counter(), _children_cpu()
    p = subprocess.run([sys.executable, str(ROOT / "cli.py"), "batch", "-p", policy,
                        str(path), "-o", out, "--no-progress", *extra], cwd=ROOT,
                       capture_output=True, text=True)
    took = time.perf_counter() - start, _children_cpu() - start_cpu
    if p.returncode not in (0, 1):
        sys.exit(f"batch failed ({p.returncode}): {p.stderr}")
    return took


def json_libraries(cp, n: int = 20_000) -> list[str]:
    """µs per line: parse a ticket line, encode a decision record (orjson if installed)."""
    lines = [json.dumps(t).encode() for t in tickets(cp, n, seed=5)]
    records = [d.to_json() for d in Evaluator().evaluate_many(
        cp, [json.loads(x) for x in lines])]
    libs = {"json": (json.loads, lambda r: json.dumps(r, sort_keys=True, separators=(",", ":"),
                                                      ensure_ascii=False).encode()),
            "msgspec": (msgspec.json.Decoder().decode,
                        msgspec.json.Encoder(order="sorted").encode)}
    try:
        import orjson

        libs["orjson"] = (orjson.loads, lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS))
    except ImportError:
        pass
    out = []
    for name, (loads, dumps) in libs.items():
        best_parse = best_encode = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for x in lines:
                loads(x)
            best_parse = min(best_parse, time.perf_counter() - start)
            start = time.perf_counter()
            for r in records:
                dumps(r)
            best_encode = min(best_encode, time.perf_counter() - start)
        out.append(f"  {name:<8} parse a ticket line {best_parse / n * 1e6:6.2f} µs   "
                   f"encode a decision record {best_encode / n * 1e6:6.2f} µs")
    encoder = DecisionEncoder()
    decisions = list(Evaluator().evaluate_many(cp, [json.loads(x) for x in lines]))
    for d in decisions:
        encoder.encode(d)
    start = time.perf_counter()
    for d in decisions:
        encoder.encode(d)
    out.append(f"  DecisionEncoder (msgspec, shared parts reused)            "
               f"{(time.perf_counter() - start) / n * 1e6:6.2f} µs")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--policy", default="cloudtalk")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--no-log", action="store_true")
    ap.add_argument("--reps", type=int, default=1, help="interleaved runs; medians reported")
    ap.add_argument("--dir", help="where the corpus and outputs go (default: a temp folder)")
    args = ap.parse_args()
    cp = load_policy(args.policy)
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-batch-"))
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "tickets.jsonl"
    n = args.tickets
    print(f"{n:,} tickets, policy {args.policy}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}")
    write_corpus(cp, n, corpus)
    print(f"corpus: {corpus.stat().st_size / 1e6:,.0f} MB")
    out, log = folder / "out.jsonl", folder / "decisions.db"
    sizes: dict[str, int] = {}

    def batch(label: str, target: Path, *extra: str) -> Callable[[], tuple[float, float | None]]:
        def run() -> tuple[float, float | None]:
            for old in (log, log.with_name(log.name + "-wal"), log.with_name(log.name + "-shm")):
                old.unlink(missing_ok=True)
            wall, cpu = command(args.policy, corpus, str(target), *extra)
            if target.is_dir() or "*" in str(target):
                shutil.rmtree(target.parent if "*" in str(target) else target)
            else:
                sizes[label] = target.stat().st_size
                target.unlink()
            if log.exists():
                sizes[label + " log"] = log.stat().st_size
            return wall, cpu if "1" in extra[:2] else None
        return run

    variants: list[tuple[str, Callable[[], tuple[float, float | None]]]] = [
        ("(a) core: evaluate_many, parsed tickets", lambda: core(cp, corpus)),
        ("(r) record: timeline + encoding, parsed", lambda: record(cp, corpus)),
        ("floor: read, parse, write back", lambda: _floor(corpus, out)),
        ("floor+: read, parse, write a record", lambda: floor_records(cp, corpus, out)),
        ("(b) batch --workers 1", batch("b", out, "--workers", "1")),
        ("(c) batch --workers 2", batch("c", out, "--workers", "2"))]
    if not args.no_log:
        variants += [("(b log) batch --workers 1 --log", batch("b", out, "--workers", "1",
                                                                "--log", str(log))),
                     ("(c log) batch --workers 2 --log", batch("c", out, "--workers", "2",
                                                                "--log", str(log)))]
    if not args.no_dask:
        variants.append(("(d) batch --dask local --workers 2",
                         batch("d", folder / "parts" / "part-*.jsonl", "--dask", "local",
                               "--workers", "2")))
    runs: dict[str, list[tuple[float, float | None]]] = {label: [] for label, _ in variants}
    for rep in range(args.reps):
        for label, fn in variants:
            runs[label].append(fn())
            print(f"  rep {rep + 1} {label:<40} {n / runs[label][-1][0]:>10,.0f} lines/s",
                  flush=True)
    rows = [(label, (statistics.median(w for w, _ in r),
                     statistics.median(c for _, c in r) if r[0][1] is not None else None))
            for label, r in runs.items()]
    if "b" in sizes:
        print(f"output: {sizes['b'] / 1e6:,.0f} MB ({sizes['b'] / n:,.0f} bytes per line)"
              + (f"; decision log: {sizes['b log'] / 1e6:,.0f} MB" if "b log" in sizes else ""))
    print(f"medians of {args.reps} interleaved run(s):")
    rate = {label.split(")")[0] + ")": n / wall for label, (wall, _) in rows}
    for label, (wall, cpu) in rows:
        spent = (f"{cpu:6.1f} s CPU: {n / cpu:,.0f} lines per CPU second" if cpu else
                 "CPU n/a: several processes")
        print(f"  {label:<40} {n / wall:>10,.0f} lines/s  ({wall:6.1f} s wall, {spent})")
    goals = [("(b)/(a)", "(b)", "(a)", 0.6), ("(c)/(b)", "(c)", "(b)", 1.8),
             ("(d)/(c)", "(d)", "(c)", 0.8), ("(b log)/(b)", "(b log)", "(b)", 0.7),
             ("(c log)/(c)", "(c log)", "(c)", 0.7), ("(b)/(r)", "(b)", "(r)", None)]
    for name, top, bottom, goal in goals:
        if top in rate and bottom in rate:
            ratio = rate[top] / rate[bottom]
            verdict = "for reference" if goal is None else \
                f"goal >= {goal}: {'met' if ratio >= goal else 'NOT met'}"
            print(f"  {name} = {ratio:.2f}  ({verdict})")
    cpu = {label.split(")")[0] + ")": c for label, (_, c) in rows if c}
    if "(a)" in cpu and "(b)" in cpu:
        print(f"  (b)/(a) by CPU time (what a busy machine does not distort as much) = "
              f"{cpu['(a)'] / cpu['(b)']:.2f}; (b)/(r) by CPU time = "
              f"{cpu['(r)'] / cpu['(b)']:.2f}")
    print("json libraries on these lines (best of 3):")
    for line in json_libraries(cp):
        print(line)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if not args.dir:
        shutil.rmtree(folder)


def _floor(corpus: Path, out: Path) -> tuple[float, float]:
    took = floor(corpus, out)
    out.unlink()
    return took


if __name__ == "__main__":
    main()
