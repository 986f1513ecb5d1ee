"""Regression tests for issue 17's failure classes (F5 lint scaling and F8 calendar caches are
tested with their own work). Each test failed before the fix it names."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cliproc import cli_many
from conftest import ROOT, ticket

from cli import main
from engine import TicketError, app, evaluate, load_policy
from engine.check.tickets import parse_timestamp
from engine.core.logic import domain
from engine.run.errors import EngineFailure
from engine.run.evaluator import Evaluator

CLOUDTALK = (ROOT / "rules" / "cloudtalk" / "policy.yaml").read_text("utf-8")
EXAMPLE = ROOT / "examples" / "cloudtalk-staging-p1.json"


def cli(*args: str, env: dict | None = None, stdin: bytes | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """The command line in a real process (this checkout's code)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-c", "from cli import main; main()", *args],
                          capture_output=True, cwd=ROOT, env=env, input=stdin,
                          timeout=timeout)


def cloudtalk_with(tmp_path: Path, extra_rules: str = "", edit=lambda t: t,
                   folder: str = "cloudtalk") -> Path:
    """The bundled cloudtalk policy, edited, with extra rules first."""
    text = edit(CLOUDTALK).replace("\nrules:\n", "\nrules:\n" + extra_rules, 1)
    path = tmp_path / folder / "policy.yaml"
    path.parent.mkdir()
    path.write_text(text, "utf-8")
    return path


def copies(n: int, when: str = "requested_priority: {present: true}",
           prefix: str = "copy") -> str:
    return "".join(f"  - id: {prefix}-{i}\n    when: {{{when}}}\n    then: {{note: n{i}}}\n"
                   for i in range(n))


def validate(path: Path) -> list:
    return [d for d in app.check_paths([str(path)], lint=False).diagnostics
            if d.severity == "error"]


def assert_engine_limit(path: Path, fragment: str) -> None:
    errors = validate(path)
    assert errors and {d.code for d in errors} == {"engine_limit"}, errors
    assert any(fragment in d.message for d in errors), [d.message for d in errors]
    assert all(d.location.line and d.rule and d.hint for d in errors)
    decided = app.decide(path, EXAMPLE)   # deciding reports the same, never runs the engine
    assert decided.status == app.Status.POLICY_ERROR


# ---- F1: a salience the engine cannot take ------------------------------------------------

def test_f1_salience_written_as_a_float_validates_and_evaluates(tmp_path):
    path = cloudtalk_with(tmp_path, edit=lambda t: t.replace(
        "  - id: customer-chosen-priority\n", "  - id: customer-chosen-priority\n"
        "    salience: 1.0\n", 1))
    assert validate(path) == []
    done = cli("evaluate", "-p", str(path), str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["priority"] == "P3"


# ---- F2: rules per fact value --------------------------------------------------------------

def test_f2_too_many_rules_on_one_fact_value_fail_validation(tmp_path):
    assert_engine_limit(cloudtalk_with(tmp_path, copies(257, "environment: staging")),
                        "(error 108)")


def test_f2_too_many_lists_sharing_a_value_fail_validation(tmp_path):
    assert_engine_limit(cloudtalk_with(tmp_path, copies(130, "environment: [staging, "
                                                             "development]")), "(error 107)")


# ---- F3: sizes at which the engine never returns -----------------------------------------

def test_f3_copies_past_the_hang_size_fail_validation(tmp_path):
    assert_engine_limit(cloudtalk_with(tmp_path, copies(503)), "the engine hangs beyond 511")


def test_f3_a_table_of_600_rows_fails_validation(tmp_path):
    text = (ROOT / "rules" / "csd-group" / "policy.yaml").read_text("utf-8")
    rows = "".join(f"      - [outage, high, P{1 + i % 4}]\n" for i in range(600))
    text = text.replace("      - [outage, high, P1]\n", rows, 1).replace(
        "hit: unique", "hit: first", 1)
    path = tmp_path / "csd-group" / "policy.yaml"
    path.parent.mkdir()
    path.write_text(text, "utf-8")
    errors = validate(path)
    assert errors and {d.code for d in errors} == {"engine_limit"}, errors


# ---- F4: sizes at which every ticket failed with error 303 -------------------------------

@pytest.mark.parametrize("n", [63, 64, 300, 502])
def test_f4_copies_that_fail_at_run_time_fail_validation(tmp_path, n):
    assert_engine_limit(cloudtalk_with(tmp_path, copies(n)), "(error 303)")


@pytest.mark.slow
def test_f4_below_the_limit_every_ticket_evaluates(tmp_path):
    """The largest number of copies that validates runs every combination of the facts the
    rules read (the engine's match stack depends on the ticket)."""
    n = 58
    path = cloudtalk_with(tmp_path, copies(n))
    assert validate(path) == []
    assert validate(cloudtalk_with(tmp_path, copies(n + 1), folder="more"))  # 1 conservative
    cp = load_policy(str(path))
    paths = list(cp.ticket_paths)
    evaluator = Evaluator()
    for values in itertools.product(*(domain(cp.policy.facts[p], cp.policy) for p in paths)):
        t = ticket(**{p: v for p, v in zip(paths, values, strict=True) if v is not None})
        evaluator.evaluate(cp, t, cache=False)


# ---- F1–F4 at run time: whatever still escapes is an EngineFailure, exit 3 ---------------

@pytest.fixture
def unchecked(monkeypatch):
    """Compile without the engine-limit check, as before it existed."""
    import engine.compile.compiler as compiler

    monkeypatch.setattr(compiler, "check_engine_limits", lambda cp: [], raising=False)
    monkeypatch.setattr(compiler, "_engine_limits", lambda *a: [], raising=False)  # old name
    app.clear_policy_cache()
    yield
    app.clear_policy_cache()


@pytest.mark.parametrize(("edit", "code"), [
    (lambda t: t.replace("\nrules:\n", "\nrules:\n" + copies(258, "environment: staging")), 108),
    (lambda t: t.replace("\nrules:\n", "\nrules:\n" + copies(70)), 303),
])
def test_f1_f4_an_engine_error_is_an_engine_failure(tmp_path, unchecked, edit, code):
    path = cloudtalk_with(tmp_path, edit=edit)
    evaluator = Evaluator()
    with pytest.raises(EngineFailure) as exc:
        evaluator.evaluate(load_policy(str(path)), json.loads(EXAMPLE.read_text()), cache=False)
    assert exc.value.engine_code == code and f"engine error {code}" in str(exc.value)
    # the host was dropped and rebuilt: the next policy evaluates on the same evaluator
    assert evaluator.evaluate(load_policy("cloudtalk"), ticket(), cache=False).priority == "P3"
    r = CliRunner().invoke(main, ["evaluate", "-p", str(path), str(EXAMPLE)])
    assert r.exit_code == 3, r.output
    assert "error[engine_failure]" in r.stderr and f"engine error {code}" in r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit)


# ---- F6: any terminal encoding -------------------------------------------------------------

BUNDLED_EXAMPLES = {"cloudtalk": "cloudtalk-staging-p1.json", "credenti":
                    "credenti-unreachable-s1.json", "csd-group": "csd-group-unclassified.json",
                    "zmanda": "zmanda-matrix-override.json"}
F6_COMMANDS = [[cmd, *fmt, "-p", policy, str(ROOT / "examples" / example)]
               for policy, example in sorted(BUNDLED_EXAMPLES.items())
               for cmd, *fmt in (["evaluate"], ["explain", "--format", "text"],
                                 ["explain", "--format", "markdown"],
                                 ["explain", "--format", "json"])]


@pytest.fixture(scope="module")
def in_cp1252() -> list:
    return cli_many(F6_COMMANDS, "cp1252")


@pytest.fixture(scope="module")
def in_utf8() -> list:
    return cli_many(F6_COMMANDS, "utf-8")


@pytest.mark.parametrize("index", range(len(F6_COMMANDS)),
                         ids=lambda i: "-".join(F6_COMMANDS[i][:-1]))
def test_f6_evaluate_and_explain_in_cp1252(in_cp1252, in_utf8, index):
    code, out, err = in_cp1252[index]
    assert code == 0 and b"Traceback" not in err, err.decode("cp1252", "replace")
    command = F6_COMMANDS[index]
    if command[0] == "evaluate" or "json" in command:   # the same JSON value, escaped
        assert json.loads(out.decode("cp1252")) == json.loads(in_utf8[index][1])
    else:
        assert out.decode("cp1252").count("\n") == in_utf8[index][1].decode().count("\n")


def test_f6_text_degrades_to_lookalikes_and_diagnostics_survive():
    bad_ticket = ROOT / "tests" / "fixtures" / "json_inputs" / "several_problems.json"
    (explained, _, _), (invalid, _, err), (listed, out, _) = cli_many([
        ["explain", "-p", "cloudtalk", str(EXAMPLE)],
        ["evaluate", "-p", "cloudtalk", str(bad_ticket)],
        ["policies", "--format", "json"]], "ascii")
    assert explained == 0 and invalid == 2 and listed == 0
    assert b"error[" in err and b"Traceback" not in err
    assert out.isascii() and len(json.loads(out)) == 4
    code, story, _ = cli_many([["explain", "-p", "cloudtalk", str(EXAMPLE)]], "cp1252")[0]
    assert code == 0
    assert b"reclassified P1 -> P3 by p1-production-only" in story   # no arrow in cp1252
    assert "Deze status is alleen van toepassing".encode("cp1252") in story


# ---- F7: ticket size -----------------------------------------------------------------------

class CountingStream(io.RawIOBase):
    """An endless ticket on a stream, counting what is read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0
        self.head = b'{"id": "T", "submitted_at": "2026-03-02T10:00:00Z", "junk": ['

    def read(self, size: int = -1) -> bytes:
        assert size is not None and size >= 0, "the whole stream was asked for"
        data = (self.head + b"0," * size)[:size]
        self.read_bytes += len(data)
        return data


def test_f7_a_huge_ticket_is_rejected_before_it_is_read(tmp_path):
    stream = CountingStream()
    decided = app.decide("cloudtalk", stream, source_name="<stdin>")
    assert decided.status == app.Status.INPUT_ERROR
    assert [d.code for d in decided.diagnostics] == ["ticket_too_large"]
    assert stream.read_bytes == app.MAX_TICKET_BYTES + 1
    big = tmp_path / "big.json"   # 19 MiB: a 10-million-element array no rule reads
    big.write_bytes(stream.head + b"0," * 10_000_000 + b"0]}")
    done = cli("evaluate", "-p", "cloudtalk", str(big))
    assert done.returncode == 2 and done.stdout == b""
    size = f"{big.stat().st_size:,}".encode()
    assert b"error[ticket_too_large]: the ticket is " + size + b" bytes; at most 1,048,576" \
        in done.stderr


def test_f7_max_ticket_bytes_option():
    size = EXAMPLE.stat().st_size
    r = CliRunner().invoke(main, ["evaluate", "-p", "cloudtalk", "--max-ticket-bytes",
                                  str(size - 1), str(EXAMPLE)])
    assert r.exit_code == 2 and "ticket_too_large" in r.stderr
    r = CliRunner().invoke(main, ["explain", "-p", "cloudtalk", "--max-ticket-bytes",
                                  str(size), str(EXAMPLE)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["evaluate", "-p", "cloudtalk", "--max-ticket-bytes", "10",
                                  "-"], input=EXAMPLE.read_bytes())
    assert r.exit_code == 2 and "the ticket is larger; at most 10 bytes" in r.stderr
    text = EXAMPLE.read_text()
    assert app.decide("cloudtalk", text, max_ticket_bytes=len(text) - 1).status == \
        app.Status.INPUT_ERROR
    assert app.decide("cloudtalk", text.encode(), max_ticket_bytes=None).ok


# ---- F9–F12: strictness where the schema says so ------------------------------------------

def test_f9_fractional_seconds_beyond_nine_digits_are_accepted_and_truncated():
    moment = parse_timestamp("2026-03-10T10:00:00.1234567891+01:00")
    assert moment.microsecond == 123456
    assert parse_timestamp("2026-03-10T10:00:00.999999999999Z").second == 0
    cp = load_policy("cloudtalk")
    d = evaluate(cp, ticket(submitted_at="2026-03-10T10:00:00.1234567891+01:00",
                            plan="professional"))
    assert d.sla.due_at.isoformat() == "2026-03-11T11:00:00.123456+01:00"  # P3: 9 office hours
    decided = app.decide("cloudtalk", EXAMPLE, now_text="2026-03-09T09:00:00.0000000001+01:00")
    assert decided.ok, decided.diagnostics


@pytest.mark.parametrize("fields", [
    {"customer": None}, {"contract": None}, {"customer": {"timezone": None}},
    {"customer": {"segment": None}}, {"customer": {"country": None}},
    {"customer": {"reachable": None}}, {"contract": {"response_targets": None}},
])
def test_f10_null_is_rejected_for_customer_contract_and_their_fields(fields):
    with pytest.raises(TicketError) as exc:
        evaluate(load_policy("cloudtalk"), ticket(**fields))
    assert [d.code for d in exc.value.diagnostics] == ["ticket_type"]
    assert "null" in exc.value.diagnostics[0].message


def test_f10_null_stays_accepted_where_the_schema_allows_it():
    d = evaluate(load_policy("cloudtalk"), ticket(environment=None, requested_priority=None,
                                                  plan=None, first_response_at=None))
    assert d.priority == "P3"


def test_f11_a_double_byte_order_mark_is_rejected(tmp_path):
    body = EXAMPLE.read_bytes()
    once, twice = tmp_path / "once.json", tmp_path / "twice.json"
    once.write_bytes(b"\xef\xbb\xbf" + body)
    twice.write_bytes(b"\xef\xbb\xbf" * 2 + body)
    assert app.decide("cloudtalk", once).ok
    decided = app.decide("cloudtalk", twice)
    assert decided.status == app.Status.INPUT_ERROR
    assert [d.message for d in decided.diagnostics] == [
        "the input starts with two byte-order marks"]
    assert not app.decide("cloudtalk", b"\xef\xbb\xbf" * 2 + body).ok


def test_f12_an_empty_why_not_fails():
    r = CliRunner().invoke(main, ["explain", "-p", "cloudtalk", "--why-not", "", str(EXAMPLE)])
    assert r.exit_code == 2 and r.stdout == ""
    assert "error[unknown_rule]: the rule name is empty" in r.stderr


# ---- F13: threads --------------------------------------------------------------------------

THREADS_SCRIPT = """
import _thread, threading, time
from engine import evaluate, load_policy, Evaluator

cp = load_policy("cloudtalk")
t = {"id": "T", "submitted_at": "2026-03-02T10:00:00+01:00", "requested_priority": "P2"}

def first(done):
    evaluate(cp, t, cache=False)          # the default evaluator is built on this thread
    done.set()

def later(out):
    out.append(evaluate(cp, t, cache=False).priority)

for start in ("threading", "_thread"):   # _thread: a thread threading only knows as a dummy
    done = threading.Event()
    if start == "threading":
        th = threading.Thread(target=first, args=(done,)); th.start(); th.join()
    else:
        _thread.start_new_thread(first, (done,)); done.wait(); time.sleep(0.2)
    out = []
    th = threading.Thread(target=later, args=(out,)); th.start(); th.join()
    later(out)
    assert out == ["P2", "P2"], (start, out)
    import engine.run.evaluator as ev
    ev._default = None                    # a fresh default evaluator for the next case
    import engine.timeline.evaluator as tl
    tl._default = None
print("ok")
"""


def test_f13_a_thread_that_exits_never_blocks_evaluation():
    done = subprocess.run([sys.executable, "-c", THREADS_SCRIPT], capture_output=True,
                          text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


# ---- bounded caches ----------------------------------------------------------------------

def test_the_decision_cache_is_bounded_across_policies():
    policies = [load_policy(pid) for pid in ("credenti", "cloudtalk")]
    evaluator, engine = Evaluator(cache_size=50), Evaluator(cache_size=0)
    for i in range(400):
        cp = policies[i % 2]
        t = ticket(id=f"C{i}", requested_priority=cp.policy.levels[i % 3],
                   contract={"response_targets": {cp.policy.levels[0]: f"PT{i + 1}M"}})
        assert evaluator.evaluate(cp, t).to_json() == engine.evaluate(cp, t).to_json()
        assert sum(evaluator.cache_info()["entries"]) <= 50
    assert min(evaluator.cache_info()["entries"]) > 0   # one policy cannot take it all


def test_registered_rulesets_are_bounded_per_adapter(make_policy):
    from engine.run.adapter import MAX_RULESETS

    evaluator = Evaluator()
    policies = [make_policy(f"rules:\n  - {{id: r{i}, then: {{assign: P1}}}}\n")
                for i in range(MAX_RULESETS + 6)]
    for cp in policies + policies[:3]:
        assert evaluator.evaluate(cp, ticket(), cache=False).priority == "P1"
    assert len(evaluator.adapter.registered) == MAX_RULESETS
    assert len(evaluator.adapter.host._ruleset_directory) == MAX_RULESETS
