"""Replay: re-evaluate every logged decision under its logged policy source and `now`.

The log alone is enough: each record's policy is rebuilt from the source files stored under its
source digest (written to a scratch folder, loaded, checked against the logged digest), the
ticket from the facts the record holds, and the engine runs again (no decision cache). Every
decision that differs from the logged one is reported with the fields that differ and both
traces' differing steps.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from engine.check.tickets import parse_timestamp
from engine.compile.compiler import CompiledPolicy
from engine.compile.pipeline import load_policy
from engine.core.diagnostics import DiagnosticError
from engine.ops.log.query import LogReader, LogRecord, Search
from engine.run.errors import EvaluationError, TicketError
from engine.run.evaluator import Evaluator
from engine.timeline.evaluator import TimelineEvaluator

PROGRESS_EVERY = 100   # records between two calls of a replay's `progress`


class Difference(NamedTuple):
    """A decision that replays differently: which top-level fields, which trace steps (each
    pair: the logged step and the replayed one, None where a trace is shorter)."""

    seq: int
    decision_id: str
    ticket_id: str
    fields: tuple[str, ...]
    steps: tuple[tuple[dict | None, dict | None], ...]

    def to_json(self) -> dict:
        return {"seq": self.seq, "decision_id": self.decision_id, "ticket_id": self.ticket_id,
                "fields": list(self.fields),
                "steps": [{"logged": a, "replayed": b} for a, b in self.steps]}


class NotReplayed(NamedTuple):
    """A record that could not be replayed, and why."""

    seq: int
    decision_id: str
    ticket_id: str
    message: str

    def to_json(self) -> dict:
        return self._asdict()


@dataclass
class ReplayReport:
    records: int = 0
    reproduced: int = 0
    differences: list[Difference] = field(default_factory=list)
    not_replayed: list[NotReplayed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.not_replayed

    def to_json(self) -> dict:
        return {"ok": self.ok, "records": self.records, "reproduced": self.reproduced,
                "differences": [d.to_json() for d in self.differences],
                "not_replayed": [n.to_json() for n in self.not_replayed]}


def ticket_of(facts: dict) -> dict:
    """The ticket a record's facts (path → value) stand for, nested again."""
    ticket: dict = {}
    for path, value in facts.items():
        *parents, leaf = path.split(".")
        node = ticket
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return ticket


def compare(logged: dict, replayed: dict) -> tuple[tuple[str, ...], tuple]:
    """The top-level fields that differ, and the trace steps that differ (by position)."""
    fields = tuple(k for k in dict.fromkeys([*logged, *replayed])
                   if logged.get(k) != replayed.get(k))
    a, b = logged.get("trace") or [], replayed.get("trace") or []
    steps = tuple((a[i] if i < len(a) else None, b[i] if i < len(b) else None)
                  for i in range(max(len(a), len(b)))
                  if (a[i] if i < len(a) else None) != (b[i] if i < len(b) else None))
    return fields, steps


class _Policies:
    """Policies rebuilt from stored sources, once per source digest."""

    def __init__(self, reader: LogReader, scratch: Path):
        self.reader = reader
        self.scratch = scratch
        self.built: dict[str, CompiledPolicy | str] = {}

    def get(self, record: dict) -> CompiledPolicy | str:
        """The compiled policy of a record, or why it cannot be rebuilt."""
        p = record["policy"]
        digest = p["source_digest"]
        if digest not in self.built:
            self.built[digest] = self._build(digest, p)
        return self.built[digest]

    def _build(self, digest: str, p: dict) -> CompiledPolicy | str:
        source = self.reader.source(digest)
        if source is None:
            return f"the log holds no policy source `{digest[:19]}…`"
        folder = self.scratch / digest[7:23] / p["id"]
        try:
            cp = load_policy(source.write_to(folder))
        except DiagnosticError as exc:
            return f"the stored source of `{p['id']}` {p['version']} no longer loads: " + \
                "; ".join(d.message for d in exc.diagnostics[:3])
        if cp.digest != p["digest"]:
            return f"the stored source of `{p['id']}` compiles to digest `{cp.digest[:19]}…`, " \
                   f"not the logged `{p['digest'][:19]}…`"
        return cp


def replay(path: str | os.PathLike, *, since: str | None = None, policy: str | None = None,
           evaluator: Evaluator | None = None, max_reported: int = 100,
           progress: Callable[[int], None] | None = None) -> ReplayReport:
    """Replay the records of the log at `path` (logged at or after `since`, of policy id
    `policy`); LogError if it holds no log, ValueError for a bad `since`. `progress(n)` is
    told the records replayed so far, every PROGRESS_EVERY and at the end."""
    report = ReplayReport()
    own = evaluator is None
    run = evaluator or Evaluator()
    timeline = TimelineEvaluator(run)  # follows logged events too
    try:
        with LogReader(path) as reader, tempfile.TemporaryDirectory(prefix="replay-") as tmp:
            policies = _Policies(reader, Path(tmp))
            for rec in reader.search(Search(policy=policy, since=since)):
                report.records += 1
                _replay_one(rec, policies, timeline, report, max_reported)
                if progress is not None and not report.records % PROGRESS_EVERY:
                    progress(report.records)
            if progress is not None:
                progress(report.records)
    finally:
        if own:
            run.close()
    return report


def replay_record(path: str | os.PathLike, rec: LogRecord, *,
                  evaluator: Evaluator | None = None) -> ReplayReport:
    """Replay one record of the log at `path` as `replay` does (a report of one record:
    reproduced, differing, or not replayed and why); LogError if it holds no log."""
    report = ReplayReport(records=1)
    own = evaluator is None
    run = evaluator or Evaluator()
    try:
        with LogReader(path) as reader, tempfile.TemporaryDirectory(prefix="replay-") as tmp:
            _replay_one(rec, _Policies(reader, Path(tmp)), TimelineEvaluator(run), report, 1)
    finally:
        if own:
            run.close()
    return report


def stored_policy(path: str | os.PathLike, rec: LogRecord) -> CompiledPolicy | str:
    """The policy a record was decided by, rebuilt from the source the log at `path` stores,
    or why it cannot be; LogError if it holds no log."""
    with LogReader(path) as reader, tempfile.TemporaryDirectory(prefix="replay-") as tmp:
        return _Policies(reader, Path(tmp)).get(rec.record)


def _replay_one(rec: LogRecord, policies: _Policies, evaluator: TimelineEvaluator,
                report: ReplayReport, max_reported: int) -> None:
    r = rec.record
    cp = policies.get(r)

    def fail(message: str) -> None:
        report.not_replayed.append(NotReplayed(rec.seq, r["decision_id"], r["ticket_id"],
                                               message))

    if isinstance(cp, str):
        fail(cp)
        return
    try:
        now = parse_timestamp(r["now"]) if r["now"] is not None else None
        decision = evaluator.evaluate(cp, ticket_of(r["facts"]), now=now, cache=False)
    except (TicketError, EvaluationError, ValueError) as exc:
        fail(f"re-evaluation failed: {exc}")
        return
    replayed = decision.with_request_id(r["request_id"]).to_json()
    logged = rec.decision_json
    if "ignored_fields" in logged:  # keys the decision did not read are not logged: as given
        replayed["ignored_fields"] = logged["ignored_fields"]
    if replayed == logged:
        report.reproduced += 1
        return
    fields, steps = compare(logged, replayed)
    report.differences.append(Difference(rec.seq, r["decision_id"], r["ticket_id"], fields,
                                         steps if len(report.differences) < max_reported else ()))
