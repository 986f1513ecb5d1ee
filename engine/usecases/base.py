"""The use cases' common ground: the `Status` a result carries, the ticket sources they take,
the compiled policies kept per process, the one evaluation call and the one decision text.

Compiled policies are cached per process (see `compiled`), so repeated calls on one policy do
not recompile it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import orjson

from engine.check.mapping import PayloadMapping, cached_mapping
from engine.compile.compiler import CompiledPolicy
from engine.compile.pipeline import load_policy
from engine.compile.versions import PolicyVersions, is_versioned, load_versions
from engine.core.decision import Decision
from engine.core.diagnostics import Diagnostic, DiagnosticError
from engine.load.policies import display_path, resolve
from engine.run.evaluator import Evaluator
from engine.timeline.evaluator import Timeline, timeline_for


class Status(StrEnum):
    """What a use case's result says happened (a str: `status == "ok"` works)."""

    OK = "ok"
    POLICY_ERROR = "policy_error"   # the policy is unknown or invalid
    INPUT_ERROR = "input_error"     # an option value or the ticket is unusable
    FAILED = "failed"               # the policy failed to decide
    LOG_ERROR = "log_error"         # decided, but the decision log could not be written


class StatusResult:
    """A use case's result: its `status` says what happened."""

    status: Status

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


#: A ticket: its JSON text (a str is text, never a path), raw bytes (a request body), a binary
#: stream (stdin) or a path to a file (a `Path` / `os.PathLike`).
TicketSource = str | bytes | BinaryIO | os.PathLike


def sorted_diagnostics(diags: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    return tuple(sorted(diags, key=Diagnostic.sort_key))


# --------------------------------------------------------------------------- compiled policies

_POLICY_CACHE_SIZE = 64
_policies: dict[tuple, CompiledPolicy] = {}
_policies_lock = threading.Lock()


def compiled(policy_ref: str | Path | CompiledPolicy
             ) -> tuple[CompiledPolicy | None, tuple[Diagnostic, ...]]:
    """The compiled policy for a bundled id or a path, or None with every problem.

    Compiled once per process and reused while the rule file is unchanged: the cache key is the
    resolved file, its mtime and size, and the path the trace cites (relative to the working
    directory). Bounded; the oldest entry goes first. A `CompiledPolicy` is returned as it is
    (a host that holds its own policy set, such as the service, passes the version it serves).
    A reference to one of several effective-dated versions (`id@VERSION`, or a folder holding
    several: its latest) goes through `policy_versions`; deciding a ticket picks its version
    by `submitted_at` (`decide`).
    """
    if isinstance(policy_ref, CompiledPolicy):
        return policy_ref, ()
    if isinstance(policy_ref, str) and is_versioned(policy_ref):
        found, diags = policy_versions(policy_ref)
        return (found.chosen if found else None), diags
    try:
        path = resolve(str(policy_ref))
        stat = path.stat()
    except DiagnosticError as exc:
        return None, sorted_diagnostics(exc.diagnostics)
    except OSError:  # gone between resolve and stat: let loading report it
        return _load_uncached(path)
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, display_path(path))
    with _policies_lock:
        hit = _policies.get(key)
    if hit is not None:
        return hit, ()
    cp, diags = _load_uncached(path)
    if cp is not None:
        with _policies_lock:
            if len(_policies) >= _POLICY_CACHE_SIZE:
                del _policies[next(iter(_policies))]
            _policies[key] = cp
    return cp, diags


def _load_uncached(path: Path) -> tuple[CompiledPolicy | None, tuple[Diagnostic, ...]]:
    try:
        return load_policy(path), ()
    except DiagnosticError as exc:
        return None, sorted_diagnostics(exc.diagnostics)


def _load_cached(path: Path) -> CompiledPolicy:
    cp, diags = compiled(path)
    if cp is None:
        raise DiagnosticError(list(diags))
    return cp


def policy_versions(policy_ref: str | Path) -> tuple[PolicyVersions | None, tuple[Diagnostic, ...]]:
    """Every version a reference stands for (a bundled id or folder: `policy.yaml` and
    `versions/*.yaml`; `id@VERSION` names one), each compiled once per process, or None with
    every problem (overlapping or gapped validity included)."""
    try:
        return load_versions(str(policy_ref), load=_load_cached), ()
    except DiagnosticError as exc:
        return None, sorted_diagnostics(exc.diagnostics)


def clear_policy_cache() -> None:
    with _policies_lock:
        _policies.clear()


def evaluate_timeline(policy: CompiledPolicy, ticket: object, *, now: datetime | None,
                      cache: bool, at: datetime | None = None, strict: bool = False,
                      evaluator: Evaluator | None = None) -> Timeline:
    """The one evaluation call of the use cases: the ticket's timeline — its events followed,
    the decision as of `now` or as it stood `at` — on `evaluator` (a host's own), else on the
    process's default."""
    return timeline_for(evaluator).run(policy, ticket, now=now, at=at, cache=cache,
                                       strict=strict)


def mapping_for(mapping_ref: str | Path, policy: CompiledPolicy
                ) -> tuple[PayloadMapping | None, tuple[Diagnostic, ...]]:
    """The checked mapping (a bundled id such as `zendesk`, or a file) for a policy's facts,
    or None with every problem (at the mapping file's `file:line:col`); kept per process."""
    found, diags = cached_mapping(mapping_ref, policy.digest, policy.policy.facts)
    return found, sorted_diagnostics(diags)


def decision_text(decision: Decision) -> str:
    """A decision's JSON text as `ticket-policy evaluate` prints it (without the final newline):
    two-space indented UTF-8. Every host that answers with one decision uses it, so their bytes
    agree. orjson writes it (~3x faster than the json module's pure-Python indenting encoder,
    the same text but for floats such as `0.00001`); what orjson refuses (a lone surrogate, an
    integer beyond 64 bits) is written by the json module."""
    data = decision.to_json()
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(data, indent=2, ensure_ascii=False)
