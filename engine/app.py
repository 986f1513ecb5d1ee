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
engine/ imports this module.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from engine.calendars import Calendar
from engine.check.files import check_file
from engine.check.tickets import parse_timestamp
from engine.compile.compiler import CompiledPolicy, compile_policy
from engine.compile.pipeline import load_policy
from engine.core.decision import Decision
from engine.core.diagnostics import Diagnostic, DiagnosticError, Location, did_you_mean
from engine.core.durations import check_target, parse_duration
from engine.core.facts import iana_zones
from engine.explain import why_not as explain_why_not
from engine.load import Document, load_json, read_text
from engine.load.policies import bundled, display_path, expand, resolve, rules_dir
from engine.run.errors import EvaluationError, TicketError
from engine.run.evaluator import evaluate

if TYPE_CHECKING:  # the author tools load when used: deciding does not need them
    from engine.author.policytest import CaseResult, Coverage

__all__ = [
    "CheckReport", "DecideResult", "DueResult", "ElapsedResult", "PolicyInfo", "PolicyList",
    "PolicyTestReport", "Status", "TicketSource", "WhyNotResult", "check_paths",
    "clear_policy_cache", "compiled", "decide", "due", "elapsed", "list_policies",
    "run_policy_tests", "why_not",
]


class Status(StrEnum):
    """What a use case's result says happened (a str: `status == "ok"` works)."""

    OK = "ok"
    POLICY_ERROR = "policy_error"   # the policy is unknown or invalid
    INPUT_ERROR = "input_error"     # an option value or the ticket is unusable
    FAILED = "failed"               # the policy failed to decide


#: A ticket: its JSON text (a str is text, never a path), raw bytes (a request body), a binary
#: stream (stdin) or a path to a file (a `Path` / `os.PathLike`).
TicketSource = str | bytes | BinaryIO | os.PathLike


def _sorted(diags: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    return tuple(sorted(diags, key=Diagnostic.sort_key))


# --------------------------------------------------------------------------- compiled policies

_POLICY_CACHE_SIZE = 64
_policies: dict[tuple, CompiledPolicy] = {}
_policies_lock = threading.Lock()


def compiled(policy_ref: str | Path) -> tuple[CompiledPolicy | None, tuple[Diagnostic, ...]]:
    """The compiled policy for a bundled id or a path, or None with every problem.

    Compiled once per process and reused while the rule file is unchanged: the cache key is the
    resolved file, its mtime and size, and the path the trace cites (relative to the working
    directory). Bounded; the oldest entry goes first.
    """
    try:
        path = resolve(str(policy_ref))
        stat = path.stat()
    except DiagnosticError as exc:
        return None, _sorted(exc.diagnostics)
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
        return None, _sorted(exc.diagnostics)


def clear_policy_cache() -> None:
    with _policies_lock:
        _policies.clear()


def _evaluate(policy: CompiledPolicy, ticket: Mapping, *, now: datetime | None,
              cache: bool) -> Decision:
    """The one evaluation call of the use cases (switch to an Evaluator here)."""
    return evaluate(policy, ticket, now=now, cache=cache)


# --------------------------------------------------------------------------- validate and lint


@dataclass(frozen=True)
class CheckReport:
    """`validate` / `lint` of some paths: every diagnostic of every policy file."""

    diagnostics: tuple[Diagnostic, ...]
    files: int                      # policy files checked
    lint: bool

    @property
    def errors(self) -> int:
        return sum(d.severity == "error" for d in self.diagnostics)

    @property
    def findings(self) -> int:
        """What fails the run: errors for validate, every diagnostic for lint."""
        return len(self.diagnostics) if self.lint else self.errors

    @property
    def unusable_paths(self) -> bool:
        """A path named no policy file (a usage error, not a finding)."""
        return any(d.code in ("unknown_policy", "no_policies") for d in self.diagnostics)


def check_paths(paths: Sequence[str], *, lint: bool) -> CheckReport:
    """Load, check and compile (what evaluation would meet) every policy file under `paths`,
    and with `lint` run the linter on the valid ones."""
    from engine.author.lint import lint_policy

    found: list[Diagnostic] = []
    files = expand(list(paths), found)
    for path in files:
        model, diags = check_file(path)
        found += diags
        if model is None or any(d.severity == "error" for d in diags):
            continue
        try:
            compile_policy(model)
        except DiagnosticError as exc:
            found += exc.diagnostics
            continue
        if lint:
            found += lint_policy(model)
    return CheckReport(_sorted(found), len(files), lint)


# --------------------------------------------------------------------------- decide and explain


@dataclass(frozen=True)
class DecideResult:
    """One ticket decided, or why not: `decision` is set exactly when `status` is ``ok``."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    policy: CompiledPolicy | None = None
    decision: Decision | None = None
    ticket_data: object = field(default=None, repr=False)  # the parsed ticket, if readable

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


def decide(policy_ref: str | Path, ticket: TicketSource, *, source_name: str | None = None,
           now_text: str | None = None, cache: bool = True) -> DecideResult:
    """Resolve and compile the policy, read and parse the ticket, parse `now_text` (RFC 3339,
    adds `remaining` to the SLA), evaluate.

    Problems of the policy are reported alone (``POLICY_ERROR``); then every problem of the
    options (located at the option, e.g. `--now`) and of the ticket (at `file:line:col` of its
    text, named `source_name`) together (``INPUT_ERROR``).
    """
    cp, diags = compiled(policy_ref)
    if cp is None:
        return DecideResult(Status.POLICY_ERROR, diags)
    problems: list[Diagnostic] = []
    moment = _parse_now(now_text, problems)
    data, doc, unreadable = _read_ticket(ticket, source_name)
    problems += unreadable
    if problems and doc is not None:  # an option is bad: report the ticket's problems with it
        problems += _located(doc, cp.checker.check(data)[1])
    if problems:
        return DecideResult(Status.INPUT_ERROR, _sorted(problems), cp, ticket_data=data)
    try:
        decision = _evaluate(cp, data, now=moment, cache=cache)
    except TicketError as exc:
        return DecideResult(Status.INPUT_ERROR, _sorted(_located(doc, exc.diagnostics)), cp,
                            ticket_data=data)
    except EvaluationError as exc:
        return DecideResult(Status.FAILED, (Diagnostic(
            exc.code, str(exc), location=Location(file=cp.policy.file),
            rule=exc.rules[0] if exc.rules else None),), cp, ticket_data=data)
    return DecideResult(Status.OK, (), cp, decision, data)


def _parse_now(value: str | None, problems: list[Diagnostic]) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        problems.append(Diagnostic("bad_now", str(exc), location=Location(file="--now")))
        return None


def _read_ticket(source: TicketSource, name: str | None
                 ) -> tuple[object, Document | None, list[Diagnostic]]:
    """The ticket's data and document, or the problems that prevent reading it."""
    if isinstance(source, str):
        text, diags = source, []
        name = name or "<ticket>"
    else:
        if isinstance(source, os.PathLike):
            source = Path(source)
            name = name or str(source)
        name = name or "<ticket>"
        text, diags = read_text(source, name)
    if text is None:
        return None, None, diags
    doc, diags = load_json(text, name)
    if doc is None or any(d.severity == "error" for d in diags):
        return None, None, diags
    return doc.data, doc, []


def _located(doc: Document, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Ticket diagnostics (JSON pointers) placed at file:line:col in the ticket's text."""
    out = []
    for d in diagnostics:
        pointer = d.location.pointer or ""
        loc = doc.locate(pointer)
        out.append(Diagnostic(d.code, d.message, d.severity,
                              Location(loc.file, loc.line, loc.column, pointer or "/"),
                              d.rule, d.hint))
    return out


@dataclass(frozen=True)
class WhyNotResult:
    """Why a rule (or every rule of a group) did not fire on a ticket: `report` is what
    `engine.explain.why_not.render_why_not` renders."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    report: dict | None = None
    decided: DecideResult | None = None

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


def why_not(policy_ref: str | Path, ticket: TicketSource, rule: str, *,
            source_name: str | None = None, now_text: str | None = None,
            cache: bool = True) -> WhyNotResult:
    """Decide the ticket (as `decide`), then explain why `rule` did not fire; an unknown rule
    is ``INPUT_ERROR`` with a "did you mean" hint."""
    decided = decide(policy_ref, ticket, source_name=source_name, now_text=now_text,
                     cache=cache)
    if not decided.ok:
        return WhyNotResult(decided.status, decided.diagnostics, decided=decided)
    cp = decided.policy
    checked, _ = cp.checker.check(decided.ticket_data)
    try:
        report = explain_why_not.why_not(cp, decided.decision, rule, checked.values)
    except KeyError:
        ids = sorted({r.id for r in cp.rules} | {r.group for r in cp.rules if r.group})
        return WhyNotResult(Status.INPUT_ERROR, (Diagnostic(
            "unknown_rule", f"no rule `{rule}` in policy `{cp.id}`",
            location=Location(file=cp.policy.file), hint=did_you_mean(rule, ids)),),
            decided=decided)
    return WhyNotResult(Status.OK, (), report, decided)


# --------------------------------------------------------------------------- policy tests


@dataclass(frozen=True)
class PolicyTestReport:
    """Policy test cases run: problems of the test files, each case's result, rule coverage."""

    diagnostics: tuple[Diagnostic, ...]
    results: tuple[CaseResult, ...]
    coverage: tuple[Coverage, ...]
    min_coverage: float | None = None

    @property
    def failed(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def passed(self) -> int:
        return len(self.results) - len(self.failed)

    @property
    def low_coverage(self) -> tuple[Coverage, ...]:
        """Policies whose rule coverage is below `min_coverage`."""
        if self.min_coverage is None:
            return ()
        return tuple(c for c in self.coverage if c.percent < self.min_coverage)

    @property
    def bad_test_files(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)


def run_policy_tests(paths: Sequence[str | Path] = (), min_coverage: float | None = None
                     ) -> PolicyTestReport:
    """Run every test case under `paths` (default: the bundled rules); an invalid test file is
    reported in `diagnostics` and the valid files still run."""
    from engine.author.policytest import check_case, collect, coverage

    cases, diags = collect(list(paths) or [str(rules_dir())])
    results = tuple(check_case(c) for c in cases)
    return PolicyTestReport(_sorted(diags), results, tuple(coverage(results)), min_coverage)


# --------------------------------------------------------------------------- calendars


@dataclass(frozen=True)
class DueResult:
    """When `within` of open time has elapsed since `start` on a policy's calendar."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    due: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


@dataclass(frozen=True)
class ElapsedResult:
    """The open time between two instants on a policy's calendar (negative when end < start)."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    elapsed: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


class _BadOption(Exception):
    """One bad option value; the calendar queries stop at the first."""

    def __init__(self, code: str, option: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.diagnostic = Diagnostic(code, message, location=Location(file=option), hint=hint)


def due(policy_ref: str | Path, calendar: str, start: str, within: str, *,
        timezone: str | None = None) -> DueResult:
    """`start` (RFC 3339) plus `within` (ISO 8601 duration) of open time on `calendar`, in the
    customer's `timezone` for calendars declared `timezone: customer`. Option problems are
    located at the option (`--calendar`, `--from`, `--within`, `--timezone`); the first one
    found is reported."""
    cp, diags = compiled(policy_ref)
    if cp is None:
        return DueResult(Status.POLICY_ERROR, diags)
    try:
        cal = _calendar(cp, calendar, timezone)
        moment = _instant("--from", start)
        try:
            amount = parse_duration(within)
            check_target(within, amount)
        except ValueError as exc:
            raise _BadOption("bad_duration", "--within", str(exc)) from None
        try:
            return DueResult(Status.OK, due=cal.due(moment, amount))
        except (ValueError, OverflowError) as exc:
            raise _BadOption("calendar_exhausted", "--calendar",
                             f"calendar `{calendar}`: {exc}") from None
    except _BadOption as bad:
        return DueResult(Status.INPUT_ERROR, (bad.diagnostic,))


def elapsed(policy_ref: str | Path, calendar: str, start: str, end: str, *,
            timezone: str | None = None) -> ElapsedResult:
    """The open time on `calendar` between `start` and `end` (RFC 3339); as `due`."""
    cp, diags = compiled(policy_ref)
    if cp is None:
        return ElapsedResult(Status.POLICY_ERROR, diags)
    try:
        cal = _calendar(cp, calendar, timezone)
        since, until = _instant("--from", start), _instant("--to", end)
        try:
            return ElapsedResult(Status.OK, elapsed=cal.elapsed(since, until))
        except (ValueError, OverflowError) as exc:
            raise _BadOption("calendar_exhausted", "--calendar",
                             f"calendar `{calendar}`: {exc}") from None
    except _BadOption as bad:
        return ElapsedResult(Status.INPUT_ERROR, (bad.diagnostic,))


def _calendar(cp: CompiledPolicy, name: str, zone: str | None) -> Calendar:
    calendars = cp.policy.calendars
    if name not in calendars:
        raise _BadOption("unknown_calendar", "--calendar", f"policy `{cp.id}` has no calendar "
                         f"`{name}`", did_you_mean(name, calendars) or
                         f"calendars: {', '.join(calendars) or 'none'}")
    calendar = calendars[name]
    if zone is None:
        return calendar
    if zone not in iana_zones():
        raise _BadOption("unknown_timezone", "--timezone", f"`{zone}` is not an IANA time zone",
                         did_you_mean(zone, iana_zones()))
    if not calendar.customer_zone:
        raise _BadOption("fixed_timezone", "--timezone", f"calendar `{name}` runs on "
                         f"{calendar.zone.key}, not on the customer's zone",
                         "--timezone applies to calendars declared `timezone: customer`")
    return calendar.for_zone(zone)


def _instant(option: str, value: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise _BadOption("bad_timestamp", option, str(exc)) from None


# --------------------------------------------------------------------------- bundled policies


class PolicyInfo(NamedTuple):
    id: str
    version: str
    digest: str
    title: str
    file: str

    def to_json(self) -> dict:
        return self._asdict()


@dataclass(frozen=True)
class PolicyList:
    """The bundled policies that compile, and the problems of those that do not."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    policies: tuple[PolicyInfo, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


def list_policies() -> PolicyList:
    """Every bundled policy with its version and digest."""
    rows, problems = [], []
    for pid, path in bundled().items():
        cp, diags = compiled(path)
        if cp is None:
            problems += diags
            continue
        rows.append(PolicyInfo(pid, cp.version, cp.digest, cp.policy.title, cp.policy.file))
    status = Status.POLICY_ERROR if problems else Status.OK
    return PolicyList(status, _sorted(problems), tuple(rows))


from engine.ops.diff.usecase import DiffResult, diff  # noqa: E402  (the diff use case)

__all__ += ["DiffResult", "diff"]
