"""Run stage: forward chaining, once/group/stage semantics, cycles, errors, sessions, threads."""

from __future__ import annotations

import threading

import pytest
from conftest import ticket

from engine import FiringBoundError, RuleActionError, evaluate
from engine.run import adapter as runtime
from engine.run import working
from engine.run.evaluator import default_evaluator
from engine.run.working import Working


def test_default_then_its_target_chain(make_policy):
    cp = make_policy("""
    rules:
      - id: default-p3
        then: {default: P3}
        because: no choice means P3
    """)
    d = evaluate(cp, ticket(), cache=False)
    assert d.priority == "P3"
    assert [e.rule for e in d.trace if e.rule] == ["default-p3", "plans.std.P3"]
    assert d.sla is not None and d.sla.rule == "plans.std.P3"
    assert [a.to_json()["type"] for a in d.actions] == ["default"]


def test_group_prevents_cascade(make_policy):
    cp = make_policy("""
    rules:
      - id: take-requested
        when: {requested_priority: {present: true}}
        then: {assign: {fact: requested_priority}}
      - id: p1-unreachable
        group: unreachable
        when: {priority: P1, customer.reachable: false}
        then: {reclassify: P2}
      - id: p2-unreachable
        group: unreachable
        when: {priority: P2, customer.reachable: false}
        then: {reclassify: {down: 1}}
    """)
    d = evaluate(cp, ticket(requested_priority="P1", customer={"reachable": False}), cache=False)
    assert d.priority == "P2"
    assert ("p2-unreachable", "`p1-unreachable` of group `unreachable` already fired") in \
        d.outcome.suppressed
    d2 = evaluate(cp, ticket(requested_priority="P2", customer={"reachable": False}), cache=False)
    assert d2.priority == "P3"


def test_rule_fires_once_by_default(make_policy):
    cp = make_policy("""
    rules:
      - id: start
        then: {assign: P2}
      - id: down
        when: {priority: {present: true}}
        then: {reclassify: {down: 1}}
    """)
    d = evaluate(cp, ticket(), cache=False)
    assert d.priority == "P3"
    assert [e.rule for e in d.trace if e.rule and not e.rule.startswith("plans.")] == \
        ["start", "down"]


def test_two_rule_cycle_stops_naming_both(make_policy):
    cp = make_policy("""
    rules:
      - id: start
        then: {assign: P2}
      - id: demote
        repeat: true
        when: {priority: P2}
        then: {reclassify: P3}
      - id: promote
        repeat: true
        when: {priority: P3}
        then: {reclassify: P2}
    """)
    with pytest.raises(FiringBoundError) as exc:
        evaluate(cp, ticket(), cache=False)
    assert set(exc.value.rules) == {"demote", "promote"}
    assert "`demote`" in str(exc.value) and "`promote`" in str(exc.value)
    assert "firing bound of 100 exceeded" in str(exc.value)
    # the session was cleaned up and the engine is still usable afterwards
    ok = make_policy("""
    rules:
      - id: start
        then: {assign: P2}
    """)
    assert evaluate(ok, ticket(id="T-2"), cache=False).priority == "P2"


def test_action_error_is_surfaced(make_policy, monkeypatch):
    cp = make_policy("""
    rules:
      - id: boom
        then: {assign: P1}
    """)
    original = Working.apply

    def failing(self, rule, c):
        if rule.id == "boom":
            raise ZeroDivisionError("division by zero")
        return original(self, rule, c)

    monkeypatch.setattr(Working, "apply", failing)
    with pytest.raises(RuleActionError) as exc:
        evaluate(cp, ticket(), cache=False)
    assert "rule `boom` failed: ZeroDivisionError" in str(exc.value)
    monkeypatch.undo()
    assert evaluate(cp, ticket(), cache=False).priority == "P1"


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_in_an_action_is_not_swallowed(make_policy, monkeypatch, interrupt):
    """durable_rules catches BaseException around an action: Ctrl-C landing in one (most of a
    cold run's time) was lost and a batch ran on to the end. It reaches the caller once the
    engine returns, and the engine keeps working."""
    cp = make_policy("""
    rules:
      - id: first
        then: {assign: P2}
      - id: second
        when: {priority: P2}
        then: {reclassify: P1}
    """)
    original, calls = Working.apply, []

    def interrupted(self, rule, c):
        calls.append(rule.id)
        if rule.id == "first":
            raise interrupt()
        return original(self, rule, c)

    monkeypatch.setattr(Working, "apply", interrupted)
    with pytest.raises(interrupt):
        evaluate(cp, ticket(), cache=False)
    assert calls == ["first"]            # no action of that run fires after it
    monkeypatch.undo()
    assert evaluate(cp, ticket(), cache=False).priority == "P1"


def test_stage_monotonic_final_is_last(make_policy):
    cp = make_policy("""
    rules:
      - id: take-requested
        when: {requested_priority: {present: true}}
        then: {assign: {fact: requested_priority}}
      - id: p1-staging
        when: {priority: P1, environment: staging}
        then: {reclassify: P3}
      - id: agent
        stage: final
        when: {agent_priority: {present: true}}
        then: {reclassify: {fact: agent_priority}}
    """)
    d = evaluate(cp, ticket(requested_priority="P2", agent_priority="P1", environment="staging"),
                 cache=False)
    assert d.priority == "P1"  # the engineer's level stands; p1-staging does not re-fire after it
    assert any(rid == "p1-staging" for rid, _ in d.outcome.suppressed)


def test_more_sessions_than_engine_limit(make_policy):
    cp = make_policy("""
    rules:
      - id: always
        then: {assign: P2}
    """)
    for i in range(3000):  # the engine allows ~1,024 live sessions: each must be deleted
        assert evaluate(cp, ticket(id=f"T{i}"), cache=False).priority == "P2"


def test_ticket_matching_no_rule_is_safe(make_policy):
    cp = make_policy("""
    rules:
      - id: only-outages
        when: {category: outage}
        then: {assign: P1}
    """)
    for i in range(50):  # a session in which no rule fired must still be deletable
        d = evaluate(cp, ticket(id=f"N{i}", plan="none"), cache=False)
        assert d.priority is None
        assert d.trace  # never empty


def test_no_leak_between_tickets(make_policy):
    cp = make_policy("""
    rules:
      - id: take-requested
        when: {requested_priority: {present: true}}
        then: {assign: {fact: requested_priority}}
      - id: default
        then: {default: P3}
    """)
    for i in range(200):
        level = ["P1", None, "P2"][i % 3]
        d = evaluate(cp, ticket(id=f"T{i}", requested_priority=level), cache=False)
        assert d.priority == (level or "P3")


def test_other_thread_gets_clear_error(make_policy):
    cp = make_policy("""
    rules:
      - id: always
        then: {assign: P2}
    """)
    evaluate(cp, ticket(), cache=False)  # this thread now owns the engine
    errors: list[BaseException] = []

    def worker():
        try:
            evaluate(cp, ticket(id="other"), cache=False)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(errors) == 1 and isinstance(errors[0], runtime.EngineThreadError)
    assert "not thread-safe" in str(errors[0])


def test_find_cycle():
    assert working.find_cycle(["a", "b", "c", "b", "c"]) == ["b", "c"]
    assert working.find_cycle(["x", "y", "y"]) == ["y"]


def test_engine_failure_rebuilds_the_host(make_policy, monkeypatch):
    cp = make_policy("""
    rules:
      - id: always
        then: {assign: P2}
    """)
    evaluate(cp, ticket(), cache=False)
    adapter = default_evaluator().adapter
    broken_host = adapter.host

    def out_of_sessions(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(broken_host, "assert_facts", out_of_sessions)
    with pytest.raises(runtime.EngineFailure) as exc:
        evaluate(cp, ticket(id="M-1"), cache=False)
    assert "durable_rules failed on ticket `M-1`" in str(exc.value)
    assert adapter.host is None  # poisoned host dropped
    assert evaluate(cp, ticket(id="M-2"), cache=False).priority == "P2"
    assert adapter.host is not broken_host


ENGINE_THREAD_SCRIPT = """
import sys, threading
sys.path.insert(0, {root!r})
from engine import evaluate, load_policy
from engine.run.evaluator import use_engine_thread
use_engine_thread()
cp = load_policy("cloudtalk")
errors = []
def worker(n):
    try:
        for i in range(150):
            level = ["P1", "P2", "P3"][(i + n) % 3]
            d = evaluate(cp, {{"id": f"W{{n}}-{{i}}", "submitted_at": "2026-03-02T10:00:00Z",
                              "requested_priority": level, "environment": "production",
                              "plan": "professional"}}, cache=False)
            assert d.priority == level, (n, i, d.priority)
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print("errors", errors)
sys.exit(1 if errors else 0)
"""


def test_engine_thread_serves_many_threads():
    import subprocess
    import sys

    from conftest import ROOT

    script = ENGINE_THREAD_SCRIPT.format(root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_decisions_are_identical_across_processes_and_hash_seeds():
    import os
    import subprocess
    import sys

    from conftest import ROOT

    outputs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "cli.py", "explain", "--format", "json", "-p",
                               "zmanda", "examples/zmanda-matrix-override.json"],
                              capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_error_anywhere_in_the_action_wrapper_is_surfaced(make_policy, monkeypatch):
    cp = make_policy("""
    rules:
      - id: start
        then: {assign: P2}
      - id: watch-p2
        when: {priority: P2}
        then: {note: seen}
    """)

    def broken(self, path):
        raise LookupError(f"cannot read {path}")

    monkeypatch.setattr(Working, "current", broken)
    with pytest.raises(RuleActionError) as exc:
        evaluate(cp, ticket(), cache=False)
    assert "LookupError: cannot read priority" in str(exc.value)
