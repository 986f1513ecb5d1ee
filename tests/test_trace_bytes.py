"""`trace_bytes` and `projected_bytes` write canonical JSON without building it whole.

`trace_bytes` splices a trace's canonical JSON from per-rule parts: it must write exactly
`canonical_bytes` of the events' `to_json()`, whatever the matched facts and changes hold
(floats, big integers, nested data, text that looks like JSON), and must not hand one rule's
parts to another event that differs in any member it keeps."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from engine.core.canonical import canonical_bytes, projected_bytes
from engine.core.decision_json import trace_bytes
from engine.core.records import Change, Citation, TraceEvent

TEXT = st.text(max_size=12)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                   st.floats(allow_nan=False, allow_infinity=False), TEXT)
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)
CITATION = st.one_of(st.none(), st.builds(Citation, st.sampled_from(["cloudtalk", "p%"]),
                                          st.sampled_from(["sha256:a", "sha256:b"]),
                                          st.just("policy.yaml"), st.integers(1, 9)))
SOURCES = [None, {"quote": "Als je geen prioriteit kiest", "page": 2}, {"quote": "%s \"x\""}]
EVENT = st.builds(
    TraceEvent, st.integers(1, 10**6), st.sampled_from(["rule", "channels", "no_sla"]),
    st.one_of(st.none(), st.sampled_from(["r1", "r2"])), CITATION,
    st.one_of(st.none(), st.sampled_from(["default", "override"])),
    st.lists(st.tuples(st.sampled_from(["plan", "impact", "customer.tier"]), VALUE),
             max_size=3, unique_by=lambda pv: pv[0]).map(tuple),
    st.lists(st.builds(Change, st.sampled_from(["priority", "target"]), VALUE, VALUE,
                       st.one_of(st.none(), TEXT)), max_size=2).map(tuple),
    st.one_of(st.none(), TEXT),
    st.sampled_from(range(len(SOURCES))).map(lambda i: SOURCES[i]
                                             if SOURCES[i] is None else dict(SOURCES[i])))


@given(st.lists(EVENT, max_size=6))
def test_trace_bytes_are_the_canonical_json_of_the_events(trace):
    assert trace_bytes(tuple(trace)) == canonical_bytes([e.to_json() for e in trace])


def test_a_rule_whose_source_changed_is_encoded_anew():
    cite = Citation("cloudtalk", "sha256:a", "policy.yaml", 3)
    first = TraceEvent(1, "rule", "r1", cite, "default", (), (), "why", {"quote": "one"})
    again = first._replace(source={"quote": "two"})
    assert b'"one"' in trace_bytes((first,))
    assert b'"two"' in trace_bytes((again,)) and b'"one"' not in trace_bytes((again,))


NAMES = ["id", "plan", "customer.tier", "events", "a", "zz", "é"]
PATHS = st.lists(st.sampled_from(NAMES), max_size=6).map(tuple)
FACT = st.one_of(TEXT, st.booleans(), st.integers(-2**70, 2**70), st.none(), VALUE)  # mostly flat


@given(PATHS, st.dictionaries(st.sampled_from([*NAMES, "q"]), FACT, max_size=7))
@example(("a", "zz"), {"a": 1e16, "zz": "x"})   # msgspec spells this float `1e16`
@example(("zz", "a", "id"), {"a": "1", "zz": True, "id": 2**70})
@example(("a", "plan"), {"a": {"S2": "PT4H", "S1": ["x", {"b": 1, "a": None}]}, "plan": "p"})
def test_projected_bytes_are_the_canonical_json_of_the_present_facts(paths, values):
    facts = {p: v for p in paths if (v := values.get(p)) is not None}
    assert projected_bytes(paths, values) == canonical_bytes(facts)
    assert projected_bytes(tuple(paths), dict(values)) == canonical_bytes(facts)  # a copy
