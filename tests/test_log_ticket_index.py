"""A ticket's records are found through `records_ticket_tail` (schema 3): every id, whatever
its last character, finds exactly its records, in log order; the lookups use the index; a
log of schema 2 is found through its old index until a writer migrates it."""

from __future__ import annotations

import sqlite3

import pytest
from log_helpers import tickets

from engine import Evaluator, load_policy
from engine.ops.log import DecisionLog, Entry
from engine.ops.log import store as store_mod
from engine.ops.log.chain import verify
from engine.ops.log.query import _SELECT, TICKET_WHERE, LogReader, Search

IDS = ["CT-1042", "CT-1043", "CT-1", "X-2", "票-7", "ticket 😀", "a", "CT-10422"]


@pytest.fixture(scope="module")
def made():
    cp = load_policy("cloudtalk")
    ev = Evaluator()
    entries = []
    for k, t in enumerate(tickets(cp, 3 * len(IDS), seed=7)):
        t["id"] = IDS[k % len(IDS)]
        entries.append(Entry(ev.evaluate(cp, t), cp, t))
    ev.close()
    return entries


def _log(path, entries) -> list[int]:
    with DecisionLog.open(path) as log:
        return [r.seq for r in log.append_many(entries)]


def _expected(entries, seqs, ticket_id):
    return [s for s, e in zip(seqs, entries, strict=True) if e.decision.ticket_id == ticket_id]


def test_every_id_finds_exactly_its_records_in_log_order(tmp_path, made):
    path = tmp_path / "log.db"
    seqs = _log(path, made)
    with LogReader(path) as reader:
        for ticket_id in [*IDS, "CT-104", "2", "😀", "missing"]:
            want = _expected(made, seqs, ticket_id)
            assert [r.seq for r in reader.for_ticket(ticket_id)] == want, ticket_id
            assert [r.seq for r in reader.search(Search(ticket=ticket_id))] == want
            if want:
                assert [r.seq for r in reader.search(Search(ticket=ticket_id, limit=1))] == \
                    want[:1]
    assert verify(path).ok


def test_ticket_lookups_use_the_tail_index(tmp_path, made):
    path = tmp_path / "log.db"
    _log(path, made)
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "records_ticket_tail" in names and "records_ticket" not in names
    where, n = TICKET_WHERE
    plan = " ".join(str(r) for r in conn.execute(
        f"EXPLAIN QUERY PLAN {_SELECT} WHERE {where} ORDER BY seq", ("CT-1042",) * n))
    assert "records_ticket_tail" in plan and "TEMP B-TREE" not in plan, plan
    conn.close()


def test_a_schema_2_log_is_read_through_its_old_index_then_migrated(tmp_path, made,
                                                                    monkeypatch):
    path = tmp_path / "log.db"
    with monkeypatch.context() as m:   # a log as ticket-policy wrote it before schema 3
        m.setattr(store_mod, "SCHEMA_VERSION", 2)
        m.setattr(store_mod, "MIGRATIONS", {2: store_mod.MIGRATIONS[2]})
        seqs = _log(path, made)
    with LogReader(path) as reader:   # read as it is: not migrated by a reader
        assert [r.seq for r in reader.for_ticket("CT-1042")] == \
            _expected(made, seqs, "CT-1042")
    seqs += _log(path, made)   # a writer migrates it
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT version FROM schema_version")] == [1, 2, 3]
    conn.close()
    with LogReader(path) as reader:
        for ticket_id in IDS:
            assert [r.seq for r in reader.for_ticket(ticket_id)] == \
                _expected(made + made, seqs, ticket_id)
    assert verify(path).ok
