"""Policy tests, the model: a case as read from its test file, its result, rule coverage; the
keys an expectation may name; the policy each case tests, compiled once per process."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from engine.compile.compiler import CompiledPolicy
from engine.compile.pipeline import load_policy
from engine.core.diagnostics import (
    Diagnostic,
)
from engine.load import Document

#: Keys of Decision.to_json() an expectation may name.
DECISION_KEYS = ("ticket_id", "policy", "requested_priority", "priority", "plan", "actions",
                 "sla", "sla_reason", "channels", "obligations", "notes", "ignored_fields",
                 "trace", "history", "clocks", "held")
#: Everything `expect` may hold.
EXPECT_KEYS = (*DECISION_KEYS, "fired", "not_fired", "error")
_FILE_KEYS = ("policy", "cases")
_CASE_KEYS = ("note", "ticket", "now", "at", "expect")
# same length, each item a subset match
_ITEM_LISTS = ("actions", "obligations", "trace", "history", "clocks", "held")
_STRING_LISTS = ("channels", "notes", "fired", "not_fired")
_MAPPINGS = ("policy", "sla")                         # subset match (sla may also be null)
# compared as durations (P1D == PT24H) and as instants (Z == +00:00), wherever they occur
_DURATION_KEYS = ("target", "remaining", "consumed")
_INSTANT_KEYS = ("due_at", "breached_at", "warn_at", "fulfilled_at", "started_at", "as_of",
                 "at", "start", "end", "since")


@dataclass(frozen=True)
class Case:
    """One test case, with where it was written and the policy it tests."""

    file: str                 # the test file, as displayed
    line: int
    index: int                # 1-based position in the file
    note: str
    policy_file: str          # the policy's rule file
    ticket: object
    now: datetime | None
    expect: Mapping = field(repr=False)
    ticket_pointer: str = ""  # where the ticket is written in the test file
    doc: Document | None = field(default=None, repr=False, compare=False)
    at: datetime | None = None    # decide the ticket as it stood at this instant

    @property
    def id(self) -> str:
        """A stable, readable test id: `rules/zmanda/tests/matrix.yaml#3`."""
        return f"{self.file}#{self.index}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class CaseResult:
    case: Case
    problems: tuple[str, ...]         # empty when the case passed
    fired: frozenset[str]             # rules fired (empty for error cases)
    warnings: tuple[Diagnostic, ...] = ()   # about the ticket, at file:line:col of the test file

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Coverage:
    policy_id: str
    rules: tuple[str, ...]            # every rule of the compiled policy, in firing order
    fired: frozenset[str]

    @property
    def uncovered(self) -> tuple[str, ...]:
        return tuple(r for r in self.rules if r not in self.fired)

    @property
    def covered(self) -> int:
        return len(self.rules) - len(self.uncovered)

    @property
    def percent(self) -> float:
        return 100.0 if not self.rules else 100.0 * self.covered / len(self.rules)

    def line(self) -> str:
        pct = math.floor(self.percent * 10) / 10      # never round 99.95 up to 100
        shown = f"{pct:.1f}".removesuffix(".0")
        return f"coverage {self.policy_id}: {self.covered}/{len(self.rules)} rules ({shown}%)"


@cache
def _compiled(policy_file: str) -> CompiledPolicy:
    return load_policy(policy_file)
