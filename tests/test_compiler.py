"""Compile stage: DNF with absent-aware negation, patterns, firing bands, digest, key paths."""

from __future__ import annotations

from engine.compile.passes import _literal
from engine.core.logic import to_dnf
from engine.core.model import Condition, Test


def leaf(path, op, value=None):
    return Condition("test", test=Test(path, op, value))


def ops(dnf):
    return [[(t.path, t.op, t.value) for t in conj] for conj in dnf]


def test_dnf_pushes_negation_to_leaves():
    cond = Condition("not", (Condition("all", (leaf("environment", "eq", "production"),
                                               leaf("category", "in", ("how_to",)))),))
    assert ops(to_dnf(cond)) == [[("environment", "ne", "production")],
                                 [("category", "not_in", ("how_to",))]]


def test_dnf_negated_comparison_includes_absent():
    assert ops(to_dnf(Condition("not", (leaf("seats", "lt", 5),)))) == [
        [("seats", "absent", None)], [("seats", "ge", 5)]]


def test_dnf_product_of_any():
    cond = Condition("all", (Condition("any", (leaf("a", "eq", 1), leaf("a", "eq", 2))),
                             Condition("any", (leaf("b", "eq", 1), leaf("b", "eq", 2)))))
    assert len(to_dnf(cond)) == 4


def test_literals_treat_absent_as_different():
    assert _literal(Test("environment", "ne", "production")) == {
        "$or": [{"environment": None}, {"$neq": {"environment": "production"}}]}
    assert _literal(Test("priority", "in", ("P1", "P2"))) == {
        "$or": [{"level": "P1"}, {"level": "P2"}]}
    assert _literal(Test("entitlement.plan", "eq", "std")) == {"plan": "std"}
    assert _literal(Test("seats", "le", 3)) == {"$lte": {"seats": 3}}


def test_every_pattern_has_a_kind_and_bands_follow_stages(make_policy):
    cp = make_policy("""
    rules:
      - id: agent
        stage: final
        when: {agent_priority: {present: true}}
        then: {reclassify: {fact: agent_priority}}
      - id: take
        when: {requested_priority: {present: true}}
        then: {assign: {fact: requested_priority}}
      - id: fallback
        then: {default: P3}
    """)
    ruleset = cp.ruleset(lambda cr: (lambda c: None))[cp.ruleset_name]
    for name, rule in ruleset.items():
        for pattern in rule["all"]:
            (expr,) = pattern.values()
            assert "kind" in str(expr), name
    pri = {cr.name.split("#")[0]: cr.pri for cr in cp.compiled}
    assert pri["take"] < pri["fallback"] < pri["agent"] < pri["plans.std.P1"]
    assert ruleset["$sentinel"]["pri"] == 65535


def test_unsatisfiable_alternatives_are_dropped(make_policy):
    cp = make_policy("""
    rules:
      - id: never
        when: {all: [{environment: production}, {environment: staging}]}
        then: {assign: P1}
    """)
    assert not [cr for cr in cp.compiled if cr.name.startswith("never#")]


def test_digest_is_content_hash(make_policy):
    a = make_policy("rules: []\n")
    b = make_policy("rules: []\n")
    c = make_policy("rules:\n  - {id: x, then: {assign: P1}}\n")
    assert a.digest == b.digest != c.digest
    assert a.digest.startswith("sha256:") and len(a.digest) == 71
    assert a.ruleset_name.startswith("mini@")


def test_key_paths_are_what_decisions_depend_on(make_policy):
    cp = make_policy("""
    rules:
      - id: take
        when: {requested_priority: {present: true}}
        then: {assign: {fact: requested_priority}}
      - id: env
        when: {environment: staging}
        then: {reclassify: P3}
    """)
    assert cp.key_paths == ("environment", "plan", "requested_priority")
    assert cp.ticket_paths == ("environment", "requested_priority")
