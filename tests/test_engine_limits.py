"""Custom policies the engine cannot run, or once ran wrongly (found in review).

durable_rules hangs, segfaults or fails with bare codes past its internal limits; these are
caught at compile time. Other cases pin semantics that were once silently wrong.
"""

from __future__ import annotations

import types

import pytest
from conftest import BASE, ticket

from engine import DiagnosticError, evaluate, load_policy
from engine.compile.limits import fnv1a32


def codes(exc: DiagnosticError) -> list[str]:
    return [d.code for d in exc.diagnostics]


def test_too_many_values_for_one_fact_is_a_compile_error(make_policy):
    rows = "\n".join(f"      - [acct{i}, P2]" for i in range(520))
    base = BASE + "facts:\n  account: {type: string}\n"
    with pytest.raises(DiagnosticError) as exc:  # the engine hangs forever at 512
        make_policy(f"tables:\n  - id: accounts\n    inputs: [account]\n    rows:\n{rows}\n"
                    "rules: []\n", base)
    assert codes(exc.value) == ["engine_limit"]
    assert "compared with 520 different values" in str(exc.value)


def test_too_many_range_tests_is_a_compile_error(make_policy):
    rules = "\n".join(f"  - {{id: r{i}, when: {{seats: {{gt: {i}}}}}, then: {{note: n{i}}}}}"
                      for i in range(66))
    with pytest.raises(DiagnosticError) as exc:  # error code 303 at assert time otherwise
        make_policy("rules:\n" + rules + "\n", BASE + "facts:\n  seats: {type: integer}\n")
    assert codes(exc.value) == ["engine_limit"]


def test_too_many_facts_is_a_compile_error(make_policy):
    facts = "\n".join(f"  f{i}: {{type: boolean}}" for i in range(252))
    when = ", ".join(f"f{i}: true" for i in range(252))
    with pytest.raises(DiagnosticError) as exc:  # segfault at 255 properties otherwise
        make_policy(f"rules:\n  - {{id: r, when: {{{when}}}, then: {{assign: P1}}}}\n",
                    BASE + "facts:\n" + facts + "\n")
    assert "engine_limit" in codes(exc.value)


def test_colliding_fact_names_are_a_compile_error(make_policy):
    assert fnv1a32("f_loczw") == fnv1a32("f_vfbpa")
    base = BASE + "facts:\n  f_loczw: {type: boolean}\n  f_vfbpa: {type: boolean}\n"
    with pytest.raises(DiagnosticError) as exc:
        make_policy("rules:\n  - {id: r, when: {f_loczw: true, f_vfbpa: false}, "
                    "then: {assign: P1}}\n", base)
    assert codes(exc.value) == ["engine_name_collision"]


@pytest.mark.parametrize("name", ["kind", "sid", "level"])
def test_engine_names_cannot_be_declared(check_text, name):
    _, diags = check_text(BASE + f"facts:\n  {name}: {{type: string}}\nrules: []\n")
    assert [d.code for d in diags] == ["fact_reserved"]


def test_plan_rule_ids_are_reserved(check_text):
    _, diags = check_text(BASE + "rules:\n  - {id: plans.std.P1, then: {note: x}}\n")
    assert [d.code for d in diags] == ["reserved_rule_id"]


def test_long_conditions_are_never_truncated(make_policy):
    cats = "[outage, degradation, defect, how_to, feature_request, question]"
    cp = make_policy(f"""
    rules:
      - id: wide
        when:
          all:
            - category: {cats}
            - any: [{{category: {cats}}}, {{impact: low}}]
            - any: [{{category: {cats}}}, {{urgency: low}}]
            - any: [{{impact: high}}, {{impact: medium}}]
        then: {{assign: P2}}
    """)
    for category in ("outage", "how_to", "question"):
        d = evaluate(cp, ticket(category=category, impact="high"), cache=False)
        assert d.priority == "P2", category


def test_many_matching_rules_are_not_a_cycle(make_policy):
    rules = "\n".join(
        f"  - {{id: duty{i}, when: {{any: [{{impact: high}}, {{urgency: high}}, "
        f"{{category: outage}}]}}, then: {{note: n{i}}}}}" for i in range(120))
    cp = make_policy("rules:\n" + rules + "\n")
    d = evaluate(cp, ticket(impact="high", urgency="high", category="outage"), cache=False)
    assert len([r for r in d.fired if r.startswith("duty")]) == 120


def test_first_hit_table_rows_keep_file_order_against_rules(make_policy):
    cp = make_policy("""
    tables:
      - id: urgency
        hit: first
        inputs: [urgency]
        rows:
          - [high, P1]
          - [low, P3]
    rules:
      - id: trials-are-p2
        when: {customer.segment: trial}
        then: {assign: P2}
    """)
    for urgency in ("high", "low"):  # the table fires first, then the rule (file order)
        d = evaluate(cp, ticket(urgency=urgency, customer={"segment": "trial"}), cache=False)
        assert d.priority == "P2", urgency


def test_cached_traces_follow_edited_line_numbers(tmp_path):
    source = (BASE + "rules:\n  - {id: p1, then: {assign: P1}}\n")
    path = tmp_path / "policy.yaml"
    path.write_text(source, "utf-8")
    before = evaluate(load_policy(str(path)), ticket()).trace[0].citation
    path.write_text("# a comment\n# another\n" + source, "utf-8")
    after = evaluate(load_policy(str(path)), ticket()).trace[0].citation
    assert after.line == before.line + 2 and after.path == before.path == "policy.yaml"


def test_story_of_a_repeating_rule_tells_each_step(make_policy):
    from engine.explain.render import story

    cp = make_policy("""
    rules:
      - id: start
        then: {assign: P1}
      - id: step-down
        repeat: true
        when: {priority: [P1, P2], environment: staging}
        then: {reclassify: {down: 1}}
    """)
    lines = story(evaluate(cp, ticket(environment="staging"), cache=False))
    assert lines[1].startswith("2. reclassified P1 → P2 by step-down")
    assert lines[2].startswith("3. reclassified P2 → P3 by step-down")
    assert lines[1].count('priority is "P1"') == 1


def test_decision_json_is_a_copy(make_policy):
    cp = make_policy("""
    rules:
      - id: p1
        then: {assign: P1}
        source: {document: doc, quote: original}
    """)
    first = evaluate(cp, ticket()).to_json()
    first["trace"][0]["source"]["quote"] = "REDACTED"
    assert evaluate(cp, ticket()).to_json()["trace"][0]["source"]["quote"] == "original"
    assert evaluate(cp, ticket(), cache=False).to_json()["trace"][0]["source"]["quote"] == \
        "original"


def test_host_zone_aliases_are_not_zones(make_policy):
    from engine import TicketError

    cp = make_policy("rules: []\n")
    with pytest.raises(TicketError):
        evaluate(cp, ticket(customer={"timezone": "localtime"}))


def test_any_mapping_is_a_ticket(make_policy):
    cp = make_policy("rules:\n  - {id: p1, when: {customer.segment: trial}, then: {assign: P1}}\n")
    t = types.MappingProxyType(ticket(customer=types.MappingProxyType({"segment": "trial"})))
    assert evaluate(cp, t).priority == "P1"


def test_rule_target_uses_the_plan_calendar(make_policy):
    cp = make_policy("""
    rules:
      - id: p1
        then: {assign: P1}
      - id: quick
        stage: target
        when: {environment: production}
        then: {target: PT2H}
    """)
    d = evaluate(cp, ticket(environment="production", submitted_at="2026-03-06T16:30:00+01:00"))
    assert d.sla.rule == "quick" and d.sla.calendar == "office"
    assert d.sla.due_at.isoformat() == "2026-03-09T10:30:00+01:00"
