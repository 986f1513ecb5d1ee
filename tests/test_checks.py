"""Check stage: schema errors at their YAML location, then semantic errors with hints."""

from __future__ import annotations

from conftest import BASE


def codes(diags):
    return [d.code for d in diags]


def one(diags, code):
    found = [d for d in diags if d.code == code]
    assert found, f"no {code} in {[d.render() for d in diags]}"
    return found[0]


def test_valid_mini_policy(check_text):
    policy, diags = check_text(BASE + "rules: []\n")
    assert diags == [] and policy is not None
    assert [r.id for r in policy.rules] == ["plans.none.no-guarantee", "plans.std.P1",
                                            "plans.std.P2", "plans.std.P3"]


def test_unknown_property_located_with_hint(check_text):
    text = BASE + "rules:\n  - id: r\n    then: {assign: P1}\n    becuase: typo\n"
    _, diags = check_text(text)
    d = one(diags, "schema_unknown_property")
    assert "`becuase`" in d.message and d.hint == "did you mean `because`?"
    assert (d.location.line, d.location.column) == (text.count("\n") , 5)


def test_bad_duration_and_channel(check_text):
    text = BASE.replace("P1: PT1H", "P1: 1h").replace("[email, portal]", "[email, portl]")
    _, diags = check_text(text + "rules: []\n")
    assert "schema_pattern" in codes(diags)
    enum = one(diags, "schema_enum")
    assert enum.hint == "did you mean `portal`?"
    pattern = one(diags, "schema_pattern")
    assert "ISO 8601 duration" in pattern.message


def test_missing_required_top_level(check_text):
    _, diags = check_text("id: x\ntitle: t\n")
    assert {d.message for d in diags} == {
        f"the policy is missing required property `{p}`"
        for p in ("version", "sources", "levels", "rules")}  # every one, not one per place


def test_unknown_fact_and_value_with_did_you_mean(check_text):
    text = BASE + """rules:
  - id: r1
    when: {envirnment: production}
    then: {assign: P1}
  - id: r2
    when: {environment: producton, category: howto}
    then: {assign: P2}
"""
    _, diags = check_text(text)
    fact = one(diags, "unknown_fact")
    assert fact.hint == "did you mean `environment`?" and fact.rule == "r1"
    assert fact.location.line == BASE.count("\n") + 3
    values = [d for d in diags if d.code == "unknown_value"]
    assert {d.hint for d in values} == {"did you mean `production`?", "did you mean `how_to`?"}


def test_unknown_level_plan_calendar(check_text):
    text = BASE + """rules:
  - id: r1
    then: {assign: P5}
  - id: r2
    when: {plan: standard}
    then: {use_plan: premum}
  - id: r3
    then: {target: {within: PT1H, calendar: ofice}}
"""
    _, diags = check_text(text)
    assert one(diags, "unknown_level").hint == "levels: P1, P2, P3"
    assert one(diags, "unknown_calendar").hint == "did you mean `office`?"
    plans = [d for d in diags if d.code == "unknown_plan"]
    assert len(plans) == 2


def test_duplicate_rule_id_and_unknown_source(check_text):
    text = BASE + """rules:
  - id: r1
    then: {assign: P1}
    source: {document: dco, quote: "x"}
  - id: r1
    then: {assign: P2}
"""
    _, diags = check_text(text)
    assert "duplicate_rule_id" in codes(diags)
    assert one(diags, "unknown_source").hint == "did you mean `doc`?"


def test_operator_and_type_checks(check_text):
    text = BASE + """rules:
  - id: r1
    when: {category: {lt: 3}}
    then: {assign: P1}
  - id: r2
    when: {customer.reachable: "no"}
    then: {assign: P1}
  - id: r3
    then: {assign: {fact: environment}}
"""
    _, diags = check_text(text)
    assert {"operator_type", "type_mismatch", "fact_not_level"} <= set(codes(diags))


def test_two_priority_actions_rejected(check_text):
    text = BASE + "rules:\n  - id: r1\n    then: {assign: P1, reclassify: P2}\n"
    _, diags = check_text(text)
    assert one(diags, "schema_conflicting_actions").hint == "split them into two rules"


def test_table_row_width_and_levels(check_text):
    text = BASE + """tables:
  - id: t
    inputs: [urgency, impact]
    rows:
      - [high, high, P1]
      - [high, P2]
      - [low, loww, P9]
rules: []
"""
    _, diags = check_text(text)
    assert {"table_row_width", "unknown_level", "unknown_value"} <= set(codes(diags))


def test_calendar_problems_are_located(check_text):
    text = BASE.replace('mon-fri: ["09:00-17:00"]', 'mon-fri: ["17:00-09:00"]') + "rules: []\n"
    _, diags = check_text(text)
    d = [d for d in diags if d.code.startswith("calendar_")][0]
    assert d.location.line == 10 and d.code == "calendar_interval_order"


def test_yaml_hazard_reported_through_check_file(check_text):
    _, diags = check_text(BASE + "rules: []\nnotes: [yes]\n")
    assert codes(diags) == ["yaml_ambiguous_bool"]


HOURS = 'hours: {mon-fri: ["09:00-17:00"]}'
ONE_OF_MISTAKES = BASE.replace(HOURS, HOURS + "\n    holiday: {country: DE}") + """rules:
  - id: r1
    when: {environment: {in: production}}
    then: {reclassify: {dwn: 1}}
"""


def test_one_of_errors_come_from_the_branch_the_author_meant(check_text):
    _, diags = check_text(ONE_OF_MISTAKES)
    by_message = {d.message: d for d in diags}
    holiday = by_message["unknown property `holiday` in `calendars.office`"]
    assert holiday.hint == "did you mean `holidays`?"
    dwn = by_message["unknown property `dwn` in `rules[0].then.reclassify`"]
    assert dwn.hint == "did you mean `down`?" and dwn.rule == "r1"
    listed = by_message['`rules[0].when.environment.in` must be a list, got `"production"`']
    assert listed.rule == "r1"
    assert len(diags) == 3  # one per mistake, no oneOf noise


def test_declared_fact_default_must_be_one_of_its_values(check_text):
    text = BASE.replace("default_plan: std", "default_plan: std\nfacts:\n  tier: {type: string, "
                        "enum: [gold, silver], default: golden}") + "rules: []\n"
    _, diags = check_text(text)
    d = one(diags, "bad_default")
    assert d.hint == "did you mean `gold`?"


def test_every_unknown_key_is_reported_and_then_as_list_is_one_error(check_text):
    text = BASE + "rules:\n  - id: r\n    wehn: {environment: production}\n    thn: x\n" \
                  "    then: [assign, P1]\n"
    _, diags = check_text(text)
    assert sorted((d.code, d.hint) for d in diags) == [
        ("schema_type", None),
        ("schema_unknown_property", "did you mean `then`?"),
        ("schema_unknown_property", "did you mean `when`?"),
    ]


def test_calendar_key_conflicts_have_precise_codes(check_text):
    text = BASE.replace("always: {preset: 24x7, timezone: UTC}",
                        'always: {preset: 24x7, timezone: UTC, hours: {mon: ["09:00-17:00"]}}')
    _, diags = check_text(text + "rules: []\n")
    assert [d.code for d in diags] == ["calendar_preset_conflict"]


def test_bad_day_key_suggests_a_day_range(check_text):
    text = BASE.replace("mon-fri:", "mon-fr:") + "rules: []\n"
    _, diags = check_text(text)
    assert [(d.code, d.hint) for d in diags] == [("schema_pattern", "did you mean `mon-fri`?")]


def test_duplicate_level_and_plan_calendar_typo_reported_once(check_text):
    text = BASE.replace("levels: [P1, P2, P3]", "levels: [P1, P2, P2]") + "rules: []\n"
    _, diags = check_text(text)
    assert [(d.code, d.message) for d in diags] == [
        ("schema_duplicate_items", "`levels` lists `P2` more than once")]
    text = BASE.replace("calendar: office", "calendar: ofice") + "rules: []\n"
    _, diags = check_text(text)
    assert [d.code for d in diags] == ["unknown_calendar"]
