"""engine.ops.log.bulk: the chain's hash fed in pieces, and rows inserted many a statement."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.ops.log import bulk


@given(st.text(min_size=0, max_size=9000), st.sampled_from(["0" * 64, "ab" * 32]))
def test_link_is_sha256_of_prev_and_text(text, prev):
    expected = hashlib.sha256((prev + text).encode("utf-8")).hexdigest()
    assert bulk.link(prev, text) == expected


@pytest.mark.parametrize("n", [2046 - 64, 2047 - 64, 2048 - 64, 4094 - 64, 4095 - 64, 10_000])
def test_link_at_the_piece_boundaries(n):
    text = "x" * n
    assert bulk.link("0" * 64, text) == hashlib.sha256(("0" * 64 + text).encode()).hexdigest()


def _table(conn: sqlite3.Connection, name: str) -> None:
    conn.execute(f"CREATE TABLE {name} (seq INTEGER PRIMARY KEY, a TEXT, b TEXT)")


@pytest.mark.parametrize("n", [0, 1, bulk.GROUP - 1, bulk.GROUP, bulk.GROUP + 1,
                               3 * bulk.GROUP + 7])
def test_insert_writes_what_executemany_writes(n):
    conn = sqlite3.connect(":memory:")
    _table(conn, "one")
    _table(conn, "many")
    rows = [(i, f"text {i} \u00e9 \"quoted\"", None if i % 3 else "x") for i in range(n)]
    conn.executemany("INSERT INTO one VALUES (?, ?, ?)", rows)
    bulk._insert(conn, "INSERT INTO many VALUES ", 3, rows)
    assert conn.execute("SELECT * FROM many ORDER BY seq").fetchall() == \
        conn.execute("SELECT * FROM one ORDER BY seq").fetchall()
    assert len(conn.execute("SELECT * FROM many").fetchall()) == n


def test_insert_stays_within_the_bound_variables_limit():
    conn = sqlite3.connect(":memory:")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 30)   # 10 rows of 3 a statement
    _table(conn, "t")
    rows = [(i, "a", "b") for i in range(95)]
    bulk._insert(conn, "INSERT INTO t VALUES ", 3, rows)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (95,)
