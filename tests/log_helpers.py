"""Helpers for the decision-log tests: generated tickets, logs of N decisions, golden examples."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

from benchmarks.bench_evaluate import START, generate
from engine import Evaluator, bundled, load_policy
from engine.check.tickets import parse_timestamp
from engine.ops.log import DecisionLog, Entry
from engine.timeline.evaluator import TimelineEvaluator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
GOLDEN = ROOT / "tests" / "golden" / "decisions"
NOW = parse_timestamp("2026-11-21T12:00:00+00:00")   # the golden decisions' `now`


def policy_of(example: Path) -> str:
    ids = sorted(bundled(), key=len, reverse=True)
    return next(pid for pid in ids if example.stem.startswith(pid + "-"))


def tickets(cp, n: int, seed: int = 1, prefix: str = "T") -> list[dict]:
    """Valid tickets from the benchmarks' generator, every fact the rules read drawn uniformly
    from its values (or left out), with random submission times and zones; named
    `prefix-0`, `prefix-1`...; submitted before NOW (the first 300 days of 2026), 40% of them
    with a first response."""
    rnd = random.Random(seed)
    out = generate(cp, n, rnd, skew=0)
    for i, t in enumerate(out):
        t["id"] = f"{prefix}-{i}"
        submitted = START + timedelta(seconds=rnd.randrange(300 * 86400))
        t["submitted_at"] = submitted.isoformat()
        if rnd.random() < 0.4:
            t["first_response_at"] = (submitted + timedelta(minutes=rnd.randrange(1, 3000))
                                      ).isoformat()
    return out


def build_log(path: Path, n: int, *, seed: int = 1, chunk: int = 250,
              policies: tuple[str, ...] | None = None, now=NOW) -> list[str]:
    """A log of `n` decisions spread over the bundled policies; their decision ids in order."""
    ids = list(policies or bundled())
    compiled = {pid: load_policy(pid) for pid in ids}
    run = Evaluator()
    evaluator = TimelineEvaluator(run)
    decision_ids = []
    with DecisionLog.open(path) as log:
        for lo in range(0, n, chunk):
            entries = []
            for k in range(lo, min(n, lo + chunk)):
                cp = compiled[ids[k % len(ids)]]
                ticket = tickets(cp, 1, seed=seed * 100_003 + k, prefix=f"{cp.id}-{k}")[0]
                decision = evaluator.evaluate(cp, ticket, now=now)
                entries.append(Entry(decision, cp, ticket, f"req-{k}" if k % 3 == 0 else None))
            decision_ids += [r.decision_id for r in log.append_many(entries)]
    run.close()
    return decision_ids


def example_entries(evaluator: Evaluator | TimelineEvaluator) -> list[tuple]:
    """(decision, policy, ticket, golden JSON) of every example ticket, decided as
    `engine.evaluate` does (following events: history and clocks)."""
    if isinstance(evaluator, Evaluator):
        evaluator = TimelineEvaluator(evaluator)
    out = []
    for example in EXAMPLES:
        cp = load_policy(policy_of(example))
        ticket = json.loads(example.read_text("utf-8"))
        golden = json.loads((GOLDEN / f"{example.stem}.json").read_text("utf-8"))
        now = NOW if parse_timestamp(ticket["submitted_at"]) <= NOW else None  # as the goldens
        out.append((evaluator.evaluate(cp, ticket, now=now), cp, ticket, golden))
    return out
