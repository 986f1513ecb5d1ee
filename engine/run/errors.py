"""Why a ticket could not be decided: the errors evaluation raises (no engine import)."""

from __future__ import annotations

from engine.core.diagnostics import DiagnosticError


class EvaluationError(Exception):
    """A ticket could not be decided; the message names the rule(s) involved."""

    code = "evaluation_failed"

    def __init__(self, message: str, rules: tuple[str, ...] = ()):
        super().__init__(message)
        self.rules = rules


class RuleActionError(EvaluationError):
    code = "rule_action_failed"


class FiringBoundError(EvaluationError):
    code = "firing_bound_exceeded"


class EngineFailure(EvaluationError):
    """durable_rules itself failed (`engine_code`: its numeric error code, when it gave one)."""

    code = "engine_failure"

    def __init__(self, message: str, rules: tuple[str, ...] = (),
                 engine_code: int | None = None):
        super().__init__(message, rules)
        self.engine_code = engine_code


class EngineThreadError(RuntimeError):
    """The engine was called from a thread other than the one that owns it."""


class CalendarError(EvaluationError):
    """A due time could not be computed on the target's calendar."""

    code = "calendar_exhausted"


class TicketError(DiagnosticError):
    """The ticket violates the policy's fact schema; `.diagnostics` lists every problem."""
