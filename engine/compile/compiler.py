"""Compile stage: a checked `Policy` becomes an immutable, content-hashed `CompiledPolicy`.

Each rule's condition is brought into disjunctive normal form; each conjunction becomes one
durable_rules rule (JSON ruleset form) whose patterns test the ticket fact and the derived
`priority` / `entitlement` facts. Firing order: stage band, then salience, then file order.
The work is the ordered list of named passes in `engine.compile.passes`.
"""

from __future__ import annotations

from engine.compile.compiled import CompiledPolicy, CompiledRule
from engine.compile.limits import check_engine_limits
from engine.compile.passes import PASSES, Build, cited_path
from engine.core.diagnostics import DiagnosticError
from engine.core.model import Policy

__all__ = ["CompiledPolicy", "CompiledRule", "cited_path", "compile_policy"]


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile a checked policy by running the named passes in order. Raises DiagnosticError,
    with every problem found, for what the engine cannot take."""
    build = Build(policy)
    for _name, run in PASSES:
        run(build)
        if build.problems and build.stop:
            break
    if build.problems:
        raise DiagnosticError(build.problems)
    compiled = build.result()
    problems = check_engine_limits(compiled)  # on the exact ruleset the engine will build
    if problems:
        raise DiagnosticError(problems)
    return compiled
