"""The log's store: appends and receipts, group commits, the durability contract when the log
cannot be written (read-only file, full disk), schema and migrations, sensitive-field keys,
stored sources whose lines the citations name, and the version_not_bumped warning."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from log_helpers import NOW, example_entries

from engine import Evaluator, load_policy
from engine.core.paths import ROOT
from engine.ops.log import DecisionLog, Entry, LogError
from engine.ops.log import store as store_mod
from engine.ops.log.chain import verify
from engine.ops.log.query import LogReader, Search


@pytest.fixture(scope="module")
def entries():
    ev = Evaluator()
    found = example_entries(ev)
    yield found
    ev.close()


def _count(path) -> int:
    with LogReader(path) as reader:
        return reader.count()


def test_append_returns_receipts_in_chain_order(tmp_path, entries):
    path = tmp_path / "log.db"
    with DecisionLog.open(path) as log:
        decision, cp, ticket, _ = entries[0]
        first = log.append(decision, policy=cp, ticket=ticket, request_id="req-1")
        many = log.append_many([Entry(d, p, t) for d, p, t, _ in entries])
        assert log.append_many([]) == []
    assert first.seq == 1 and [r.seq for r in many] == list(range(2, 2 + len(entries)))
    assert len({r.decision_id for r in [first, *many]}) == 1 + len(entries)
    assert verify(path).ok and _count(path) == 1 + len(entries)
    with LogReader(path) as reader:
        rec = reader.get(first.decision_id)
        assert rec.record["request_id"] == "req-1"
        assert rec.decision_json == decision.with_request_id("req-1").to_json()
        assert reader.get(first.decision_id[:20]).seq == 1     # a unique prefix
        assert reader.get(str(many[-1].seq)).hash == many[-1].hash
        assert reader.get("ffff") is None


def test_a_preparer_prepares_as_prepare_does(tmp_path, entries):
    """`preparer(policy)` (its source looked up once) serialises the records `prepare` does:
    the same fields and text but for the decision id each record gets anew."""
    with DecisionLog.open(tmp_path / "log.db") as log:
        for decision, cp, ticket, _ in entries:
            one = log.prepare(decision, policy=cp, ticket=ticket)
            other = log.preparer(cp)(decision, ticket)
            assert other.decision_id != one.decision_id
            assert other._replace(decision_id="") == one._replace(
                decision_id="", head=one.head.replace(one.decision_id, other.decision_id))
        receipts = log.append_prepared([log.preparer(cp)(d, t) for d, cp, t, _ in entries])
    assert [r.seq for r in receipts] == list(range(1, 1 + len(entries)))
    assert verify(tmp_path / "log.db").ok


def test_group_commit_from_many_threads(tmp_path, entries):
    path = tmp_path / "log.db"
    got: list = []
    with DecisionLog.open(path) as log:
        def work():
            for _ in range(25):
                got.append(log.append(entries[0][0], policy=entries[0][1], ticket=entries[0][2]))
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(r.seq for r in got) == list(range(1, 201))
    report = verify(path)
    assert report.ok and report.records == 200


def test_reopening_continues_the_chain(tmp_path, entries):
    path = tmp_path / "log.db"
    d, cp, t, _ = entries[0]
    with DecisionLog.open(path) as log:
        log.append(d, policy=cp, ticket=t)
    with DecisionLog.open(path) as log:
        assert log.append(d, policy=cp, ticket=t).seq == 2
    assert verify(path).ok


def test_wal_mode_and_full_sync(tmp_path, entries):
    with DecisionLog.open(tmp_path / "log.db") as log:
        assert log._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert log._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_full_disk_fails_the_append_and_leaves_no_record(tmp_path, entries):
    path = tmp_path / "log.db"
    d, cp, t, _ = entries[0]
    with DecisionLog.open(path) as log:
        log.append(d, policy=cp, ticket=t)
        pages = log._conn.execute("PRAGMA page_count").fetchone()[0]
        log._conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(LogError) as err:
            log.append_many([Entry(d2, cp2, t2) for d2, cp2, t2, _ in entries] * 20)
        assert err.value.diagnostic.code == "log_unwritable"
        assert "full" in str(err.value)
        log._conn.execute("PRAGMA max_page_count = 1073741823")
        assert log.append(d, policy=cp, ticket=t).seq == 2   # nothing of the failed group
    assert verify(path).ok and _count(path) == 2


@pytest.mark.parametrize("content", [b"hello, not a database\n" * 100, None])
def test_not_a_log(tmp_path, content):
    path = tmp_path / "other.db"
    if content is None:  # an SQLite file of another application
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE things (x)")
        conn.commit()
        conn.close()
    else:
        path.write_bytes(content)
    with pytest.raises(LogError) as err:
        DecisionLog.open(path)
    assert err.value.diagnostic.code == "log_not_a_log"
    with pytest.raises(LogError):
        LogReader(path)


def test_a_folder_or_a_missing_file(tmp_path):
    with pytest.raises(LogError) as err:
        DecisionLog.open(tmp_path)
    assert err.value.diagnostic.code == "log_unwritable"
    with pytest.raises(LogError) as err:
        LogReader(tmp_path / "missing.db")
    assert err.value.diagnostic.code == "log_unreadable"
    assert not (tmp_path / "missing.db").exists()   # readers never create a log


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "log.db"
    DecisionLog.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (99, 'later')")
    conn.commit()
    conn.close()
    with pytest.raises(LogError) as err:
        DecisionLog.open(path)
    assert err.value.diagnostic.code == "log_too_new"


def test_migrations_run_once_in_order(tmp_path, monkeypatch, entries):
    path = tmp_path / "log.db"
    with monkeypatch.context() as m:   # a log of schema 1, as ticket-policy wrote it before
        m.setattr(store_mod, "SCHEMA_VERSION", 1)
        m.setattr(store_mod, "MIGRATIONS", {})
        DecisionLog.open(path).close()
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 4)   # and a later one, after today's
    monkeypatch.setattr(store_mod, "MIGRATIONS", {**store_mod.MIGRATIONS,
                                                  4: ["CREATE TABLE notes (seq INTEGER)"]})
    d, cp, t, _ = entries[0]
    with DecisionLog.open(path) as log:
        log.append(d, policy=cp, ticket=t)
    with DecisionLog.open(path):
        pass
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT version FROM schema_version")] == [1, 2, 3, 4]
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM batch_runs").fetchone() == (0,)
    conn.close()


def test_sensitive_hash_key_must_match(tmp_path, monkeypatch):
    path = tmp_path / "log.db"
    DecisionLog.open(path, secret=b"s3cret").close()
    with pytest.raises(LogError) as err:
        DecisionLog.open(path)
    assert err.value.diagnostic.code == "log_key_mismatch"
    plain = tmp_path / "plain.db"
    DecisionLog.open(plain).close()
    monkeypatch.setenv(store_mod.SECRET_ENV, "s3cret")
    DecisionLog.open(path).close()
    with pytest.raises(LogError):
        DecisionLog.open(plain)   # the environment's secret is not this log's salt


def test_citations_resolve_to_the_stored_source_lines(tmp_path, entries):
    path = tmp_path / "log.db"
    with DecisionLog.open(path) as log:
        log.append_many([Entry(d, cp, t) for d, cp, t, _ in entries])
    with LogReader(path) as reader:
        for rec in reader.search(Search()):
            source = reader.source(rec.record["policy"]["source_digest"])
            assert source is not None and "sources/" in " ".join(source.files)  # quoted docs
            for event in rec.trace:
                c = event["citation"]
                if c is None:
                    continue
                line = source.line(c["path"], c["line"])
                if event["rule"].startswith("plans."):
                    assert event["rule"].split(".")[-1] in line or "guarantee" in line
                elif "[" in event["rule"]:            # a table row: `- [high, high, P1]`
                    assert line.strip().startswith("- [")
                else:
                    assert line.strip() == f"- id: {event['rule']}"


def test_a_comment_line_moves_citations_and_the_source_digest(tmp_path):
    """Same content digest, citations one line lower: each record's citations resolve in its own
    stored source."""
    folder = tmp_path / "cloudtalk"
    folder.mkdir()
    body = (ROOT / "rules" / "cloudtalk" / "policy.yaml").read_text("utf-8")
    (folder / "policy.yaml").write_text(body, "utf-8")
    before = load_policy(folder)
    ticket = json.loads((ROOT / "examples" / "cloudtalk-staging-p1.json").read_text("utf-8"))
    path = tmp_path / "log.db"
    ev = Evaluator()
    with DecisionLog.open(path) as log:
        log.append(ev.evaluate(before, ticket, now=NOW), policy=before, ticket=ticket)
        (folder / "policy.yaml").write_text("# a new first line\n" + body, "utf-8")
        after = load_policy(folder)
        assert after.digest == before.digest
        log.append(ev.evaluate(after, ticket, now=NOW), policy=after, ticket=ticket)
    ev.close()
    with LogReader(path) as reader:
        one, two = reader.get("1"), reader.get("2")
        assert one.record["policy"]["source_digest"] != two.record["policy"]["source_digest"]
        lines = [[e["citation"]["line"] for e in r.trace if e["citation"]] for r in (one, two)]
        assert [n + 1 for n in lines[0]] == lines[1]
        for rec in (one, two):
            source = reader.source(rec.record["policy"]["source_digest"])
            for e in rec.trace:
                if e["citation"] and not e["rule"].startswith("plans."):
                    assert source.line("policy.yaml", e["citation"]["line"]).strip() == \
                        f"- id: {e['rule']}"
    assert verify(path).ok


def test_a_policy_file_edited_since_compiling_is_refused(tmp_path, entries):
    folder = tmp_path / "zmanda"
    folder.mkdir()
    body = (ROOT / "rules" / "zmanda" / "policy.yaml").read_text("utf-8")
    (folder / "policy.yaml").write_text(body, "utf-8")
    cp = load_policy(folder)
    ticket = json.loads((ROOT / "examples" / "zmanda-trial.json").read_text("utf-8"))
    decision = Evaluator().evaluate(cp, ticket)
    (folder / "policy.yaml").write_text("# edited\n" + body, "utf-8")
    with DecisionLog.open(tmp_path / "log.db") as log, pytest.raises(LogError) as err:
        log.append(decision, policy=cp, ticket=ticket)
    assert err.value.diagnostic.code == "log_source_changed"


def test_a_changed_policy_with_the_same_version_warns(tmp_path):
    folder = tmp_path / "csd-group"
    folder.mkdir()
    body = (ROOT / "rules" / "csd-group" / "policy.yaml").read_text("utf-8")
    (folder / "policy.yaml").write_text(body, "utf-8")
    ticket = json.loads((ROOT / "examples" / "csd-group-unclassified.json").read_text("utf-8"))
    ev = Evaluator()
    with DecisionLog.open(tmp_path / "log.db") as log:
        cp = load_policy(folder)
        assert log.append(ev.evaluate(cp, ticket), policy=cp, ticket=ticket).warnings == ()
        (folder / "policy.yaml").write_text(body.replace("title: ", "title: Edited ", 1), "utf-8")
        cp2 = load_policy(folder)
        assert cp2.digest != cp.digest and cp2.version == cp.version
        receipt = log.append(ev.evaluate(cp2, ticket), policy=cp2, ticket=ticket)
    ev.close()
    assert [w.code for w in receipt.warnings] == ["version_not_bumped"]
    assert cp.digest[:19] in receipt.warnings[0].message
