"""ticket-policy: support policies as data, compiled into durable_rules, evaluated per ticket.

Pipeline: loader (YAML with marks) → checks (schema, meaning) → compiler (durable_rules ruleset)
→ runtime (a session per ticket) → trace (renderers). `evaluate` is the one pure core.
"""

from .compiler import CompiledPolicy, compile_policy
from .decision import Decision, Sla
from .diagnostics import Diagnostic, DiagnosticError, Location
from .evaluate import CalendarError, TicketError, evaluate
from .pipeline import bundled, check_file, load_policy
from .runtime import (
    EngineFailure,
    EngineThreadError,
    EvaluationError,
    FiringBoundError,
    RuleActionError,
)

__all__ = [
    "CalendarError", "CompiledPolicy", "Decision", "Diagnostic", "DiagnosticError", "EngineFailure",
    "EngineThreadError",
    "EvaluationError", "FiringBoundError", "Location", "RuleActionError", "Sla", "TicketError",
    "bundled", "check_file", "compile_policy", "evaluate", "load_policy",
]
