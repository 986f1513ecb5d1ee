"""The use cases, as functions returning data: what `cli.py`, a decision service, a batch runner
or a worker calls.

Nothing here prints, exits or raises for a user's mistake: an unknown or invalid policy, an
unreadable or invalid ticket, a bad option value come back as `Diagnostic`s in the result, with
a `status` that says what went wrong:

- ``OK``: done;
- ``POLICY_ERROR``: the policy is unknown or invalid (reported alone: nothing can be checked
  without it);
- ``INPUT_ERROR``: an option value or the ticket is unusable;
- ``FAILED``: the policy failed to decide (a firing bound, a rule action, a calendar).

Compiled policies are cached per process (see `compiled`), so repeated calls on one policy do
not recompile it. Layer: everything in engine/ but adapters may be imported here; nothing in
engine/ but the adapters imports this module.

This module is the one list of use cases; each is written in `engine/usecases/`: `base`
(status, compiled policies, the decision text), `decide` (decide, why-not), `policies`
(validate, lint, policy tests, the policy list) and `calendar` (due, elapsed). Batch runs and
the impact diff are the ops layer's (`engine.ops.batch`, `engine.ops.diff.usecase`).
"""

from __future__ import annotations

from engine.ops.batch import BatchResult, run_batch
from engine.ops.diff.usecase import DiffResult, diff
from engine.ops.summary import Summary, summarize
from engine.usecases.base import (
    Status,
    TicketSource,
    clear_policy_cache,
    compiled,
    decision_text,
    mapping_for,
    policy_versions,
)
from engine.usecases.calendar import DueResult, ElapsedResult, due, elapsed
from engine.usecases.decide import MAX_TICKET_BYTES, DecideResult, WhyNotResult, decide, why_not
from engine.usecases.policies import (
    CheckReport,
    PolicyInfo,
    PolicyList,
    PolicyTestReport,
    check_paths,
    list_policies,
    run_policy_tests,
)

__all__ = [
    "MAX_TICKET_BYTES", "CheckReport", "DecideResult", "DueResult", "ElapsedResult", "PolicyInfo",
    "PolicyList",
    "PolicyTestReport", "Status", "TicketSource", "WhyNotResult", "check_paths",
    "clear_policy_cache", "compiled", "decide", "decision_text", "due", "elapsed",
    "list_policies", "mapping_for", "policy_versions", "run_policy_tests", "why_not",
]
__all__ += ["BatchResult", "Summary", "run_batch", "summarize"]
__all__ += ["DiffResult", "diff"]
