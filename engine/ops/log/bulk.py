"""A commit's rows written with few GIL hand-overs, so a writer thread keeps up with a busy one.

A thread that releases the GIL must wait to get it back while another thread computes: up to
`sys.getswitchinterval()` (5 ms) each time. `executemany` releases it around every row's
`sqlite3_step`, and `hashlib` around every update of 2 KiB or more: a writer thread committing
1,000 records beside a thread computing without pause took 3.2 ms a record, nearly all of it
waiting for the GIL (0.09 ms a record this way, same machine). Here a table's rows go in
statements of many rows (bound holding the GIL, one step each: the GIL released throughout
SQLite's work), and the chain's hash is fed in pieces below hashlib's threshold (the same
digest).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence

#: hashlib releases the GIL for an update of this many bytes or more (CPython's
#: HASHLIB_GIL_MINSIZE); pieces stay below it.
_PIECE = 2047
_COLUMNS = 14   # the records table's


def link(prev: str, text: str) -> str:
    """`sha256(prev + text)` as hex: a record's hash in the chain, fed without releasing the
    GIL."""
    data = (prev + text).encode("utf-8")
    if len(data) <= _PIECE:
        return hashlib.sha256(data).hexdigest()
    h = hashlib.sha256()
    view = memoryview(data)
    for at in range(0, len(data), _PIECE):
        h.update(view[at:at + _PIECE])
    return h.hexdigest()


#: rows a statement inserts at most (within SQLite's limit of bound variables)
GROUP = 256


def insert_records(conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """INSERT the records' rows (in the table's column order), many a statement."""
    _insert(conn, "INSERT INTO records VALUES ", _COLUMNS, rows)


def insert_outcomes(conn: sqlite3.Connection, rows: Sequence[tuple[str, str]]) -> None:
    """INSERT OR IGNORE the (digest, outcome JSON) rows, many a statement."""
    _insert(conn, "INSERT OR IGNORE INTO outcomes (digest, outcome) VALUES ", 2, rows)


def _insert(conn: sqlite3.Connection, head: str, width: int, rows: Sequence[tuple]) -> None:
    """Rows in statements of up to GROUP rows each: sqlite3 binds a statement's values holding
    the GIL and releases it once, for the step."""
    group = max(1, min(GROUP, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    one = "(" + ", ".join("?" * width) + ")"
    for at in range(0, len(rows), group):
        part = rows[at:at + group]
        conn.execute(head + ", ".join([one] * len(part)),
                     [value for row in part for value in row])


def note_batches(conn: sqlite3.Connection, jobs: list[tuple[tuple[str, int] | None, int]],
                 seq: int) -> None:
    """For each (batch, records) of a commit, in order after `seq` — batch: (run, the input
    line its records reach) or None —, the line and seq that batch run's records now reach."""
    for batch, records in jobs:
        seq += records
        if batch is not None:
            conn.execute("INSERT INTO batch_runs (run, line, seq) VALUES (?, ?, ?) ON CONFLICT "
                         "(run) DO UPDATE SET line = excluded.line, seq = excluded.seq",
                         (*batch, seq))
