"""Condition logic shared by the compiler, lint, why-not and diff: operator semantics, DNF,
fact domains, satisfiability, implied tests and level shifts. One definition for all of them."""

from __future__ import annotations

import itertools

from engine.core.facts import FactSpec
from engine.core.model import Condition, Policy, Rule, SetPriority, Test

MAX_CONJUNCTIONS = 64   # alternatives one rule may compile to
_NEGATIONS = {"eq": ("ne",), "ne": ("eq",), "in": ("not_in",), "not_in": ("in",),
              "present": ("absent",), "absent": ("present",),
              "lt": ("absent", "ge"), "le": ("absent", "gt"),
              "gt": ("absent", "le"), "ge": ("absent", "lt")}


def _negate(test: Test) -> list[Test]:
    """The alternatives whose disjunction is `not test` (absent facts fail comparisons)."""
    out = []
    for op in _NEGATIONS[test.op]:
        value = None if op in ("present", "absent") else test.value
        out.append(Test(test.path, op, value, test.pointer))
    return out


class TooComplex(Exception):
    """A condition's disjunctive normal form would exceed MAX_EXPANSION alternatives."""


MAX_EXPANSION = 4096  # alternatives considered before impossible ones are dropped


def to_dnf(cond: Condition | None, negate: bool = False) -> list[tuple[Test, ...]]:
    """Disjunctive normal form: a list of conjunctions of tests (negations pushed to leaves).
    Raises TooComplex beyond MAX_EXPANSION alternatives (never truncates)."""
    if cond is None:
        return [()]
    if cond.op == "test":
        assert cond.test is not None
        return [(t,) for t in _negate(cond.test)] if negate else [(cond.test,)]
    if cond.op == "not":
        return to_dnf(cond.children[0], not negate)
    conjunctive = (cond.op == "all") != negate
    parts = [to_dnf(c, negate) for c in cond.children]
    size = 1
    for part in parts:
        size = size * len(part) if conjunctive else size + len(part)
    if size > MAX_EXPANSION:
        raise TooComplex(size)
    if conjunctive:
        return [tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*parts)]
    return [conj for part in parts for conj in part]


def domain(spec: FactSpec, policy: Policy) -> tuple | None:
    """Every value a fact can hold (None = absent), or None when the domain is open."""
    if spec.type == "level":
        return (*policy.levels, None)
    if spec.type == "plan":
        return (*policy.plans, None)
    if spec.type == "boolean":
        return (True, False) if not spec.nullable or spec.default is not None or spec.derived \
            else (True, False, None)
    if spec.enum:
        return (*spec.enum, None) if spec.default is None else tuple(spec.enum)
    return None


def satisfiable(conj: tuple[Test, ...], policy: Policy) -> bool:
    """False when the tests cannot all hold (e.g. `environment: production` and `staging`)."""
    by_path: dict[str, list[Test]] = {}
    for t in conj:
        by_path.setdefault(t.path, []).append(t)
    for path, tests in by_path.items():
        spec = policy.facts.get(path)
        values = domain(spec, policy) if spec else None
        if values is None:
            continue
        if not any(all(t.holds(v) for t in tests) for v in values):
            return False
    return True


def implicit_tests(rule: Rule) -> tuple[Test, ...]:
    """Tests an action implies: a default needs no priority yet, `{fact: x}` needs x present."""
    out = []
    for action in rule.actions:
        match action:
            case SetPriority(kind="default"):
                out.append(Test("priority", "absent", None, rule.pointer))
            case SetPriority(level={"fact": str(fact)}):
                out.append(Test(fact, "present", None, rule.pointer))
            case SetPriority(level=dict()):  # up / down: from the current level
                out.append(Test("priority", "present", None, rule.pointer))
    return tuple(out)


def dedupe(tests: tuple[Test, ...]) -> tuple[Test, ...]:
    seen: dict[tuple, Test] = {}
    for t in tests:
        seen.setdefault((t.path, t.op, t.value), t)
    return tuple(seen.values())


def holds(op: str, expected: object, value: object) -> bool:
    """The semantics of one test operator on a fact value (None = absent); what the engine's
    compiled expressions compute, evaluated in Python (explanations, lint, cache classes)."""
    v = expected
    if op == "present":
        return value is not None
    if op == "absent":
        return value is None
    if op == "eq":
        return value == v and value is not None if v is not None else value is None
    if op == "ne":
        return not (value == v and value is not None) if v is not None else value is not None
    if op == "in":
        return value is not None and value in v  # type: ignore[operator]
    if op == "not_in":
        return value is None or value not in v  # type: ignore[operator]
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    assert isinstance(v, (int, float))
    return {"lt": value < v, "le": value <= v, "gt": value > v, "ge": value >= v}[op]


def shift_level(levels: tuple[str, ...], level: str, value: dict) -> str:
    """`{up: n}` / `{down: n}` from `level`, clamped to the policy's levels (index 0 = most
    urgent)."""
    index = levels.index(level)
    step = value.get("down", 0) - value.get("up", 0)
    return levels[min(max(index + step, 0), len(levels) - 1)]


def resolve_level(levels: tuple[str, ...], value: object, env: dict) -> str:
    """The level a priority action sets: a literal, `{fact: path}` or a shift from
    `env["priority"]`."""
    if isinstance(value, str):
        return value
    assert isinstance(value, dict)
    if "fact" in value:
        return env[value["fact"]]
    return shift_level(levels, env["priority"], value)
