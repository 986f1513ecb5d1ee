"""The decision log's tables (docs/decision-log.md#the-file): the version-1 schema a new log is
created with, and the migrations after it, applied in order when a writer opens an older log."""

from __future__ import annotations

SCHEMA_VERSION = 3
SCHEMA = [
    "CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, "
    "hash TEXT NOT NULL, logged_at TEXT NOT NULL)",
    "CREATE TABLE records (seq INTEGER PRIMARY KEY, decision_id TEXT NOT NULL UNIQUE, "
    "logged_at TEXT NOT NULL, ticket_id TEXT NOT NULL, request_id TEXT, "
    "policy_id TEXT NOT NULL, policy_version TEXT NOT NULL, priority TEXT, "
    "sla_status TEXT NOT NULL, source_digest TEXT NOT NULL, outcome_digest TEXT NOT NULL, "
    "record TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE INDEX records_ticket ON records (ticket_id)",
    "CREATE TABLE outcomes (digest TEXT PRIMARY KEY, outcome TEXT NOT NULL)",
    "CREATE TABLE blobs (digest TEXT PRIMARY KEY, bytes BLOB NOT NULL)",
    "CREATE TABLE sources (digest TEXT PRIMARY KEY, policy_id TEXT NOT NULL, "
    "policy_version TEXT NOT NULL, policy_digest TEXT NOT NULL, manifest TEXT NOT NULL)",
]
#: The records of a ticket, found by the last character of its id, then in log order. An index
#: on `ticket_id` alone takes each new record's id at a random place: with 1,000 records a
#: commit, every commit dirtied (and wrote to the WAL, then to the file) most of its pages, so
#: a record cost ever more as the log grew — 12.6 µs of CPU and 3.3 KiB of WAL a record on an
#: empty log, 26.4 µs and 15.5 KiB at 600,000 records. Ordered by (last character, seq), a new
#: entry goes at the end of one of a few dozen runs: 6.8–8.6 µs and 4.5 KiB a record whatever
#: the log's size (measured 2026-12-03). A lookup reads its run's entries (~3 ms at 600,000
#: records); queries name the expression as written here (`query.TICKET_WHERE`).
TICKET_INDEX = "CREATE INDEX records_ticket_tail ON records (substr(ticket_id, -1), seq, ticket_id)"
#: Schema changes after version 1: version -> statements (applied in order, in one transaction).
MIGRATIONS: dict[int, list[str]] = {
    # how far each batch run's records reach (written with them): `--resume` logs no line twice
    2: ["CREATE TABLE batch_runs (run TEXT PRIMARY KEY, line INTEGER NOT NULL, "
        "seq INTEGER NOT NULL)"],
    # records by ticket through an index that grows at a few ends: see TICKET_INDEX
    3: ["DROP INDEX IF EXISTS records_ticket", TICKET_INDEX],
}
