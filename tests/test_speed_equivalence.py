"""The fast paths of issue 16 against the slow ones they stand in for, on every bundled policy.

- the decision cache (with its per-variant outcomes) against the engine, on bench_evaluate's
  realistic (Zipf) and uniform corpora;
- `Decision.to_json_bytes()` against the canonical JSON of `to_json()`, and its pretty form
  against orjson's indentation of `to_json()` (what `ticket-policy evaluate` prints);
- the ticket checker's compiled fast path against its full check (a non-dict Mapping always
  takes the full check), on valid tickets and on tickets with a fact broken at random.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import orjson
import pytest
from conftest import campaign

from engine import evaluate, load_policy
from engine.core.decision import canonical_bytes
from engine.run.evaluator import clear_cache, default_evaluator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_evaluate import generate  # noqa: E402

POLICIES = ["cloudtalk", "credenti", "csd-group", "zmanda"]
NOW = datetime(2026, 7, 1, tzinfo=UTC)


def _bytes_agree(d) -> None:
    assert d.to_json_bytes() == canonical_bytes(d.to_json())
    assert d.canonical().encode("utf-8") == canonical_bytes(d.to_json())
    assert d.to_json_bytes(pretty=True) == orjson.dumps(d.to_json(), option=orjson.OPT_INDENT_2)


@pytest.mark.parametrize("pid", POLICIES)
@pytest.mark.parametrize("skew", [2.0, 0.0], ids=["realistic", "uniform"])
def test_cache_equals_engine_on_the_benchmark_corpora(pid, skew):
    cp = load_policy(pid)
    tickets = generate(cp, campaign(200, 500), random.Random(f"{pid}{skew}"), skew=skew)
    clear_cache()
    for t in tickets:  # fill the cache; then every ticket is answered from it
        evaluate(cp, t)
    for i, t in enumerate(reversed(tickets)):
        submitted = datetime.fromisoformat(t["submitted_at"])
        now = NOW if i % 2 and submitted <= NOW else None
        cached = evaluate(cp, t, now=now)
        assert cached.to_json() == evaluate(cp, t, now=now, cache=False).to_json(), t
        _bytes_agree(cached)
        _bytes_agree(cached.with_request_id(f"r-{i}"))
        snapshot = default_evaluator().evaluate(cp, t)  # the run stage's: no timeline parts
        _bytes_agree(snapshot)


def _broken(cp, t: dict, rnd: random.Random) -> dict:
    """`t` with one fact (or the object holding it) replaced by something the checker may
    refuse, accept or ignore."""
    t = {k: (dict(v) if isinstance(v, dict) else v) for k, v in t.items()}
    path = rnd.choice([*cp.policy.facts, "customer", "contract", "subject", "custmer"])
    value = rnd.choice([None, "", "P9", "x" * 3, "ünïcode", 7, 9.0, True, [], {}, {"a": 1},
                        "2026-02-30T10:00:00Z", "2026-03-01T10:00:00", "1800-01-01T00:00:00Z",
                        "2026-03-01T10:00:00+01:00", "Europe/Berlin", "DE", "production"])
    *parents, leaf = path.split(".")
    node = t
    for p in parents:
        child = node.get(p)
        if not isinstance(child, dict):
            child = node[p] = {}
        node = child
    node[leaf] = value
    return t


@pytest.mark.parametrize("pid", POLICIES)
def test_checker_fast_path_equals_full_check(pid):
    cp = load_policy(pid)
    checker = cp.checker
    rnd = random.Random(pid)
    tickets = generate(cp, 300, rnd) + generate(cp, 300, rnd, skew=0)
    fast_hits = 0
    for i, t in enumerate(tickets):
        for candidate in (t, _broken(cp, t, rnd), _broken(cp, _broken(cp, t, rnd), rnd)):
            for strict in (False, True):
                quick = checker.check(candidate, strict)
                full = checker.check(MappingProxyType(candidate), strict)
                assert quick == full, (i, candidate)
                fast_hits += checker._quick(candidate) is not None
    assert fast_hits > len(tickets) / 2  # the fast path did decide most valid tickets


def _timestamp_as_the_pattern_reads_it(text: str) -> object:
    """The full reading of `parse_timestamp` (the pattern, then fromisoformat), or "error"."""
    from engine.check.ticket_values import _RFC3339

    m = _RFC3339.match(text)
    if not m:
        return "error"
    year, frac, offset, off_h, off_m = m.groups()
    if offset is None or off_h is not None and (off_h > "23" or off_m > "59") \
            or not "1900" <= year <= "2999":
        return "error"
    norm = text.upper().replace(" ", "T")
    if frac and len(frac) > 7:
        norm = norm.replace(frac, frac[:7], 1)
    try:
        return datetime.fromisoformat(norm)
    except ValueError:
        return "error"


def test_timestamp_fast_form_reads_as_the_pattern_does():
    from engine.check.tickets import parse_timestamp

    rnd = random.Random(16)
    seeds = ["2026-03-02T09:30:00+01:00", "2026-03-02T09:30:00Z", "1899-12-31T23:59:59Z",
             "2026-02-30T10:00:00Z", "2026-W01-1T09:30:00+01:00", "3000-01-01T00:00:00-23:59"]
    for seed in seeds:
        for _ in range(3000):
            chars = list(seed)
            for _ in range(rnd.randint(1, 3)):
                chars[rnd.randrange(len(chars))] = rnd.choice("0123456789-:T+Z tz.W٣")
            text = "".join(chars)
            try:
                got: object = parse_timestamp(text)
            except ValueError:
                got = "error"
            expected = _timestamp_as_the_pattern_reads_it(text)
            assert got == expected, text
            if isinstance(got, datetime) and isinstance(expected, datetime):
                assert got.utcoffset() == expected.utcoffset(), text


def test_timestamps_read_again_come_from_a_bounded_memo():
    """A timestamp text read before is answered from the memo with the very value first read;
    errors are never kept; the memo never holds more than its bound."""
    from engine.check import ticket_values
    from engine.check.ticket_values import TIMESTAMP_CACHE_SIZE, parse_timestamp

    first = parse_timestamp("2026-03-02T09:30:00+01:00")
    assert parse_timestamp("2026-03-02T09:30:00+01:00") is first
    assert parse_timestamp("2026-03-02T08:30:00Z") == first  # one instant, its own text
    for bad in ("2026-02-30T10:00:00Z", "2026-03-02T09:30:00"):
        for _ in range(2):
            with pytest.raises(ValueError):
                parse_timestamp(bad)
        assert bad not in ticket_values._read
    for n in range(TIMESTAMP_CACHE_SIZE + 10):
        text = f"2026-03-02T09:{n // 60 % 60:02d}:{n % 60:02d}+0{n // 3600}:00"
        assert parse_timestamp(text) == _timestamp_as_the_pattern_reads_it(text)
        assert len(ticket_values._read) <= TIMESTAMP_CACHE_SIZE
