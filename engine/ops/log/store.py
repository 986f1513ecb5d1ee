"""The decision log's SQLite store: schema, migrations, and the one writer path.

One SQLite file in WAL mode with `synchronous=FULL`: a transaction is on disk (the WAL synced)
when COMMIT returns, so `append` and `append_many` return only once their records are durable,
and a failed write (read-only file, full disk, lock held too long) raises `LogError` with
nothing of it visible.

Several processes may write one log, each through its own `DecisionLog`: every commit takes
the writers' lock (`flock` on the log file: the kernel wakes the next writer as soon as it is
free), then SQLite's write lock (`BEGIN IMMEDIATE`, waiting up to `busy_timeout`), reads the
chain's head, and appends after it. Within a process, concurrent `append` calls from several
threads are group-committed: whoever finds no commit in progress writes every waiting record
in one transaction (one fsync) while the others wait for it.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from engine.compile.compiler import CompiledPolicy
from engine.core.decision import Decision, canonical_json
from engine.core.diagnostics import Diagnostic, Location
from engine.ops.log.bulk import insert_outcomes, insert_records, link, note_batches
from engine.ops.log.records import Prepared, prepare
from engine.ops.log.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from engine.ops.log.sources import PolicySource, SourceError, source_of, version_warning

GENESIS = "0" * 64           # the `prev_hash` of record 1
PAGE_SIZE = 65536            # SQLite's largest: a commit's rows in fewer, bigger writes
CACHE_KIB = 16384            # the writer's page cache: a chunk's commit (~4 MB) fits
SECRET_ENV = "TICKET_POLICY_LOG_SECRET"   # optional key for sensitive fields' hashes
_KEY_CHECK = b"ticket-policy decision log key check"


class LogError(Exception):
    """The log cannot be opened, read or written; `diagnostic` says why, one line."""

    def __init__(self, code: str, message: str, path: str | os.PathLike, hint: str | None = None):
        super().__init__(message)
        self.diagnostic = Diagnostic(code, message, location=Location(file=str(path)), hint=hint)


def _error(exc: sqlite3.Error, path: str | os.PathLike, doing: str) -> LogError:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return LogError("log_not_a_log", f"`{path}` is not a decision log or is damaged ({text})",
                        path, "check the path; `ticket-policy log verify` names the damage")
    if "locked" in text or "busy" in text:
        return LogError("log_busy", f"decision log `{path}` stayed locked while {doing}",
                        path, "another process holds the write lock; retry")
    return LogError("log_unwritable", f"cannot write decision log `{path}` while {doing}: "
                    f"{text}", path, "check the file's permissions and the free disk space")


class Receipt(NamedTuple):
    """A record is durable: its place in the chain. `warnings`: e.g. `version_not_bumped`."""

    seq: int
    decision_id: str
    hash: str
    logged_at: str
    warnings: tuple[Diagnostic, ...] = ()


class Entry(NamedTuple):
    """One decision to log: the decision, the compiled policy that made it, the ticket it
    decided (the log keeps the facts the decision depends on and the policy's audit fields)."""

    decision: Decision
    policy: CompiledPolicy
    ticket: Mapping
    request_id: str | None = None


class _Job:
    __slots__ = ("items", "batch", "receipts", "error", "done")

    def __init__(self, items: list[Prepared], batch: tuple[str, int] | None = None):
        self.items, self.batch = items, batch   # batch: (run, the input line its records reach)
        self.receipts: list[Receipt] = []
        self.error: BaseException | None = None
        self.done = False


def utc_now_ms() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def schema_version(conn: sqlite3.Connection, path: str | os.PathLike) -> int | None:
    """The log's schema version; None for an empty database; LogError for another file."""
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        if "schema_version" not in tables:
            raise LogError("log_not_a_log", f"`{path}` is an SQLite file but not a decision log",
                           path, "give a new file name, or the log `--log` wrote before")
        version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise _error(exc, path, "reading its schema") from None
    if version > SCHEMA_VERSION:
        raise LogError("log_too_new", f"decision log `{path}` has schema {version}; this "
                       f"ticket-policy reads up to {SCHEMA_VERSION}", path,
                       "upgrade ticket-policy")
    return version


def connect_readonly(path: str | os.PathLike) -> sqlite3.Connection:
    """A read-only connection to an existing log (LogError if it is none)."""
    p = Path(path)
    if not p.is_file():
        raise LogError("log_unreadable", f"no decision log `{path}`", path,
                       "`evaluate --log PATH` creates one")
    try:
        conn = sqlite3.connect(f"file:{quote(str(p.resolve()))}?mode=ro", uri=True,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise _error(exc, path, "opening it") from None
    if schema_version(conn, path) is None:
        conn.close()
        raise LogError("log_not_a_log", f"`{path}` is an empty database, not a decision log",
                       path)
    return conn


class DecisionLog:
    """An append-only, hash-chained decision log in one SQLite file (see docs/decision-log.md).

    `DecisionLog.open(path)` creates or opens it; `append` / `append_many` return once durable;
    `close()` (or `with`) releases it. Thread-safe; one per process and file is enough.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, key: bytes, busy_timeout: float):
        self.path = path
        self._conn = conn
        self._key = key
        self._busy_timeout = busy_timeout
        self._cv = threading.Condition()
        self._queue: list[_Job] = []
        self._leader = False
        self._have_outcomes: set[str] = set()
        self._source_warnings: dict[str, tuple[Diagnostic, ...]] = {}   # stored, by digest
        self._lock_fd: int | None = None

    # ---- opening ----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, *, busy_timeout: float = 30.0,
             secret: bytes | None = None) -> DecisionLog:
        """Open the log at `path`, creating it (and migrating an older schema). `secret` (else
        the environment's TICKET_POLICY_LOG_SECRET) keys the hashes of sensitive fields;
        without one, a random salt kept in the log does. LogError if it cannot be written."""
        p = Path(path)
        if secret is None and os.environ.get(SECRET_ENV):
            secret = os.environ[SECRET_ENV].encode("utf-8")
        if p.is_dir():
            raise LogError("log_unwritable", f"`{path}` is a folder, not a decision log", path,
                           "give a file name, e.g. `decisions.db`")
        try:
            conn = sqlite3.connect(str(p), timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise _error(exc, path, "opening it") from None
        try:
            version = schema_version(conn, path)
            if version != SCHEMA_VERSION:
                _migrate(conn, secret)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise LogError("log_unwritable", f"cannot put decision log `{path}` in WAL mode "
                               f"(journal mode `{mode}`)", path, "is the file read-only?")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            meta = dict(conn.execute("SELECT key, value FROM meta"))
        except LogError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise _error(exc, path, "opening it") from None
        key = secret if secret is not None else bytes.fromhex(meta["salt"])
        if key_check(key) != meta["key_check"]:
            conn.close()
            raise LogError("log_key_mismatch", f"decision log `{path}` hashes sensitive fields "
                           f"with another key than {'the one given' if secret else 'its salt'}",
                           path, f"set {SECRET_ENV} as when the log was created")
        return cls(p, conn, key, busy_timeout)

    def close(self) -> None:
        """Release the file (waits for a commit in progress)."""
        with self._cv:
            while self._leader:
                self._cv.wait()
            self._conn.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- appending --------------------------------------------------------------------
    def prepare(self, decision: Decision, *, policy: CompiledPolicy, ticket: Mapping,
                request_id: str | None = None) -> Prepared:
        """Serialise one record (no I/O but reading the policy's files once)."""
        return prepare(decision, policy, ticket, self._source(policy), self._key, request_id)

    def preparer(self, policy: CompiledPolicy) -> Callable[[Decision, Mapping], Prepared]:
        """`prepare` for many decisions of one policy version: its source looked up once."""
        source, key = self._source(policy), self._key
        return lambda decision, ticket: prepare(decision, policy, ticket, source, key)

    def _source(self, policy: CompiledPolicy) -> PolicySource:
        try:
            return source_of(policy)
        except SourceError as exc:
            raise LogError(exc.diagnostic.code, exc.diagnostic.message, self.path,
                           exc.diagnostic.hint) from None

    def append(self, decision: Decision, *, policy: CompiledPolicy, ticket: Mapping,
               request_id: str | None = None) -> Receipt:
        """Log one decision; returns once its record is durable (LogError if it cannot be)."""
        return self._submit([self.prepare(decision, policy=policy, ticket=ticket,
                                          request_id=request_id)])[0]

    def append_many(self, entries: Iterable[Entry | tuple]) -> list[Receipt]:
        """Log several decisions in one transaction (a group commit: one fsync); returns once
        all are durable, in order. All or none: on LogError none was logged."""
        items = [self.prepare(e.decision, policy=e.policy, ticket=e.ticket,
                              request_id=e.request_id)
                 for e in (x if isinstance(x, Entry) else Entry(*x) for x in entries)]
        return self._submit(items) if items else []

    def append_prepared(self, items: Iterable[Prepared],
                        batch: tuple[str, int] | None = None) -> list[Receipt]:
        """`append_many` for records already serialised by `prepare` (e.g. by batch worker
        processes that opened the same log): one transaction, in order, all or none. `batch`:
        (run, line) — the records are a batch run's through input line `line`, kept with them
        (`engine.ops.log.query.batch_progress` reads it back)."""
        items = list(items)
        return self._submit(items, batch) if items else []

    def _submit(self, items: list[Prepared], batch: tuple[str, int] | None = None
                ) -> list[Receipt]:
        job = _Job(items, batch)
        with self._cv:
            self._queue.append(job)
            while self._leader and not job.done:
                self._cv.wait()
            if not job.done:   # lead: commit every job waiting, ours included
                self._leader = True
                jobs, self._queue = self._queue, []
        if not job.done:
            try:
                self._commit(jobs)
            finally:
                with self._cv:
                    self._leader = False
                    self._cv.notify_all()
        if job.error is not None:
            raise job.error
        return job.receipts

    def _begin(self) -> None:
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or \
                        time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def _commit(self, jobs: list[_Job]) -> None:
        """Commit every job's records in one transaction, holding the writers' lock."""
        fd = self._lock_writers()
        try:
            self._commit_locked(jobs)
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _lock_writers(self) -> int | None:
        """Take the writers' lock: `flock` on the log file, which the kernel hands to the next
        waiting writer process the moment it is released (SQLite's own busy handler polls,
        sleeping up to 100 ms: two service workers on one log waited for each other so). A
        writer holds it only while committing; a writer that dies drops it. Returns the locked
        file descriptor (None if it cannot be had: SQLite's own locking still orders them)."""
        if self._lock_fd is None:
            try:
                self._lock_fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        except OSError:
            return None
        return self._lock_fd

    def _commit_locked(self, jobs: list[_Job]) -> None:
        items = [item for job in jobs for item in job.items]
        conn = self._conn
        try:
            self._begin()
            try:
                seq, prev, last_at = conn.execute(
                    "SELECT seq, hash, logged_at FROM head").fetchone()
                logged_at = max(utc_now_ms(), last_at)
                warnings = self._store_sources(items)
                outcomes = {i.outcome_digest: i.outcome_text for i in items
                            if i.outcome_digest not in self._have_outcomes}
                insert_outcomes(conn, list(outcomes.items()))
                rows, receipts = [], []
                for item in items:
                    seq += 1
                    text = item.text(seq, logged_at)
                    digest = link(prev, text)
                    rows.append((seq, item.decision_id, logged_at, item.ticket_id,
                                 item.request_id, item.policy_id, item.policy_version,
                                 item.priority, item.sla_status, item.source.digest,
                                 item.outcome_digest, text, prev, digest))
                    receipts.append(Receipt(seq, item.decision_id, digest, logged_at,
                                            warnings.get(item.source.digest, ())))
                    prev = digest
                insert_records(conn, rows)
                conn.execute("UPDATE head SET seq = ?, hash = ?, logged_at = ?",
                             (seq, prev, logged_at))
                note_batches(conn, [(j.batch, len(j.items)) for j in jobs], seq - len(items))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            error: BaseException = _error(exc, self.path, "appending")
            for job in jobs:
                job.error, job.done = error, True
            return
        except BaseException as exc:
            for job in jobs:
                job.error, job.done = exc, True
            raise
        self._have_outcomes.update(outcomes)
        if len(self._have_outcomes) > 100_000:
            self._have_outcomes.clear()
        self._source_warnings.update(warnings)
        at = 0
        for job in jobs:
            job.receipts, job.done = receipts[at:at + len(job.items)], True
            at += len(job.items)

    def _store_sources(self, items: list[Prepared]) -> dict[str, tuple[Diagnostic, ...]]:
        """Store each new policy source; warn, for every append, when its version was logged
        with another digest (looked up once per source by this writer)."""
        warnings: dict[str, tuple[Diagnostic, ...]] = {}
        for item in items:
            digest = item.source.digest
            if digest not in warnings:
                known = self._source_warnings.get(digest)
                warnings[digest] = known if known is not None else \
                    store_source(self._conn, item)
        return warnings


def store_source(conn: sqlite3.Connection, item: Prepared) -> tuple[Diagnostic, ...]:
    """Store the item's policy source unless the log holds it; the `version_not_bumped`
    warning when the log holds another digest for its policy id and version."""
    src = item.source
    if not conn.execute("SELECT 1 FROM sources WHERE digest = ?", (src.digest,)).fetchone():
        manifest = src.manifest
        conn.executemany("INSERT OR IGNORE INTO blobs (digest, bytes) VALUES (?, ?)",
                         [(manifest["files"][p], data) for p, data in src.files.items()])
        conn.execute("INSERT INTO sources (digest, policy_id, policy_version, policy_digest, "
                     "manifest) VALUES (?, ?, ?, ?, ?)",
                     (src.digest, item.policy_id, item.policy_version, item.policy_digest,
                      canonical_json(manifest)))
    others = [r[0] for r in conn.execute(
        "SELECT DISTINCT policy_digest FROM sources WHERE policy_id = ? AND policy_version = ? "
        "AND policy_digest != ?", (item.policy_id, item.policy_version, item.policy_digest))]
    return (version_warning(item.policy_id, item.policy_version, item.policy_digest, others),) \
        if others else ()


def key_check(key: bytes) -> str:
    return hmac.new(key, _KEY_CHECK, hashlib.sha256).hexdigest()


def _migrate(conn: sqlite3.Connection, secret: bytes | None) -> None:
    """Create the schema in an empty file, or bring an older one up to SCHEMA_VERSION."""
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")   # only takes effect on an empty file
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn, "")
        now = utc_now_ms()
        if version is None:
            for statement in SCHEMA:
                conn.execute(statement)
            salt = secrets.token_hex(32)
            key = secret if secret is not None else bytes.fromhex(salt)
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                ("log_id", secrets.token_hex(16)), ("created_at", now), ("salt", salt),
                ("hash_key", "secret" if secret is not None else "salt"),
                ("key_check", key_check(key))])
            conn.execute("INSERT INTO head (id, seq, hash, logged_at) VALUES (1, 0, ?, ?)",
                         (GENESIS, ""))
            conn.execute("INSERT INTO schema_version VALUES (1, ?)", (now,))
            version = 1
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", (target, now))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
