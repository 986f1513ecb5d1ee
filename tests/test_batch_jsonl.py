"""Batch lines: the fast parse agrees with the loader (the one ticket reader) on every line, and
records are canonical JSON — byte for byte `Decision.canonical()`."""

from __future__ import annotations

import json
import math

import msgspec
import pytest
from batch_corpus import golden_corpus, tickets
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Evaluator, load_policy
from engine.check.tickets import parse_timestamp
from engine.core.decision import canonical_json
from engine.load import MAX_DEPTH
from engine.ops.jsonl import DecisionEncoder, document, encode, parse_line


def slow(raw: bytes):
    """What `ticket-policy evaluate` makes of the same bytes."""
    doc, problems = document(raw, "in.jsonl", 3)
    return (doc.data if doc is not None else None), problems


def same(raw: bytes) -> None:
    fast = parse_line(raw, "in.jsonl", 3)
    reference = slow(raw)
    assert [d.to_json() for d in fast[1]] == [d.to_json() for d in reference[1]]
    assert json.dumps(fast[0], sort_keys=True) == json.dumps(reference[0], sort_keys=True)
    assert type(fast[0]) is type(reference[0])


HOSTILE = [
    b"", b" ", b"{", b"}", b"[1,]", b'{"a":1,}', b"{'a': 1}", b'{"a" 1}', b"01", b"1.", b".5",
    b"+1", b"-", b"tru", b"nul", b'"\\x"', b'"\\u12"', b'"\\ud800"', b'"\\udc00\\ud800"',
    b'{"a": "\x01"}', b"NaN", b"Infinity", b"-Infinity", b"[1e400]", b"[-1e400]", b"1e-400",
    b"123456789012345678901234567890", b"-0", b"0.0", b"1E5", b"[]", b"{}", b'""',
    b'{"a":1,"a":2}', b'{"a":{"b":1,"b":1}}', b'{"a" : 1 , "a" : 2}', b'{"a\\u0062":1,"ab":2}',
    b'{"a":"\\":","b":1}', b'{"a\\\\":1,"a\\\\":2}', b'{"k":":","k":1}', b'{"x:y":1,"x:y":2}',
    b'{"a":"b:c"}', b"\xef\xbb\xbf{}", b"\xef\xbb\xbf", b"\xff", b'{"a":"\xc3"}', b"[1] [2]",
    b"{} x", b"\t{}\r", b'{"a":1}\r', "[\u2028]".encode(), b'"\xe2\x80\xa8"',
    b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH,
    b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), b"[" * 5000,
]


@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_fast_parse_agrees_with_the_loader(raw):
    same(raw)


def test_golden_corpus_lines_agree_with_the_loader():
    for raw in golden_corpus(load_policy("zmanda")):
        same(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from([{}, {"indent": 1}, {"separators": (" , ", " : ")}]))
def test_fast_parse_agrees_on_any_json(value, style):
    same(json.dumps(value, **style).encode("utf-8"))
    same(json.dumps(value, ensure_ascii=False, **style).encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "a:b", 'q"', "é"]), json_values, max_size=3),
       st.data())
def test_fast_parse_finds_every_repeated_key(value, data):
    text = json.dumps(value)
    if value:  # repeat one key, with the value of another (colons and all)
        key = data.draw(st.sampled_from(sorted(value)))
        other = json.dumps(data.draw(json_values))
        text = text[:-1] + f", {json.dumps(key)}: {other}}}"
    same(text.encode())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40) | st.text(alphabet='{}[]":,\\ 0123456789.eE-+tfnulsa', max_size=30)
       .map(str.encode))
def test_fast_parse_agrees_on_garbage(raw):
    same(raw)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.just(0.0), st.floats(min_value=1e-4, max_value=1e16, exclude_max=True),
                 st.floats(min_value=-1e16, max_value=-1e-4, exclude_min=True)))
def test_encode_is_canonical_json_for_engine_numbers(x):
    """The numbers a decision can hold (the engine takes 0 and 1e-4 <= |x| < 1e16)."""
    assert encode({"v": [x, -x, 1, True, None, "é\u2028\x1f"]}) == \
        canonical_json({"v": [x, -x, 1, True, None, "é\u2028\x1f"]}).encode("utf-8")


def test_encode_escapes_what_utf8_cannot_carry():
    out = encode({"ticket_id": "\ud800x"})
    assert out == b'{"ticket_id":"\\ud800x"}'
    assert json.loads(out) == {"ticket_id": "\ud800x"}


@pytest.mark.parametrize("pid", ["cloudtalk", "zmanda", "credenti", "csd-group"])
def test_decision_encoder_writes_canonical_decisions(pid):
    cp = load_policy(pid)
    corpus = tickets(cp, 3000, seed=11)
    encoder = DecisionEncoder()
    evaluator = Evaluator()
    for now in (None, parse_timestamp("2026-07-01T12:00:00Z")):
        for d in evaluator.evaluate_many(cp, corpus, now=now):
            if not hasattr(d, "outcome"):
                continue
            assert encoder.encode(d) == d.canonical().encode("utf-8")


def test_decision_encoder_with_a_request_id():
    cp = load_policy("cloudtalk")
    d = Evaluator().evaluate(cp, tickets(cp, 1)[0]).with_request_id("r-1")
    assert DecisionEncoder().encode(d) == d.canonical().encode()


def test_msgspec_keeps_integers_exact():
    assert msgspec.json.decode(b"123456789012345678901234567890") == 123456789012345678901234567890
    assert math.isinf(json.loads("1e400"))


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_canonical_bytes_are_canonical_json(value):
    """sha256_of takes msgspec for data without floats: the same bytes as canonical_json."""
    from engine.core.decision import canonical_bytes

    try:
        expected = canonical_json(value).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: neither can write it
        with pytest.raises(UnicodeEncodeError):
            canonical_bytes(value)
        return
    assert canonical_bytes(value) == expected
