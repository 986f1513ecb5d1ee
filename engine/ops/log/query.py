"""Reading a decision log: records by id, seq or ticket; search; the stored policy sources.

Readers open the file read-only and never take the write lock; they see every committed record
(WAL snapshots) while writers append.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from functools import cached_property
from typing import NamedTuple

from engine.check.tickets import parse_timestamp
from engine.core.decision import Decision
from engine.ops.log.records import decision_of, sla_status
from engine.ops.log.sources import PolicySource
from engine.ops.log.store import connect_readonly, schema_version

SLA_STATUSES = ("none", "met", "breached", "overdue", "open")
#: a ticket's records (two parameters: the ticket id twice) through `schema.TICKET_INDEX`: the
#: expression as the index has it; `+` keeps SQLite from preferring a scan for `ticket_id`
TICKET_WHERE = ("substr(ticket_id, -1) = substr(?, -1) AND +ticket_id = ?", 2)


@dataclass(frozen=True)
class LogRecord:
    """One stored record, with the outcome it names."""

    seq: int
    hash: str
    prev_hash: str
    record: dict
    outcome: dict

    @property
    def trace(self) -> list:
        return self.outcome["trace"]

    @property
    def decision_json(self) -> dict:
        """The decision JSON exactly as it was made."""
        return decision_of(self.record, self.outcome)

    def decision(self) -> Decision:
        return Decision.from_json(self.decision_json)

    @property
    def rules(self) -> list[str]:
        """The rules that fired, in order."""
        return [e["rule"] for e in self.trace if e.get("rule")]

    def summary(self) -> dict:
        """The fields `log search` shows."""
        r, d = self.record, self.record["decision"]
        return {"seq": self.seq, "decision_id": r["decision_id"], "logged_at": r["logged_at"],
                "ticket_id": r["ticket_id"], "request_id": r["request_id"],
                "policy": r["policy"]["id"], "version": r["policy"]["version"],
                "priority": self.outcome["priority"], "sla": sla_status(d["sla"]),
                "due_at": (d["sla"] or {}).get("due_at"), "rules": self.rules}

    def export(self) -> dict:
        """One JSONL line of `log export`: the chain fields, the record, its outcome."""
        return {"seq": self.seq, "prev_hash": self.prev_hash, "hash": self.hash,
                "record": self.record, "outcome": self.outcome}


class Search(NamedTuple):
    """`log search` filters; every one given must hold. Times are RFC 3339 (`logged_at`)."""

    ticket: str | None = None
    policy: str | None = None
    version: str | None = None
    priority: str | None = None
    rule: str | None = None
    sla: str | None = None
    since: str | None = None      # logged at or after
    until: str | None = None      # logged before
    limit: int | None = None


def utc_ms(text: str) -> str:
    """An RFC 3339 instant as the log writes `logged_at` (UTC, milliseconds): comparable as
    text. ValueError with a one-line reason."""
    at = parse_timestamp(text).astimezone(UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AmbiguousId(ValueError):
    """An id that names several records: `ids` decision ids start with it, and it is also
    seq `seq` (or None)."""

    def __init__(self, ident: str, ids: int, seq: int | None):
        self.ident, self.ids, self.seq = ident, ids, seq
        what = f"{ids} decision ids start with it" if ids > 1 else "a decision id starts with it"
        super().__init__(f"`{ident}` names {ids + (seq is not None)} records: {what}"
                         + (f" and it is seq {seq}" if seq is not None else ""))


_SELECT = "SELECT seq, hash, prev_hash, record, outcome FROM records JOIN outcomes " \
          "ON outcomes.digest = records.outcome_digest"


class LogReader:
    """A read-only view of a log (LogError if `path` holds none)."""

    def __init__(self, path: str | os.PathLike):
        self.path = path
        self.conn = connect_readonly(path)

    def close(self) -> None:
        self.conn.close()

    @cached_property
    def _ticket(self) -> tuple[str, int]:
        """The clause finding a ticket's records, and how many times it takes the id: through
        `records_ticket_tail` in a log of schema 3; through its index on ticket_id in an older
        one (read, not yet migrated by a writer). Asked only by the lookups that need it."""
        return TICKET_WHERE if (schema_version(self.conn, self.path) or 0) >= 3 else \
            ("ticket_id = ?", 1)

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, where: str = "", args: tuple = (), tail: str = "") -> Iterator[LogRecord]:
        for seq, digest, prev, record, outcome in self.conn.execute(
                f"{_SELECT} {where} ORDER BY seq {tail}", args):
            yield LogRecord(seq, digest, prev, json.loads(record), json.loads(outcome))

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM records").fetchone()[0]

    def by_seq(self, seq: int) -> LogRecord | None:
        return next(self._rows("WHERE seq = ?", (seq,)), None) if 0 < seq < 1 << 63 else None

    def get(self, ident: str) -> LogRecord | None:
        """The record `ident` names: a decision id or a unique prefix of one; or, digits only,
        a seq when no decision id starts with it. None when it names none; AmbiguousId when it
        names several (`by_seq` reads a seq alone)."""
        span = (ident, ident + "\U0010ffff")
        ids = self.conn.execute("SELECT count(*) FROM records WHERE decision_id >= ? AND "
                                "decision_id < ?", span).fetchone()[0]
        seq = self.by_seq(int(ident)) if ident.isascii() and ident.isdigit() else None
        if ids + (seq is not None) > 1:
            raise AmbiguousId(ident, ids, seq.seq if seq else None)
        if seq is not None or not ids:
            return seq
        return next(self._rows("WHERE decision_id >= ? AND decision_id < ?", span))

    def for_ticket(self, ticket_id: str) -> list[LogRecord]:
        where, n = self._ticket
        return list(self._rows(f"WHERE {where}", (ticket_id,) * n))

    def search(self, s: Search) -> Iterator[LogRecord]:
        """The records every given filter holds for, in log order (ValueError for a bad
        time)."""
        where, args = [], []
        if s.ticket is not None:
            clause, n = self._ticket
            where.append(clause)
            args += [s.ticket] * n
        for column, value in (("policy_id", s.policy),
                              ("policy_version", s.version), ("priority", s.priority),
                              ("sla_status", s.sla)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if s.since is not None:
            where.append("logged_at >= ?")
            args.append(utc_ms(s.since))
        if s.until is not None:
            where.append("logged_at < ?")
            args.append(utc_ms(s.until))
        if s.rule is not None:
            where.append("outcome_digest IN (SELECT digest FROM outcomes WHERE EXISTS (SELECT 1 "
                         "FROM json_each(outcomes.outcome, '$.trace') "
                         "WHERE json_extract(value, '$.rule') = ?))")
            args.append(s.rule)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        tail = f"LIMIT {int(s.limit)}" if s.limit is not None else ""
        return self._rows(clause, tuple(args), tail)

    def source(self, digest: str) -> PolicySource | None:
        """A stored policy source, its files read back."""
        row = self.conn.execute("SELECT manifest FROM sources WHERE digest = ?",
                                (digest,)).fetchone()
        if row is None:
            return None
        manifest = json.loads(row[0])
        files = {}
        for path, sha in manifest["files"].items():
            blob = self.conn.execute("SELECT bytes FROM blobs WHERE digest = ?", (sha,)).fetchone()
            if blob is None:
                return None
            files[path] = bytes(blob[0])
        return PolicySource(digest, manifest["policy"], files)

    def known_digests(self) -> dict[tuple[str, str], list[str]]:
        """(policy id, version) → every policy digest the log holds decisions of."""
        out: dict[tuple[str, str], list[str]] = {}
        for pid, version, digest in self.conn.execute(
                "SELECT DISTINCT policy_id, policy_version, policy_digest FROM sources "
                "ORDER BY policy_id, policy_version, policy_digest"):
            out.setdefault((pid, version), []).append(digest)
        return out


def batch_progress(path: str | os.PathLike, run: str) -> int:
    """The input line through which batch run `run`'s decided lines are all in the log at
    `path` (0: none; committed with each chunk's records, see `DecisionLog.append_prepared`)."""
    conn = connect_readonly(path)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'batch_runs'").fetchone():
            return 0   # a log of schema 1, not yet opened for writing by this version
        row = conn.execute("SELECT line FROM batch_runs WHERE run = ?", (run,)).fetchone()
        return row[0] if row else 0
    finally:
        conn.close()
