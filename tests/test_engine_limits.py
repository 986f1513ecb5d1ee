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


# ---- the engine's limits, measured on durable_rules itself -------------------------------
# Each case builds a bare ruleset at a limit and one past it, in a child process (past some
# limits the engine segfaults or loops forever). engine/compile/limits.py models these.

ENGINE_PROBE = r"""
import json, re, sys
from durable import engine

class Host(engine.Host):
    def _run(self):
        pass

def rule(*tests):
    return {"all": [{"m": {"$and": [{"kind": "t"}, *tests]}}], "run": lambda c: None}

def probe(case, n, extra):
    fact = {"sid": "1", "kind": "t", "f": None, "env": "staging"}
    if case == "patterns":       # n rules ending on one shared node
        rules = {f"r{i}": rule({"env": "staging"}) for i in range(n)}
    elif case == "forwards":     # n `$or` sharing an alternative the fact does not match
        fact["env"] = "other"
        rules = {f"r{i}": rule({"$or": [{"env": "staging"}, {"env": f"x{i}"}]})
                 for i in range(n)}
    elif case == "values":       # n values of one property after one node
        rules = {f"r{i}": rule({"env": f"v{i}"}) for i in range(n)}
    elif case == "mixed":        # n tests of two properties after one node
        rules = {f"r{i}": rule({"env": f"v{i}"} if i % 2 else {"g": i}) for i in range(n)}
    elif case == "nulls":        # n identical null tests: never shared, all match the fact
        rules = {f"r{i}": rule({"f": None}) for i in range(n)}
    elif case == "matching":     # n distinct comparisons that all hold
        fact["g"] = 10**6
        rules = {f"r{i}": rule({"$gt": {"g": i}}) for i in range(n)}
    elif case == "nested":       # n // 100 matching nodes with n % 100 matching children each
        fact["g"] = 1
        a, b = divmod(n, 100)
        rules = {f"r{i}_{j}": rule({"$neq": {"g": -1 - i}}, {"f": None})
                 for i in range(a) for j in range(b)}
    elif case == "ors":          # one pattern with n `$or`
        rules = {"r": rule(*({"$or": [{"env": "staging"}, {"env": f"x{i}"}]}
                             for i in range(n)))}
    elif case == "pri":          # pri given as JSON text (after "all" it is not checked)
        rules = {"r": {"pri": json.loads(extra), **rule()}}   # first, as the compiler writes it
    host = Host()                # a fresh host per case: an engine error breaks its host
    try:
        host.register_rulesets({"x": rules})
        host.assert_fact("x", fact)
        return "ok"
    except engine.MessageNotHandledException:
        return "ok"
    except Exception as exc:
        code = re.search(r"error code: (\d+)", str(exc))
        return f"error {code.group(1)}" if code else f"error {type(exc).__name__}"

for arg in sys.argv[1:]:
    case, n, extra = (arg.split("|") + [""])[:3]
    print(probe(case, int(n), extra), flush=True)
"""


def engine_probe(*cases: tuple, timeout: float = 30) -> list[str]:
    """What bare durable_rules does with probe rulesets (case, n[, extra]), one child process
    for all of them: `ok`, `error N`, `crash` or `hang` (for the case that crashed or hung)."""
    import subprocess
    import sys

    args = ["|".join(map(str, c)) for c in cases]
    try:
        done = subprocess.run([sys.executable, "-c", ENGINE_PROBE, *args],
                              capture_output=True, text=True, timeout=timeout)
        out, failed = done.stdout.split(), "crash" if done.returncode else None
    except subprocess.TimeoutExpired as exc:
        out, failed = (exc.stdout or b"").decode().split(), "hang"
    results = [" ".join(out[i:i + 2]) if out[i] == "error" else out[i] for i in
               _starts(out)]
    return results + ([failed] if failed else [])


def _starts(words: list[str]) -> list[int]:
    starts, i = [], 0
    while i < len(words):
        starts.append(i)
        i += 2 if words[i] == "error" else 1
    return starts


MEASURED = [
    # 256 and 257 are undefined (the list has no terminator): a crash, a silent overrun or the
    # error, depending on the memory after it; 258 always fails
    ("patterns", 255, "ok"), ("patterns", 258, "error 108"),
    ("forwards", 127, "ok"), ("forwards", 130, "error 107"),
    ("values", 511, "ok"), ("mixed", 511, "ok"),
    ("nulls", 64, "ok"), ("nulls", 65, "error 303"),
    ("matching", 64, "ok"), ("matching", 65, "error 303"),
    ("nested", 1055, "ok"), ("nested", 1056, "error 303"),    # 10 - 1 + 55 = 64 pending
    ("nested", 3035, "ok"), ("nested", 3036, "error 303"),    # 30 - 1 + 35
    ("ors", 14, "ok"), ("ors", 15, "error 113"),              # 2 + 2 * 15 = 32 expressions
    ("pri", 0, "ok", "0"), ("pri", 0, "ok", "65535"), ("pri", 0, "error 102", "1.0"),
    ("pri", 0, "error 102", '"3"'), ("pri", 0, "error 102", "true"),
]


@pytest.fixture(scope="module")
def measured() -> dict:
    cases = [(c[0], c[1], *c[3:]) for c in MEASURED]
    return dict(zip(cases, engine_probe(*cases), strict=True))


@pytest.mark.parametrize("row", MEASURED, ids=lambda r: "-".join(map(str, r)))
def test_engine_limit_measured(measured, row):
    case, n, expected, *extra = row
    assert measured[(case, n, *extra)] == expected


@pytest.mark.slow
@pytest.mark.parametrize(("case", "n", "expected"), [
    ("patterns", 256, "crash"),       # the 256-slot list is overrun
    ("values", 512, "hang"), ("mixed", 512, "hang"),   # the 512-slot table is full
])
def test_engine_limit_measured_past_it_crashes_or_hangs(case, n, expected):
    assert engine_probe((case, n), timeout=3) == [expected]


# ---- the compile stage's model of them: at each limit a policy runs, one past it is reported --

def _rules(n: int, when: str, then: str = "note: n#") -> str:
    """n rules `r0`... with this condition and action (`#`: the rule's number)."""
    return "rules:\n" + "".join(
        f"  - {{id: r{i}, when: {when}, then: {{{then}}}}}\n".replace("#", str(i))
        for i in range(n))


def _limit_error(make_policy, rules: str, base: str = BASE) -> str:
    with pytest.raises(DiagnosticError) as exc:
        make_policy(rules, base)
    assert set(codes(exc.value)) == {"engine_limit"}, str(exc.value)
    return str(exc.value)


def test_rules_ending_on_one_test_at_the_engine_limit(make_policy):
    cp = make_policy(_rules(255, "{environment: staging}"))
    assert len(evaluate(cp, ticket(environment="staging"), cache=False).fired) >= 255
    message = _limit_error(make_policy, _rules(256, "{environment: staging}"))
    assert "256 rule alternatives end on the test `environment` is `staging`" in message
    assert "(error 108)" in message and "rule `r255`" in message


def test_values_after_one_test_at_the_engine_limit(make_policy):
    base = BASE + "facts:\n  account: {type: string}\n"
    cp = make_policy(_rules(511, "{account: a#}"), base)
    assert "r510" in evaluate(cp, ticket(account="a510"), cache=False).fired
    message = _limit_error(make_policy, _rules(512, "{account: a#}"), base)
    assert "`account` is compared with 512 different values" in message


def test_tests_holding_at_once_at_the_engine_limit(make_policy):
    rules = _rules(64, "{environment: {present: true}}")
    cp = make_policy(rules)
    assert len(evaluate(cp, ticket(environment="staging"), cache=False).fired) == 64
    message = _limit_error(make_policy, _rules(65, "{environment: {present: true}}"))
    assert "up to 65 tests can hold at once" in message and "(error 303)" in message


def test_lists_sharing_an_alternative_past_the_engine_limit(make_policy):
    base = BASE + "facts:\n  code: {type: string}\n"
    message = _limit_error(make_policy, _rules(128, "{code: [shared, c#]}"), base)
    assert "128 lists of alternatives share the test `code` is `shared`" in message
    assert "(error 107)" in message


def test_lists_in_one_alternative_at_the_engine_limit(make_policy):
    others = ["defect", "how_to", "question", "degradation", "feature_request"]
    lists = [[o] for o in others] + [[a, b] for i, a in enumerate(others) for b in others[i + 1:]]

    def policy(k: int) -> str:
        return ("rules:\n  - id: wide\n    when: {all: [" + ", ".join(
            f"{{category: [outage, {', '.join(extra)}]}}" for extra in lists[:k]) +
            "]}\n    then: {assign: P1}\n")
    cp = make_policy(policy(14))
    assert evaluate(cp, ticket(category="outage"), cache=False).priority == "P1"
    message = _limit_error(make_policy, policy(15))
    assert "needs 32 engine expressions" in message and "rule `wide`" in message


def test_a_whole_number_salience_written_as_a_float_runs(make_policy):
    cp = make_policy("""
    rules:
      - {id: low, salience: 1.0, then: {note: low}}
      - {id: high, salience: 2.0, then: {note: high}}
    """)
    assert [e.rule for e in evaluate(cp, ticket(), cache=False).trace[:2]] == ["high", "low"]
