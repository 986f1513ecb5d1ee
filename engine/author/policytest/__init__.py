"""Policy test cases: YAML files of tickets and the decisions they must produce.

A test file (see docs/policy-tests.md) holds `cases`, each a `note`, a `ticket` (which may
carry `events`), an optional `now` or `at` and an `expect`ation: any subset of the decision (its
`history` and `clocks` included), rules that must (not) fire, or the error code evaluation must
fail with. `run_cli` backs `ticket-policy test`; `discover` and `run_case` are what
tests/test_policies.py reuses, one pytest test per case.

How a case is decided is given (`evaluate=`): the run stage decides one snapshot and refuses
`events`; `engine.app` passes the timeline's evaluator, which follows them (this layer cannot
import it).
"""

from engine.author.policytest.cases import (
    DECISION_KEYS,
    EXPECT_KEYS,
    Case,
    CaseResult,
    Coverage,
)
from engine.author.policytest.files import collect, discover
from engine.author.policytest.runner import check_case, coverage, run_case, run_cli
from engine.core.diagnostics import DiagnosticError as DiagnosticError  # `discover` raises it

__all__ = [
    "Case", "CaseResult", "Coverage", "DECISION_KEYS", "EXPECT_KEYS", "check_case", "collect",
    "coverage", "discover", "run_case", "run_cli",
]

