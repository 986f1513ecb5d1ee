"""No silent drops: the keys a decision ignored, "did you mean" for misspelt facts, --strict,
and the fields a policy declares it knowingly ignores (issue 9, part 1)."""

from __future__ import annotations

import json
import string
import subprocess
import sys

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import ROOT, ticket
from hypothesis import given
from hypothesis import strategies as st

from cli import main
from engine import Evaluator, TicketError, evaluate, load_policy
from engine.check.fields import fold, near_miss, one_edit
from engine.core.decision import Decision
from engine.core.facts import CORE_FACTS

DECISION_SCHEMA = json.loads((ROOT / "schemas" / "decision.schema.json").read_text())
TICKET_FACTS = [f.path for f in CORE_FACTS]


@pytest.fixture(scope="module")
def cloudtalk():
    return load_policy("cloudtalk")


@pytest.fixture(scope="module")
def zmanda():
    return load_policy("zmanda")


# ---- one edit, against a naive reference ----------------------------------------------------

def _naive_one_edit(a: str, b: str) -> bool:
    """Every string one insertion, deletion, substitution or neighbour swap away from `a`."""
    letters = set(a + b) | {"x"}
    edits = {a[:i] + a[i + 1:] for i in range(len(a))}
    edits |= {a[:i] + c + a[i + 1:] for i in range(len(a)) for c in letters}
    edits |= {a[:i] + c + a[i:] for i in range(len(a) + 1) for c in letters}
    edits |= {a[:i] + a[i + 1] + a[i] + a[i + 2:] for i in range(len(a) - 1)}
    edits.discard(a)
    return b in edits


@given(st.text("abcd_", max_size=6), st.text("abcd_", max_size=6))
def test_one_edit_matches_the_naive_reference(a, b):
    assert one_edit(a, b) == _naive_one_edit(a, b)


def test_near_miss_prefers_case_and_separators_then_one_edit():
    assert fold("Requested-Priority") == "requestedpriority"
    assert near_miss("Requested-Priority", TICKET_FACTS) == "requested_priority"
    assert near_miss("requestedPriority", TICKET_FACTS) == "requested_priority"
    assert near_miss("enviroment", TICKET_FACTS) == "environment"
    assert near_miss("subject", TICKET_FACTS) is None
    assert near_miss("environment", ["environment"]) is None  # itself is not a miss


# ---- acceptance: every one-edit misspelling of every core fact ------------------------------

def _misspellings(name: str) -> set[str]:
    """Every deletion, neighbour swap, substitution and insertion (lower-case letters and `_`)
    of `name`."""
    alphabet = string.ascii_lowercase + "_"
    out = {name[:i] + name[i + 1:] for i in range(len(name))}
    out |= {name[:i] + name[i + 1] + name[i] + name[i + 2:] for i in range(len(name) - 1)}
    out |= {name[:i] + c + name[i + 1:] for i in range(len(name)) for c in alphabet}
    out |= {name[:i] + c + name[i:] for i in range(len(name) + 1) for c in alphabet}
    out.discard(name)
    return {m for m in out if m}


VALUES = {"requested_priority": "P1", "agent_priority": "P2", "plan": "advanced",
          "environment": "production", "product_stage": "ga", "channel": "portal",
          "impact": "high", "urgency": "high", "category": "outage",
          "first_response_at": "2026-03-02T11:00:00+01:00", "customer.segment": "trial",
          "customer.timezone": "Europe/Berlin", "customer.country": "DE",
          "customer.reachable": False, "contract.response_targets": {"P1": "PT1H"},
          "id": "T-1", "submitted_at": "2026-03-02T10:00:00+01:00"}


def _ticket_with(fact: str, key_path: tuple[str, ...], value: object) -> dict:
    """A ticket with `fact`'s value under the misspelt `key_path` instead."""
    base = {"id": "T-1", "submitted_at": "2026-03-02T10:00:00+01:00"}
    base.pop(fact, None)
    node = base
    for part in key_path[:-1]:
        node = node.setdefault(part, {})
    node[key_path[-1]] = value
    return base


def _cases():
    """(fact, where the misspelt key sits, the ticket): the last name of a nested fact
    misspelt inside its object, or its object's name misspelt."""
    for fact in TICKET_FACTS:
        parts = fact.split(".")
        others = {p.split(".")[len(parts) - 1] for p in TICKET_FACTS
                  if p.count(".") == fact.count(".") and p != fact}
        for wrong in sorted(_misspellings(parts[-1])):
            if wrong in others or wrong in {p.split(".")[0] for p in TICKET_FACTS}:
                continue  # another fact's name, not a misspelling
            yield fact, (*parts[:-1], wrong)
        if len(parts) == 2:
            tops = {p.split(".")[0] for p in TICKET_FACTS}
            for wrong in sorted(_misspellings(parts[0]) - tops):
                yield fact, (wrong, parts[1])


CASES = list(_cases())


def test_every_one_edit_misspelling_of_every_core_fact_is_reported(cloudtalk):
    assert len(CASES) > 5000
    strict = Evaluator(strict=True)
    missed, not_strict = [], []
    for fact, where in CASES:
        data = _ticket_with(fact, where, VALUES[fact])
        parents = tuple(fact.split(".")[:-1])
        if where[:-1] == parents:
            shown, expected = ".".join(where), fact
        else:  # the object's name misspelt: the whole object is ignored
            shown, expected = where[0], parents[0]
        try:
            decision = evaluate(cloudtalk, data)
            warnings = [(d.code, d.hint) for d in decision.warnings]
            assert shown in decision.ignored_fields
        except TicketError as exc:  # a required fact misspelt: missing, with the hint
            warnings = [(d.code, d.hint) for d in exc.diagnostics if d.severity == "warning"]
        if ("ticket_unknown_field", f"did you mean `{expected}`?") not in warnings:
            missed.append((shown, fact, warnings))
        with pytest.raises(TicketError) as exc:
            strict.evaluate(cloudtalk, data)
        if not any(d.code == "ticket_unknown_field" and d.severity == "error"
                   for d in exc.value.diagnostics):
            not_strict.append(shown)
    assert not missed, missed[:10]
    assert not not_strict, not_strict[:10]


@pytest.mark.parametrize("key", ["Requested_Priority", "requested-priority", "requestedPriority",
                                 "REQUESTED PRIORITY"])
def test_case_and_separator_slips_are_near_misses(cloudtalk, key):
    decision = evaluate(cloudtalk, ticket(**{key: "P1"}))
    assert [d.hint for d in decision.warnings] == ["did you mean `requested_priority`?"]


def test_a_nested_fact_written_flat_is_a_near_miss(cloudtalk):
    decision = evaluate(cloudtalk, ticket(customer_segment="trial"))
    (warning,) = decision.warnings
    assert warning.location.pointer == "/customer_segment"
    assert "`customer.segment`" in warning.hint and '{"customer": {"segment"' in warning.hint


def test_a_near_miss_of_a_fact_the_ticket_has_is_not_reported(cloudtalk):
    decision = evaluate(cloudtalk, ticket(environment="staging", enviroment="production"))
    assert decision.warnings == ()
    assert decision.ignored_fields == ("enviroment",)


def test_the_issue_example_p1_outage_is_no_longer_silent(cloudtalk):
    data = ticket(requested_prority="P1", enviroment="production", plan="professional")
    decision = evaluate(cloudtalk, data)
    assert decision.priority == "P3"  # still accepted, as before, but never invisibly:
    assert decision.ignored_fields == ("enviroment", "requested_prority")
    assert sorted(d.hint for d in decision.warnings) == [
        "did you mean `environment`?", "did you mean `requested_priority`?"]
    with pytest.raises(TicketError) as exc:
        evaluate(cloudtalk, data, strict=True)
    assert {d.location.pointer for d in exc.value.diagnostics} == {
        "/requested_prority", "/enviroment"}


# ---- ignored_fields in the record -----------------------------------------------------------

def test_ignored_fields_lists_unread_keys_top_level_and_nested(cloudtalk):
    data = ticket(subject="s", requester={"email": "a@b"}, urgency="high",
                  customer={"segment": "trial", "name": "ACME", "timezone": "Europe/Prague"},
                  contract={"id": "C-1"})
    decision = evaluate(cloudtalk, data)
    # subject: declared by the policy; urgency and customer.segment: facts cloudtalk never reads
    assert decision.ignored_fields == ("contract.id", "customer.name", "customer.segment",
                                       "requester", "urgency")
    assert decision.warnings == ()
    record = decision.to_json()
    jsonschema.validate(record, DECISION_SCHEMA)
    assert Decision.from_json(record).to_json() == record


def test_a_clean_ticket_ignores_nothing(zmanda):
    decision = evaluate(zmanda, ticket(urgency="high", impact="low", plan="standard",
                                       customer={"segment": "customer"}))
    assert decision.ignored_fields == ()


def test_cached_decisions_keep_each_tickets_ignored_fields(cloudtalk):
    first = evaluate(cloudtalk, ticket(plan="advanced", colour="red"))
    second = evaluate(cloudtalk, ticket(plan="advanced"))
    assert first.ignored_fields == ("colour",) and second.ignored_fields == ()


# ---- the policy's own declaration -----------------------------------------------------------

DECLARED = """
id: declared
title: Declared ignores
version: "1"
sources: [{id: doc, title: Doc}]
levels: [P1, P2]
ignore_fields: [FIELDS]
rules:
  - {id: r, when: {environment: production}, then: {assign: P1}}
"""


def _policy(tmp_path, fields: str):
    from engine.app import check_paths

    path = tmp_path / "policy.yaml"
    path.write_text(DECLARED.replace("FIELDS", fields), "utf-8")
    return path, check_paths([str(path)], lint=False)


def test_declared_fields_are_not_listed_and_never_near_misses(tmp_path):
    path, report = _policy(tmp_path, "subject, description, customer.name, enviroment")
    assert [d.code for d in report.diagnostics] == ["fact_ignored_misspelt"]
    assert report.diagnostics[0].severity == "warning"
    assert report.diagnostics[0].location.line == 7
    cp = load_policy(path)
    decision = evaluate(cp, ticket(subject="x", customer={"name": "ACME"}, enviroment="x"))
    assert decision.ignored_fields == () and decision.warnings == ()


@pytest.mark.parametrize(("fields", "code", "column"), [
    ("environment", "fact_ignored_but_read", 17),
    ("customer", "fact_ignored_parent", 17),
    ("requester.email", "fact_ignored_nested", 17),
])
def test_bad_declarations_are_errors_at_their_place(tmp_path, fields, code, column):
    _, report = _policy(tmp_path, fields)
    assert [(d.code, d.location.line, d.location.column) for d in report.diagnostics] == [
        (code, 7, column)]


def test_ignore_fields_is_validated_by_the_schema(tmp_path):
    _, report = _policy(tmp_path, "Not A Fact")
    assert [d.code for d in report.diagnostics] == ["schema_pattern"]


# ---- the command line -----------------------------------------------------------------------

def _write(tmp_path, data) -> str:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data, indent=2), "utf-8")
    return str(path)


@pytest.mark.parametrize("command", ["evaluate", "explain"])
def test_cli_warns_on_stderr_and_strict_exits_2(tmp_path, command):
    path = _write(tmp_path, ticket(requested_prority="P1"))
    runner = CliRunner()
    r = runner.invoke(main, [command, "-p", "cloudtalk", path])
    assert r.exit_code == 0
    assert f"{path}:4:3: warning[ticket_unknown_field]: unknown field `requested_prority` is " \
           "ignored" in r.stderr
    assert "did you mean `requested_priority`?" in r.stderr
    if command == "evaluate":
        assert json.loads(r.stdout)["ignored_fields"] == ["requested_prority"]
    else:
        assert "ignored (not read by this policy): requested_prority" in r.stdout
    r = runner.invoke(main, [command, "-p", "cloudtalk", "--strict", path])
    assert r.exit_code == 2 and r.stdout == ""
    assert f"{path}:4:3: error[ticket_unknown_field]" in r.stderr


def test_why_not_warns_too(tmp_path):
    path = _write(tmp_path, ticket(enviroment="production"))
    r = CliRunner().invoke(main, ["explain", "-p", "cloudtalk", "--why-not",
                                  "p1-production-only", path])
    assert r.exit_code == 0 and "did you mean `environment`?" in r.stderr


def test_cli_strict_error_format_json_through_a_real_process(tmp_path):
    path = _write(tmp_path, ticket(custmer={"segment": "trial"}))
    done = subprocess.run([sys.executable, "cli.py", "evaluate", "-p", "zmanda", "--strict",
                           "--error-format", "json", path], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    (problem,) = json.loads(done.stderr)
    assert problem["code"] == "ticket_unknown_field" and problem["severity"] == "error"
    assert problem["hint"] == "did you mean `customer`?"
    assert (problem["line"], problem["pointer"]) == (4, "/custmer")


def test_policy_test_warns_on_stderr(tmp_path):
    folder = tmp_path / "rules" / "mini" / "tests"
    folder.mkdir(parents=True)
    (folder.parent / "policy.yaml").write_text(DECLARED.replace("FIELDS", "subject"), "utf-8")
    (folder / "cases.yaml").write_text(
        "cases:\n  - note: a misspelt key\n    ticket:\n      id: T-1\n"
        "      submitted_at: \"2026-03-02T10:00:00Z\"\n      enviroment: production\n"
        "    expect: {priority: null}\n", "utf-8")
    r = CliRunner().invoke(main, ["test", str(tmp_path / "rules")])
    assert r.exit_code == 0, r.output
    assert ":6:7: warning[ticket_unknown_field]: unknown field `enviroment` is ignored" \
        in r.stderr
    r = CliRunner().invoke(main, ["test", "--strict", str(tmp_path / "rules")])
    assert r.exit_code == 1 and "0 passed, 1 failed" in r.stdout
