"""The corpus part: each ticket decided under both versions, changed decisions grouped.

Both versions decide the corpus through the batch engine (`engine.ops.batch.run_batch` here, or
a host's process pool or Dask cluster via a `Decide` callable); the diff compares the two
streams of output records line by line, so every host gives the same report."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from engine.core.decision import Decision
from engine.core.diagnostics import Diagnostic
from engine.ops.batch import run_batch
from engine.ops.diff.semantic import signature
from engine.ops.diff.sources import Side
from engine.ops.diff.words import value
from engine.ops.log.query import LogReader, Search
from engine.ops.replay import ticket_of
from engine.run.evaluator import Evaluator

SAMPLES = 3

class DecideError(Exception):
    """A host could not decide the corpus: `status` "input_error" or "failed"."""

    def __init__(self, status: str, diagnostics: Iterable[Diagnostic]):
        super().__init__(status)
        self.status = status
        self.diagnostics = tuple(diagnostics)


#: A host's way to decide a JSONL corpus file under one side: its output records, in order.
Decide = Callable[[Side, str], Iterable[bytes]]


def _steps(decision: Decision | None) -> list[str]:
    if decision is None:
        return ["(rejected)"]
    return [f"{e.rule or e.kind}: " + ", ".join(f"{c.field} {value(c.before)} → "
                                                f"{value(c.after)}" for c in e.changes)
            for e in decision.outcome.trace if e.changes]


def differing_steps(od: Decision | None, nd: Decision | None) -> tuple[list[str], list[str]]:
    """The trace steps that differ, position by position (as `replay` compares traces)."""
    a, b = _steps(od), _steps(nd)
    pairs = [(a[i] if i < len(a) else "", b[i] if i < len(b) else "")
             for i in range(max(len(a), len(b)))]
    kept = [(x, y) for x, y in pairs if x != y]
    return [x for x, _ in kept if x], [y for _, y in kept if y]


@dataclass
class Group:
    """Changed decisions sharing (old → new) of every changed field."""

    key: str
    old: dict
    new: dict
    count: int = 0
    samples: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"key": self.key, "old": self.old, "new": self.new, "tickets": self.count,
                "samples": self.samples}


@dataclass(frozen=True)
class CorpusDiff:
    tickets: int
    changed: int
    groups: tuple[Group, ...]
    rejected: int = 0      # lines both versions reject (not counted as changes)

    def to_json(self) -> dict:
        return {"tickets": self.tickets, "changed": self.changed, "rejected": self.rejected,
                "groups": [g.to_json() for g in self.groups]}


class _Lines(list):
    """A sink keeping each record line written to it."""

    write = list.append


def decide_here(side: Side, lines: Iterable[bytes | str],
                evaluator: Evaluator | None = None) -> list[bytes]:
    """`lines` decided under `side` in this process: one output record per input line."""
    out = _Lines()
    run_batch(lines, out, evaluator or Evaluator(), policy=side.compiled,
              source_name="<corpus>")
    return b"".join(out).splitlines()


def _record(line: bytes | str) -> tuple[str | None, Decision | None]:
    data = json.loads(line)
    if "problems" in data:
        return data.get("ticket_id"), None
    return data.get("ticket_id"), Decision.from_json(data)


def _sig(d: Decision | None) -> dict:
    out = signature(d)
    if d is not None:
        out["due_at"] = d.sla.due_at.isoformat() if d.sla else None
    return out


def compare_records(old: Iterable[bytes | str], new: Iterable[bytes | str]) -> CorpusDiff:
    """Two versions' batch output records (one per corpus line, same order), grouped by what
    changes: (old → new) priority and every other changed field."""
    groups: dict[str, Group] = {}
    tickets = changed = rejected = 0
    for oline, nline in zip(old, new, strict=True):
        tickets += 1
        (tid, od), (_, nd) = _record(oline), _record(nline)
        a, b = _sig(od), _sig(nd)
        if a == b:
            rejected += od is None
            continue
        changed += 1
        keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        key = f"{a.get('priority')} → {b.get('priority')}; " + ", ".join(keys)
        group = groups.setdefault(key, Group(key, {k: a.get(k) for k in keys if k != "due_at"},
                                             {k: b.get(k) for k in keys if k != "due_at"}))
        group.count += 1
        if len(group.samples) < SAMPLES:
            old_steps, new_steps = differing_steps(od, nd)
            group.samples.append({"ticket": str(tid), "due_at": [a.get("due_at"),
                                                               b.get("due_at")],
                                  "old_steps": old_steps, "new_steps": new_steps})
    ordered = sorted(groups.values(), key=lambda g: (-g.count, g.key))
    return CorpusDiff(tickets, changed, tuple(ordered), rejected)


def corpus_diff(old: Side, new: Side, lines: Iterable[bytes | str],
                evaluator: Evaluator | None = None) -> CorpusDiff:
    """Decide the corpus `lines` under both versions in this process and compare."""
    lines = list(lines)
    evaluator = evaluator or Evaluator()
    return compare_records(decide_here(old, lines, evaluator),
                           decide_here(new, lines, evaluator))


def file_lines(path: str) -> Iterator[bytes]:
    """A corpus file's lines (OSError when unreadable)."""
    with open(path, "rb") as f:
        yield from f


def log_tickets(path: str, policy_id: str) -> Iterator[str]:
    """The tickets a decision log decided under `policy_id`, rebuilt from the facts each record
    keeps (JSONL lines; LogError when `path` holds no log)."""
    with LogReader(path) as reader:
        for rec in reader.search(Search(policy=policy_id)):
            yield json.dumps(ticket_of(rec.record["facts"]), ensure_ascii=False)
