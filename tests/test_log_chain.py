"""Tamper evidence: `verify` detects every single-byte flip in the records table, every deleted
row, a swapped pair, an inserted row, a truncated tail and a truncated file, and a checkpoint
proves nothing before it changed — on a 1,000-record log."""

from __future__ import annotations

import hashlib
import random
import sqlite3

import pytest
from conftest import campaign
from log_helpers import build_log

from engine.ops.log.chain import COLUMNS, parse_checkpoint, verify, verify_connection

N = 1000
# Every column that holds a record's payload (seq, the integer key, is tested by the row tests).
PAYLOAD = COLUMNS[1:]


@pytest.fixture(scope="module")
def log_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("chain") / "log.db"
    build_log(path, N, seed=11)
    return path


@pytest.fixture
def db(log_file):
    """An in-memory copy of the log to tamper with."""
    src = sqlite3.connect(log_file)
    mem = sqlite3.connect(":memory:")
    src.backup(mem)
    src.close()
    yield mem
    mem.close()


def _bad(conn: sqlite3.Connection, everything: bool = False) -> list:
    """The problems `verify` finds (SQLite's page check skipped: edits here go through SQL)."""
    report = verify_connection(conn, max_problems=10**9 if everything else 1, quick_check=False)
    return report.problems


def _flip(value: bytes, i: int) -> bytes:
    return value[:i] + bytes([value[i] ^ 0x01]) + value[i + 1:]


def _rows(conn, column: str) -> dict[int, bytes]:
    conn.text_factory = bytes
    return {seq: bytes(v) for seq, v in conn.execute(f"SELECT seq, {column} FROM records")
            if v is not None}


def _set(conn, column: str, values: dict[int, bytes]) -> None:
    conn.executemany(f"UPDATE records SET {column} = CAST(? AS TEXT) WHERE seq = ?",
                     [(v, seq) for seq, v in values.items()])


def test_an_untouched_log_verifies(log_file):
    report = verify(log_file)
    assert report.ok and report.records == N and report.head[0] == N


def test_sampled_single_byte_flips_are_each_detected_at_their_record(db):
    """Random flips in the first records (verify stops at the first bad one: quick)."""
    rnd = random.Random(3)
    for _ in range(campaign(60, 150)):
        column = rnd.choice(PAYLOAD)
        rows = _rows(db, column)
        seq = rnd.choice([s for s in sorted(rows) if s <= 120] or sorted(rows))
        value = rows[seq]
        i = rnd.randrange(len(value))
        _set(db, column, {seq: _flip(value, i)})
        problems = _bad(db)
        assert problems and problems[0].seq == seq, (column, seq, i, problems)
        _set(db, column, {seq: value})
    assert not _bad(db)


@pytest.mark.slow
@pytest.mark.parametrize("column", PAYLOAD)
def test_every_single_byte_flip_of_every_record_is_detected(db, column):
    """Each pass flips one byte in every record at once (a different position per record), so
    max-length passes flip every byte of every record's `column` once; each record must be
    reported in every pass."""
    rows = _rows(db, column)
    longest = max(len(v) for v in rows.values())
    flips = 0
    flipped: set[int] = set()   # the records the previous pass changed
    for j in range(longest):
        changed = {seq: _flip(v, (j + seq) % len(v)) for seq, v in rows.items() if j < len(v)}
        # one statement a pass: this pass's flips, and the previous pass's records it leaves
        # (too short for byte j) put back as they were
        _set(db, column, {**{seq: rows[seq] for seq in flipped - changed.keys()}, **changed})
        flipped = set(changed)
        flagged = {p.seq for p in _bad(db, everything=True)}
        missed = sorted(set(changed) - flagged)
        assert not missed, f"flip of {column} not detected in records {missed[:5]}"
        flips += len(changed)
    _set(db, column, {seq: rows[seq] for seq in flipped})
    assert flips == sum(len(v) for v in rows.values())
    assert not _bad(db)


def _delete(db, seq):
    row = db.execute("SELECT * FROM records WHERE seq = ?", (seq,)).fetchone()
    db.execute("DELETE FROM records WHERE seq = ?", (seq,))
    return row


def _restore(db, row):
    db.execute(f"INSERT INTO records VALUES ({', '.join('?' * len(row))})", row)


@pytest.mark.parametrize("seq", [1, 2, 500, N - 1, N])
def test_a_deleted_row_is_detected(db, seq):
    row = _delete(db, seq)
    problems = _bad(db)
    assert problems and problems[0].seq == seq
    _restore(db, row)
    assert not _bad(db)


@pytest.mark.slow
def test_every_deleted_row_is_detected(db):
    """Each of the 1,000 rows deleted once: 50 passes, each deleting every 50th row (so the
    gaps are far apart), each deleted row reported at its own seq."""
    stride = 50
    for offset in range(1, stride + 1):
        seqs = range(offset, N + 1, stride)
        rows = [_delete(db, seq) for seq in seqs]
        flagged = {p.seq for p in _bad(db, everything=True)}
        assert set(seqs) <= flagged, sorted(set(seqs) - flagged)[:5]
        for row in rows:
            _restore(db, row)
    assert not _bad(db)


def test_a_swapped_pair_is_detected(db):
    db.text_factory = bytes
    a = db.execute("SELECT * FROM records WHERE seq = 400").fetchone()
    b = db.execute("SELECT * FROM records WHERE seq = 401").fetchone()
    cols = ", ".join(f"{c} = ?" for c in COLUMNS[1:])
    db.execute(f"UPDATE records SET {cols} WHERE seq = 400", (*b[1:],))
    db.execute(f"UPDATE records SET {cols} WHERE seq = 401", (*a[1:],))
    assert _bad(db)[0].seq == 400


def test_an_inserted_row_is_detected(db):
    db.execute("UPDATE records SET seq = seq + 1000000 WHERE seq >= 600")
    db.execute("UPDATE records SET seq = seq - 999999 WHERE seq >= 1000000")
    row = list(db.execute("SELECT * FROM records WHERE seq = 300").fetchone())
    row[0], row[1] = 600, "forged-decision-id"
    db.execute(f"INSERT INTO records VALUES ({', '.join('?' * len(row))})", row)
    assert _bad(db)[0].seq == 600


def test_a_row_appended_past_the_head_is_detected(db):
    row = list(db.execute("SELECT * FROM records WHERE seq = ?", (N,)).fetchone())
    row[0], row[1], row[12] = N + 1, "appended", row[13]
    db.execute(f"INSERT INTO records VALUES ({', '.join('?' * len(row))})", row)
    assert _bad(db)


def test_a_truncated_tail_is_detected(db):
    db.execute("DELETE FROM records WHERE seq > ?", (N - 10,))
    problems = _bad(db)
    assert problems[0].seq == N - 9 and "truncated" in problems[0].message


def test_a_truncated_file_is_detected(log_file, tmp_path):
    data = log_file.read_bytes()
    for cut in (len(data) // 2, len(data) - 16384, 4096):
        copy = tmp_path / f"cut{cut}.db"
        copy.write_bytes(data[:cut])
        report = verify(copy)
        assert not report.ok, cut


def test_damaged_outcomes_and_sources_are_detected(db):
    db.text_factory = bytes
    digest, outcome = db.execute("SELECT digest, outcome FROM outcomes LIMIT 1").fetchone()
    digest = digest.decode()
    db.execute("UPDATE outcomes SET outcome = CAST(? AS TEXT) WHERE digest = ?",
               (_flip(bytes(outcome), len(outcome) // 2), digest))
    assert _bad(db)
    db.execute("UPDATE outcomes SET outcome = CAST(? AS TEXT) WHERE digest = ?",
               (outcome, digest))
    assert not _bad(db)
    digest, data = db.execute("SELECT digest, bytes FROM blobs LIMIT 1").fetchone()
    db.execute("UPDATE blobs SET bytes = ? WHERE digest = ?",
               (_flip(bytes(data), 10), digest.decode()))
    assert _bad(db)


def _rechain(db, start: int) -> None:
    """What a careful forger does after editing record `start`: recompute every later hash and
    the head, so the chain alone verifies again."""
    db.text_factory = bytes
    prev = db.execute("SELECT hash FROM records WHERE seq = ?", (start - 1,)).fetchone()[0]
    for seq, record in db.execute("SELECT seq, record FROM records WHERE seq >= ? ORDER BY seq",
                                  (start,)).fetchall():
        digest = hashlib.sha256(bytes(prev) + bytes(record)).hexdigest()
        db.execute("UPDATE records SET prev_hash = ?, hash = ? WHERE seq = ?",
                   (prev, digest, seq))
        prev = digest.encode()
    db.execute("UPDATE head SET hash = ?", (prev,))


def test_a_checkpoint_catches_a_rewritten_chain(db):
    """A forger who edits a record and recomputes every later hash and the head defeats the
    chain alone; the checkpoint taken before shows the change."""
    db.text_factory = str
    mark = parse_checkpoint("{}:{}".format(*db.execute(
        "SELECT seq, hash FROM records WHERE seq = 700").fetchone()))
    assert verify_connection(db, mark).ok
    db.text_factory = bytes
    seq, record = next((s, bytes(r)) for s, r in db.execute(
        "SELECT seq, record FROM records WHERE seq >= 200 ORDER BY seq") if b'"due_at":"2026-' in r)
    forged = record.replace(b'"due_at":"2026-', b'"due_at":"2027-', 1)  # a later due time
    db.execute("UPDATE records SET record = CAST(? AS TEXT) WHERE seq = ?", (forged, seq))
    assert _bad(db)[0].seq == seq            # edited: caught by the chain
    _rechain(db, seq)
    assert verify_connection(db).ok          # rewritten consistently: the chain alone agrees
    with_mark = verify_connection(db, mark)
    assert not with_mark.ok and with_mark.problems[0].seq == 700


def test_a_checkpoint_beyond_the_end_means_records_were_removed(db):
    assert not verify_connection(db, (N + 5, "0" * 64)).ok
    with pytest.raises(ValueError):
        parse_checkpoint("12:nothex")


DISAGREES = ("its decision disagrees with the record (ticket, now, policy, request or the facts' "
             "digest)")


@pytest.mark.parametrize("rewrite", ["spaces", "unsorted", "escaped", "float", "surrogate",
                                     "nan", "1e16", "format", "facts-nan",
                                     "facts-surrogate"])
def test_a_rehashed_record_in_another_json_spelling_is_not_canonical(db, rewrite):
    """The same record written another way (whitespace, keys out of order, text escaped, an
    integer spelled as a float), or holding what has no canonical form (a lone surrogate, NaN:
    `verify` raised on these), and the chain recomputed after it: each hash agrees, and
    `verify` still names the record, since only the canonical form is a record's JSON."""
    import json

    db.text_factory = bytes
    seq, text = next((s, bytes(r)) for s, r in db.execute(
        "SELECT seq, record FROM records WHERE seq >= 300 ORDER BY seq") if not r.isascii())
    record = json.loads(text)
    spelled = {
        "spaces": json.dumps(record, sort_keys=True, ensure_ascii=False),
        "unsorted": json.dumps(dict(reversed(record.items())), separators=(",", ":"),
                               ensure_ascii=False),
        "escaped": json.dumps(record, sort_keys=True, separators=(",", ":")),
        "float": text.decode().replace(f',"seq":{seq},', f',"seq":{seq}.0,'),
        # values with no canonical form at all (neither UTF-8 nor JSON can hold them)
        "surrogate": text.decode().replace(',"format":', ',"extra":"\\ud800","format":'),
        "nan": text.decode().replace(',"format":', ',"extra":NaN,"format":'),
        # msgspec's spelling of a float the json module writes `1e+16` (canonical_json's)
        "1e16": text.decode().replace(',"facts":', ',"extra":1e16,"facts":'),
        "format": text.decode().replace(',"format":1,', ',"format":1.0,'),
        # the same inside the facts, whose digest the decision names (`verify` raised too)
        "facts-nan": text.decode().replace('"facts":{', '"facts":{"aaa":NaN,'),
        "facts-surrogate": text.decode().replace('"facts":{', '"facts":{"aaa":"\\ud800",'),
    }[rewrite].encode("utf-8")
    assert spelled != text
    if rewrite not in ("surrogate", "nan", "1e16", "format", "facts-nan", "facts-surrogate"):
        assert json.loads(spelled) == json.loads(text)
    db.execute("UPDATE records SET record = CAST(? AS TEXT) WHERE seq = ?", (spelled, seq))
    _rechain(db, seq)
    problems = _bad(db, everything=True)
    assert [(p.seq, p.message) for p in problems] == [
        (seq, {"float": f"its record says seq {seq}.0 and format 1",
               "format": f"its record says seq {seq} and format 1.0",
               "facts-nan": DISAGREES, "facts-surrogate": DISAGREES}.get(
                   rewrite, "its record is not canonical JSON"))], rewrite


def test_a_record_with_a_float_in_its_canonical_spelling_verifies(db):
    """A float a record holds is read and written back by the json module (msgspec spells some
    floats otherwise): in canonical_json's spelling the (re-chained) record verifies."""
    db.text_factory = bytes
    seq = 400
    text = bytes(db.execute("SELECT record FROM records WHERE seq = ?", (seq,)).fetchone()[0])
    extra = text.replace(b',"facts":', b',"extra":[1e+16,0.1,-2.5e-07],"facts":')
    db.execute("UPDATE records SET record = CAST(? AS TEXT) WHERE seq = ?", (extra, seq))
    _rechain(db, seq)
    assert _bad(db, everything=True) == []
