"""The decision log as the UI reads it: the log the service keeps (when it has one), searched,
one record opened, its chain status, and one record replayed. Read-only: the pages open the
file through `LogReader` (SQLite read-only connections)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request

from engine.compile.compiler import CompiledPolicy
from engine.ops.log import DecisionLog
from engine.ops.log.chain import verify
from engine.ops.log.query import SLA_STATUSES, AmbiguousId, LogReader, LogRecord, Search
from engine.ops.log.store import GENESIS
from engine.ops.replay import replay_record, stored_policy

FILTERS = ("ticket", "policy", "version", "priority", "rule", "sla", "since", "until")
LIMIT = 200
__all__ = ["FILTERS", "LIMIT", "SLA_STATUSES", "chain", "get", "log_path", "policy_of",
           "record_view", "replay_one", "search", "writable_log"]


def _log_object(request: Request) -> object:
    """The service's decision log: a `DecisionLog` on the app's state or the service, or the
    path its configuration names (`serve --log`); None without one."""
    state = request.app.state
    svc = state.service
    for holder in (state, svc):
        found = getattr(holder, "log", None)
        if found is not None:
            return found
    return getattr(svc.config, "log", None)


def log_path(request: Request) -> Path | None:
    found = _log_object(request)
    if found is None:
        return None
    return Path(getattr(found, "path", found))  # type: ignore[arg-type]


def writable_log(request: Request) -> DecisionLog | None:
    found = _log_object(request)
    return found if isinstance(found, DecisionLog) else None


def search(path: Path, filters: dict[str, str]) -> tuple[list[dict], bool, int]:
    """The first LIMIT records (in log order) every filter holds for, whether there are more,
    and how many records the log holds; ValueError for a bad time."""
    f = filters.get
    s = Search(ticket=f("ticket"), policy=f("policy"), version=f("version"),
               priority=f("priority"), rule=f("rule"), sla=f("sla"), since=f("since"),
               until=f("until"), limit=LIMIT + 1)
    with LogReader(path) as reader:
        rows = [r.summary() for r in reader.search(s)]
        total = reader.count()
    return rows[:LIMIT], len(rows) > LIMIT, total


def get(path: Path, ident: str) -> LogRecord | None:
    with LogReader(path) as reader:
        try:
            return reader.get(ident)
        except AmbiguousId:   # the UI links full decision ids
            return None


def record_view(rec: LogRecord) -> dict:
    r = rec.record
    return {"seq": rec.seq, "hash": rec.hash, "prev_hash": rec.prev_hash,
            "decision_id": r["decision_id"], "logged_at": r["logged_at"],
            "ticket_id": r["ticket_id"], "request_id": r.get("request_id"),
            "policy": r["policy"], "facts": r.get("facts") or {}, "audit": r.get("audit") or {},
            "now": r.get("now")}


def chain(path: Path, rec: LogRecord, full: bool = False) -> dict:
    """Whether the record is linked to the one before it (its `prev_hash` is that record's
    hash) and, with `full`, whether the hash chain and every digest hold over the whole log."""
    with LogReader(path) as reader:
        before = reader.by_seq(rec.seq - 1) if rec.seq > 1 else None
    linked = rec.prev_hash == (before.hash if before is not None else GENESIS)
    out = {"linked": linked, "verified": None, "records": 0, "head": 0, "problem": ""}
    if full:
        report = verify(path, max_problems=1)
        problem = report.problems[0] if report.problems else None
        out.update(verified=report.ok, records=report.records, head=report.head[0],
                   problem=str(problem) if problem else "")
    return out


_rebuilt: dict[str, CompiledPolicy | str] = {}


def policy_of(path: Path, rec: LogRecord) -> CompiledPolicy | None:
    """The policy a record was decided by, rebuilt from the source the log stores."""
    digest = rec.record["policy"].get("source_digest", "")
    if digest not in _rebuilt:
        _rebuilt[digest] = stored_policy(path, rec)
        if len(_rebuilt) > 32:
            _rebuilt.pop(next(iter(_rebuilt)))
    found = _rebuilt[digest]
    return found if isinstance(found, CompiledPolicy) else None


def replay_one(path: Path, rec: LogRecord, evaluator) -> dict:
    """Replay one record as `log replay` does: does it still reproduce, byte for byte?"""
    report = replay_record(path, rec, evaluator=evaluator)
    if report.reproduced:
        return {"ok": True, "text": "reproduces: the stored policy decides this record's facts "
                                    "exactly as logged"}
    if report.not_replayed:
        return {"ok": False, "text": f"not replayed: {report.not_replayed[0].message}"}
    diff = report.differences[0]
    return {"ok": False, "text": "differs in " + ", ".join(diff.fields),
            "steps": [{"logged": a, "replayed": b} for a, b in diff.steps]}
