"""The decision cache key: how each fact a decision depends on enters it."""

from __future__ import annotations

from engine.compile.compiled import CompiledRule
from engine.core.logic import domain
from engine.core.model import Policy, Test


def key_plan(policy: Policy, compiled: list[CompiledRule], raw_paths: set[str],
              key_paths: set[str]) -> tuple[tuple[str, dict | None], ...]:
    """How each key path enters the cache key.

    The engine observes a ticket fact only through the tests compiled on it, so two values
    that satisfy exactly the same tests lead to the same firings: they share a class. Facts an
    action reads (`{fact: ...}`, contract targets, the plan) and open domains stay raw.
    """
    # one test per (operator, value): tests of different rules hold on the same values
    by_path: dict[str, dict[tuple, Test]] = {}
    for cr in compiled:
        for t in cr.tests:
            by_path.setdefault(t.path, {}).setdefault((t.op, t.value), t)
    tests = {path: list(found.values()) for path, found in by_path.items()}
    plan: list[tuple[str, dict | None]] = []
    for path in sorted(key_paths):
        spec = policy.facts[path]
        if spec.type == "targets":
            continue  # a map: keyed separately (key_maps)
        values = None if path in raw_paths else domain(spec, policy)
        if values is None:
            plan.append((path, None))
            continue
        signatures: dict[tuple, tuple] = {}
        classes = {}
        for v in values:
            sig = tuple(t.holds(v) for t in tests.get(path, ()))
            classes[v] = signatures.setdefault(sig, ("class", len(signatures)))
        plan.append((path, classes if len(signatures) < len(values) else None))
    return tuple(plan)
