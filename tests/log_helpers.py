"""Helpers for the decision-log tests: generated tickets, logs of N decisions, golden examples."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine import Evaluator, bundled, load_policy
from engine.check.tickets import parse_timestamp
from engine.ops.log import DecisionLog, Entry
from engine.timeline.evaluator import TimelineEvaluator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
GOLDEN = ROOT / "tests" / "golden" / "decisions"
NOW = parse_timestamp("2026-11-21T12:00:00+00:00")   # the golden decisions' `now`
START = datetime(2026, 1, 1, tzinfo=UTC)
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", None]


def policy_of(example: Path) -> str:
    ids = sorted(bundled(), key=len, reverse=True)
    return next(pid for pid in ids if example.stem.startswith(pid + "-"))


def tickets(cp, n: int, seed: int = 1, prefix: str = "T") -> list[dict]:
    """Valid tickets drawing every fact the rules read from its values (or leaving it out),
    with random submission and first-response times."""
    rnd = random.Random(seed)
    policy = cp.policy
    out = []
    for i in range(n):
        submitted = START + timedelta(seconds=rnd.randrange(300 * 86400))
        t: dict = {"id": f"{prefix}-{i}", "submitted_at": submitted.isoformat()}
        if rnd.random() < 0.4:
            t["first_response_at"] = (submitted + timedelta(minutes=rnd.randrange(1, 3000))
                                      ).isoformat()
        for path in cp.key_paths:
            spec = policy.facts[path]
            if spec.type == "level":
                value = rnd.choice([*policy.levels, None])
            elif spec.type == "plan":
                value = rnd.choice(list(policy.plans))
            elif spec.type == "boolean":
                value = rnd.random() < 0.8
            elif spec.type == "targets":
                value = rnd.choice([{lvl: f"PT{2 * (k + 1)}H" for k, lvl in
                                     enumerate(policy.levels)}, None])
            elif spec.enum:
                value = rnd.choice([*spec.enum, None])
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
        out.append(t)
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
