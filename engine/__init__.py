"""ticket-policy: support policies as data, compiled into durable_rules, evaluated per ticket.

Layers (each imports only those before it; `tests/test_layers.py` keeps it so):
core ← load, calendars ← check ← compile ← run ← explain, author, timeline ← ops ← app ←
adapters. The names below are loaded on first use, so `import engine.core.decision` stays free
of the durable_rules engine. `evaluate` follows a ticket's events (`engine.timeline`); a ticket
without events is decided as `engine.run.evaluator.evaluate` decides it, plus its history and
clocks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CompiledPolicy": "engine.compile.compiler", "compile_policy": "engine.compile.compiler",
    "Decision": "engine.core.decision", "Sla": "engine.core.decision",
    "Diagnostic": "engine.core.diagnostics", "DiagnosticError": "engine.core.diagnostics",
    "Location": "engine.core.diagnostics",
    "CalendarError": "engine.run.errors", "TicketError": "engine.run.errors",
    "EvaluationError": "engine.run.errors", "EngineFailure": "engine.run.errors",
    "EngineThreadError": "engine.run.errors", "FiringBoundError": "engine.run.errors",
    "RuleActionError": "engine.run.errors",
    "evaluate": "engine.timeline.evaluator", "Evaluator": "engine.run.evaluator",
    "Failure": "engine.run.evaluator", "TimelineEvaluator": "engine.timeline.evaluator",
    "bundled": "engine.load.policies", "check_file": "engine.check.files",
    "load_policy": "engine.compile.pipeline",
}
__all__ = [
    "CalendarError",
    "CompiledPolicy",
    "Decision",
    "Diagnostic",
    "DiagnosticError",
    "EngineFailure",
    "EngineThreadError",
    "EvaluationError",
    "Evaluator",
    "Failure",
    "FiringBoundError",
    "Location",
    "RuleActionError",
    "Sla",
    "TicketError",
    "TimelineEvaluator",
    "bundled",
    "check_file",
    "compile_policy",
    "evaluate",
    "load_policy",
]

if TYPE_CHECKING:
    from engine.check.files import check_file
    from engine.compile.compiler import CompiledPolicy, compile_policy
    from engine.compile.pipeline import load_policy
    from engine.core.decision import Decision, Sla
    from engine.core.diagnostics import Diagnostic, DiagnosticError, Location
    from engine.load.policies import bundled
    from engine.run.errors import (
        CalendarError,
        EngineFailure,
        EngineThreadError,
        EvaluationError,
        FiringBoundError,
        RuleActionError,
        TicketError,
    )
    from engine.run.evaluator import Evaluator, Failure
    from engine.timeline.evaluator import TimelineEvaluator, evaluate


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
