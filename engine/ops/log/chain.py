"""The hash chain: how a record's hash is made, and verifying a whole log.

    hash(n) = hex(SHA-256(ascii(prev_hash(n)) || utf8(record(n))))
    prev_hash(1) = "0" * 64;  prev_hash(n) = hash(n - 1)

`record(n)` is the stored canonical JSON, which carries `seq = n`; outcomes, policy sources and
their files are stored under the SHA-256 of their bytes, which records name. `verify` recomputes
all of it (docs/decision-log.md lists every check) and names the first bad record.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from engine.core.canonical import canonical_bytes, plain_bytes
from engine.ops.log.records import FORMAT, sla_status
from engine.ops.log.sources import safe_path, sha256_hex, source_digest
from engine.ops.log.store import GENESIS, LogError, connect_readonly

PROGRESS_EVERY = 1000   # records between two calls of a verification's `progress`
COLUMNS = ("seq", "decision_id", "logged_at", "ticket_id", "request_id", "policy_id",
           "policy_version", "priority", "sla_status", "source_digest", "outcome_digest",
           "record", "prev_hash", "hash")


def record_hash(prev_hash: str | bytes, record: bytes) -> str:
    """The chain's step: SHA-256 over the previous hash (hex ASCII) and the record's bytes."""
    prev = prev_hash if isinstance(prev_hash, bytes) else prev_hash.encode("ascii")
    return hashlib.sha256(prev + record).hexdigest()


def parse_checkpoint(text: str) -> tuple[int, str]:
    """`SEQ:HASH` (what `log checkpoint` prints) → (seq, hash); ValueError otherwise."""
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef"
                                                     for c in digest):
        raise ValueError(f"`{text}` is not a checkpoint; expected `SEQ:HASH` as `log "
                         "checkpoint` prints it, e.g. `1000:3f5a…` (64 hex digits)")
    return int(seq), digest


@dataclass
class Problem:
    seq: int | None     # the first bad record, or None for the log as a whole
    message: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.message}" if self.seq is not None else self.message


@dataclass
class VerifyReport:
    """What `verify` found: `ok` when every check held."""

    records: int = 0                       # records checked
    head: tuple[int, str] = (0, GENESIS)   # the last record's seq and hash
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"ok": self.ok, "records": self.records, "head": {"seq": self.head[0],
                "hash": self.head[1]}, "problems": [{"seq": p.seq, "message": p.message}
                                                    for p in self.problems]}


class _Stop(Exception):
    pass


class _Verifier:
    def __init__(self, conn: sqlite3.Connection, max_problems: int, quick_check: bool = True,
                 progress: Callable[[int], None] | None = None):
        self.conn = conn
        self.progress = progress
        self.max = max_problems
        self.quick_check = quick_check
        self.report = VerifyReport()
        self.outcomes: dict[bytes, dict | None] = {}    # digest -> parsed outcome (None: bad)
        self.sources: dict[bytes, dict | None] = {}     # digest -> {row, files} (None: bad)
        self.cited: set[tuple[bytes, bytes]] = set()
        # records read by msgspec (integers of any size kept exact, as the json module does),
        # counting the floats read: a record without one is written back by msgspec unchecked
        self.floats = 0
        self._decode = msgspec.json.Decoder(float_hook=self._float).decode

    def _float(self, text: str) -> float:
        self.floats += 1
        return float(text)

    def fail(self, seq: int | None, message: str) -> None:
        self.report.problems.append(Problem(seq, message))
        if len(self.report.problems) >= self.max:
            raise _Stop

    def outcome(self, digest: bytes) -> dict | None:
        if digest not in self.outcomes:
            row = self.conn.execute("SELECT outcome FROM outcomes WHERE digest = ?",
                                    (digest.decode("ascii", "replace"),)).fetchone()
            ok = row is not None and "sha256:" + hashlib.sha256(row[0]).hexdigest() == \
                digest.decode("ascii", "replace")
            self.outcomes[digest] = json.loads(row[0]) if ok else None
        return self.outcomes[digest]

    def source(self, digest: bytes) -> dict | None:
        if digest not in self.sources:
            self.sources[digest] = self._load_source(digest)
        return self.sources[digest]

    def _load_source(self, digest: bytes) -> dict | None:
        row = self.conn.execute("SELECT policy_id, policy_version, policy_digest, manifest "
                                "FROM sources WHERE digest = ?",
                                (digest.decode("ascii", "replace"),)).fetchone()
        if row is None:
            return None
        try:
            manifest = json.loads(row[3])
            if canonical_bytes(manifest) != row[3] or \
                    source_digest(manifest).encode("ascii") != digest:
                return None
            files = {}
            for path, sha in manifest["files"].items():
                blob = self.conn.execute("SELECT bytes FROM blobs WHERE digest = ?",
                                         (sha,)).fetchone()
                if blob is None or "sha256:" + hashlib.sha256(blob[0]).hexdigest() != sha or \
                        not safe_path(path):
                    return None
                files[path] = blob[0].count(b"\n") + (not blob[0].endswith(b"\n"))
        except (ValueError, KeyError, AttributeError, TypeError):
            return None
        return {"policy": [c.decode("utf-8", "replace") for c in row[:3]],
                "path": manifest["policy"], "lines": files}

    def check(self, row: tuple, prev: bytes, last_at: bytes) -> None:
        (seq, decision_id, logged_at, ticket_id, request_id, policy_id, version, priority,
         status, src, outcome_digest, record, prev_hash, digest) = row
        if prev_hash != prev:
            self.fail(seq, "its prev_hash is not the previous record's hash: a record before "
                      "it was deleted, inserted, reordered or edited")
            return
        if record_hash(prev, record).encode("ascii") != digest:
            self.fail(seq, "its content does not match its hash: the record was edited")
            return
        floats = self.floats
        # `canonical_bytes` of the record's parts: msgspec's bytes when it read no float
        encode: Callable[[object], bytes] = canonical_bytes
        try:   # msgspec reads what a log writes; the json module also what it refuses
            r = self._decode(record)
            if self.floats == floats:
                encode = plain_bytes
        except ValueError:
            try:
                r = json.loads(record)
            except ValueError:
                r = None
        if not isinstance(r, dict):
            self.fail(seq, "its record is not a JSON object")
            return
        try:
            if not self._check_fields(seq, r, (decision_id, logged_at, ticket_id, request_id,
                                               policy_id, version, priority, status, src,
                                               outcome_digest), last_at, encode):
                return
        except (KeyError, TypeError, AttributeError):
            self.fail(seq, "its record lacks a field of the record format")
            return
        try:
            canonical = encode(r) == record
        except ValueError:   # NaN, or a lone surrogate's escape: no canonical form at all
            canonical = False
        if not canonical:
            self.fail(seq, "its record is not canonical JSON")

    def _check_fields(self, seq: int, r: dict, columns: tuple, last_at: bytes,
                      encode: Callable[[object], bytes]) -> bool:
        d, p = r["decision"], r["policy"]
        outcome = self.outcome(r["outcome_digest"].encode("ascii"))
        if outcome is None:
            self.fail(seq, f"its outcome `{r['outcome_digest'][:19]}…` is missing or damaged")
            return False
        expect = (r["decision_id"], r["logged_at"], r["ticket_id"], r["request_id"], p["id"],
                  p["version"], outcome["priority"], sla_status(d["sla"]), p["source_digest"],
                  r["outcome_digest"])
        for name, col, want in zip(COLUMNS[1:11], columns, expect, strict=True):
            have = col.decode("utf-8", "replace") if isinstance(col, bytes) else col
            if have != want:
                self.fail(seq, f"column `{name}` is `{have}`, but the record says `{want}`")
                return False
        if r["seq"] != seq or r["format"] != FORMAT or \
                r["seq"].__class__ is not int or r["format"].__class__ is not int:  # not 1.0
            self.fail(seq, f"its record says seq {r['seq']} and format {r['format']}")
            return False
        if r["logged_at"].encode("ascii") < last_at:
            self.fail(seq, f"logged at {r['logged_at']}, before the record preceding it")
            return False
        try:
            facts_digest: str | None = sha256_hex(encode(r["facts"]))
        except ValueError:   # NaN, or a lone surrogate's escape: facts with no digest at all
            facts_digest = None
        if (d["ticket_id"], d["now"], d["policy"], d.get("request_id")) != (
                r["ticket_id"], r["now"], {k: p[k] for k in ("id", "version", "digest")},
                r["request_id"]) or d["input_digest"] != facts_digest:
            self.fail(seq, "its decision disagrees with the record (ticket, now, policy, "
                      "request or the facts' digest)")
            return False
        source = self.source(p["source_digest"].encode("ascii"))
        if source is None or source["policy"] != [p["id"], p["version"], p["digest"]] or \
                source["path"] != p["path"]:
            self.fail(seq, f"its policy source `{p['source_digest'][:19]}…` is missing, damaged "
                      "or of another policy")
            return False
        key = (r["outcome_digest"].encode("ascii"), p["source_digest"].encode("ascii"))
        if key not in self.cited:
            for event in outcome["trace"]:
                c = event.get("citation")
                if c is not None and not (c["policy"] == p["id"] and c["digest"] == p["digest"]
                                          and 1 <= c["line"] <= source["lines"].get(c["path"], 0)):
                    self.fail(seq, f"its trace cites {c['path']}:{c['line']}, which the stored "
                              "source does not hold")
                    return False
            self.cited.add(key)
        return True

    def run(self, checkpoint: tuple[int, str] | None) -> VerifyReport:
        conn = self.conn
        check = conn.execute("PRAGMA quick_check").fetchall() if self.quick_check else [(b"ok",)]
        if check != [(b"ok",)]:
            self.fail(None, "the file is damaged: " + "; ".join(
                c[0].decode("utf-8", "replace") for c in check[:3]))
        prev, last_at, expected = GENESIS.encode("ascii"), b"", 1
        hashes: dict[int, bytes] = {}
        for row in conn.execute(f"SELECT {', '.join(COLUMNS)} FROM records ORDER BY seq"):
            seq = row[0]
            if seq != expected:
                self.fail(expected, "it is missing (deleted), the next record is "
                          f"{seq}" if seq > expected else f"a record numbered {seq} follows")
            self.check(row, prev, last_at)
            prev, last_at, expected = row[13], row[2] or b"", seq + 1
            self.report.records += 1
            if self.progress is not None and not self.report.records % PROGRESS_EVERY:
                self.progress(self.report.records)
            if checkpoint is not None and seq == checkpoint[0]:
                hashes[seq] = row[13]
        if self.progress is not None:
            self.progress(self.report.records)
        last = expected - 1
        self.report.head = (last, prev.decode("ascii", "replace"))
        heads = conn.execute("SELECT seq, hash FROM head").fetchall()
        if len(heads) != 1:
            self.fail(None, "the log's head is missing")
        elif heads[0][0] > last:
            self.fail(last + 1, f"it is missing: the log ends at record {last} but its head "
                      f"says {heads[0][0]} (the tail was truncated)")
        elif heads[0] != (last, prev):
            self.fail(heads[0][0], "it is not the log's head: records were appended or edited "
                      "after the head")
        self._check_stored()
        if checkpoint is not None:
            seq, digest = checkpoint
            if seq > last:
                self.fail(last + 1, f"the checkpoint names record {seq}, but the log ends at "
                          f"{last}: records were removed")
            elif seq > 0 and hashes.get(seq) != digest.encode("ascii"):
                self.fail(seq, "its hash differs from the checkpoint: the log was changed at or "
                          "before it")
        return self.report

    def _check_stored(self) -> None:
        """Every stored outcome, source and file matches its digest (also those no record
        names: nothing in the file goes unchecked)."""
        for digest, text in self.conn.execute("SELECT digest, outcome FROM outcomes"):
            if "sha256:" + hashlib.sha256(text).hexdigest() != digest.decode("ascii", "replace"):
                self.fail(None, f"stored outcome `{digest[:19].decode('ascii', 'replace')}…` "
                          "does not match its digest")
        for digest, data in self.conn.execute("SELECT digest, bytes FROM blobs"):
            if "sha256:" + hashlib.sha256(data).hexdigest() != digest.decode("ascii", "replace"):
                self.fail(None, f"stored file `{digest[:19].decode('ascii', 'replace')}…` "
                          "does not match its digest")
        for (digest,) in self.conn.execute("SELECT digest FROM sources"):
            if self.source(digest) is None:
                self.fail(None, f"stored source `{digest[:19].decode('ascii', 'replace')}…` "
                          "does not match its digest")


def verify_connection(conn: sqlite3.Connection, checkpoint: tuple[int, str] | None = None,
                      max_problems: int = 1, quick_check: bool = True,
                      progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Verify the log behind `conn` (which is switched to reading text as bytes); without
    `quick_check`, SQLite's own page check is skipped (the tamper tests, which edit through
    SQL, run thousands of verifications). `progress(n)` is told the records checked so far,
    every PROGRESS_EVERY and at the end."""
    conn.text_factory = bytes
    verifier = _Verifier(conn, max_problems, quick_check, progress)
    try:
        return verifier.run(checkpoint)
    except _Stop:
        return verifier.report
    except sqlite3.DatabaseError as exc:
        verifier.report.problems.append(Problem(None, f"the file is damaged: {exc}"))
        return verifier.report


def verify(path: str | os.PathLike, checkpoint: tuple[int, str] | None = None,
           max_problems: int = 1, progress: Callable[[int], None] | None = None
           ) -> VerifyReport:
    """Recompute the chain and every digest of the log at `path`; stop after `max_problems`
    (`progress`: as `verify_connection`'s). LogError only when there is no file at `path`."""
    try:
        conn = connect_readonly(path)
    except LogError as exc:
        if exc.diagnostic.code == "log_unreadable":
            raise
        return VerifyReport(problems=[Problem(None, str(exc))])
    try:
        return verify_connection(conn, checkpoint, max_problems, progress=progress)
    finally:
        conn.close()


def head(path: str | os.PathLike) -> tuple[int, str]:
    """The log's last record: (seq, hash) — what `log checkpoint` prints as `SEQ:HASH`."""
    conn = connect_readonly(path)
    try:
        row = conn.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)
    finally:
        conn.close()
