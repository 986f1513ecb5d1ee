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

import json
import os
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

import orjson

from engine.calendars import Calendar, CalendarRangeError
from engine.check.files import check_file
from engine.check.mapping import Mapped, PayloadMapping, apply_mapping, cached_mapping, relocate
from engine.check.tickets import parse_timestamp
from engine.check.versions import check_versions
from engine.compile.compiler import CompiledPolicy, compile_policy
from engine.compile.pipeline import load_policy
from engine.compile.versions import PolicyVersions, is_versioned, load_versions
from engine.core.decision import Decision
from engine.core.diagnostics import Diagnostic, DiagnosticError, Location, did_you_mean
from engine.core.durations import check_target, parse_duration
from engine.core.facts import iana_zones
from engine.explain import why_not as explain_why_not
from engine.load import Document, load_json, read_text
from engine.load.policies import bundled, display_path, expand, policy_folder, resolve
from engine.ops.log import DecisionLog, LogError, Receipt
from engine.ops.log.query import LogReader
from engine.ops.log.store import version_warning
from engine.run.errors import EvaluationError, TicketError
from engine.run.evaluator import Evaluator
from engine.timeline.evaluator import Timeline, TimelineEvaluator, default_timeline

if TYPE_CHECKING:  # the author tools load when used: deciding does not need them
    from engine.author.lint import Suppressed
    from engine.author.policytest import CaseResult, Coverage

__all__ = [
    "MAX_TICKET_BYTES", "CheckReport", "DecideResult", "DueResult", "ElapsedResult", "PolicyInfo",
    "PolicyList",
    "PolicyTestReport", "Status", "TicketSource", "WhyNotResult", "check_paths",
    "clear_policy_cache", "compiled", "decide", "decision_text", "due", "elapsed",
    "list_policies", "mapping_for", "policy_versions", "run_policy_tests", "why_not",
]


class Status(StrEnum):
    """What a use case's result says happened (a str: `status == "ok"` works)."""

    OK = "ok"
    POLICY_ERROR = "policy_error"   # the policy is unknown or invalid
    INPUT_ERROR = "input_error"     # an option value or the ticket is unusable
    FAILED = "failed"               # the policy failed to decide
    LOG_ERROR = "log_error"         # decided, but the decision log could not be written


#: A ticket: its JSON text (a str is text, never a path), raw bytes (a request body), a binary
#: stream (stdin) or a path to a file (a `Path` / `os.PathLike`).
TicketSource = str | bytes | BinaryIO | os.PathLike


def _sorted(diags: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
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
        return None, _sorted(exc.diagnostics)


def clear_policy_cache() -> None:
    with _policies_lock:
        _policies.clear()


def _evaluate(policy: CompiledPolicy, ticket: Mapping, *, now: datetime | None,
              cache: bool, at: datetime | None = None, strict: bool = False,
              evaluator: Evaluator | None = None) -> Timeline:
    """The one evaluation call of the use cases: the ticket's timeline — its events followed,
    the decision as of `now` or as it stood `at` — on `evaluator` (a host's own), else on the
    process's default."""
    timeline = default_timeline() if evaluator is None else _timelines.setdefault(
        evaluator, TimelineEvaluator(evaluator))
    return timeline.run(policy, ticket, now=now, at=at, cache=cache, strict=strict)


_timelines: weakref.WeakKeyDictionary[Evaluator, TimelineEvaluator] = \
    weakref.WeakKeyDictionary()


def mapping_for(mapping_ref: str | Path, policy: CompiledPolicy
                ) -> tuple[PayloadMapping | None, tuple[Diagnostic, ...]]:
    """The checked mapping (a bundled id such as `zendesk`, or a file) for a policy's facts,
    or None with every problem (at the mapping file's `file:line:col`); kept per process."""
    found, diags = cached_mapping(mapping_ref, policy.digest, policy.policy.facts)
    return found, _sorted(diags)


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


# --------------------------------------------------------------------------- validate and lint


@dataclass(frozen=True)
class CheckReport:
    """`validate` / `lint` of some paths: every diagnostic of every policy file."""

    diagnostics: tuple[Diagnostic, ...]
    files: int                      # policy files checked
    lint: bool
    suppressed: tuple[Suppressed, ...] = ()   # lint findings rules mark as intended (uncounted)

    def lint_json(self) -> list[dict]:
        """`lint --format json`: the findings and the suppressed ones (with their reasons)."""
        from engine.author.lint import lint_json

        return lint_json(self.diagnostics, self.suppressed)

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
    from engine.author.lint import lint_report

    found: list[Diagnostic] = []
    suppressed: list[Suppressed] = []
    files = expand(list(paths), found)
    folders: dict[Path, list] = {}   # the versions of each policy folder, checked together
    for path in files:
        model, diags = check_file(path)
        found += diags
        if model is None or any(d.severity == "error" for d in diags):
            continue
        if path.name == "policy.yaml" or path.parent.name == "versions":  # a policy folder's
            folders.setdefault(policy_folder(path), []).append(model)
        try:
            compile_policy(model)
        except DiagnosticError as exc:
            found += exc.diagnostics
            continue
        if lint:
            linted = lint_report(model)
            found += linted.findings
            suppressed += linted.suppressed
    for models in folders.values():
        found += check_versions(models)
    return CheckReport(_sorted(found), len(files), lint, tuple(suppressed))


# --------------------------------------------------------------------------- decide and explain


@dataclass(frozen=True)
class DecideResult:
    """One ticket decided, or why not: `decision` is set exactly when `status` is ``ok``."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    policy: CompiledPolicy | None = None
    decision: Decision | None = None
    ticket_data: object = field(default=None, repr=False)  # the parsed ticket, if readable
    values: dict | None = field(default=None, repr=False)  # the facts in effect at the end
    receipt: Receipt | None = None   # where the decision log holds it (with `log`)

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


#: Tickets larger than this are rejected before they are parsed (`max_ticket_bytes`).
MAX_TICKET_BYTES = 1 << 20


def decide(policy_ref: str | Path | CompiledPolicy, ticket: TicketSource, *,
           source_name: str | None = None, now_text: str | None = None,
           at_text: str | None = None, cache: bool = True, strict: bool = False,
           mapping: str | Path | PayloadMapping | None = None,
           evaluator: Evaluator | None = None,
           max_ticket_bytes: int | None = MAX_TICKET_BYTES, log: DecisionLog | None = None,
           request_id: str | None = None) -> DecideResult:
    """Resolve and compile the policy, read and parse the ticket, parse `now_text` (RFC 3339:
    the clocks are read then, and `sla.remaining` measured) or `at_text` (the decision as it
    stood then: later events and a later first response are left out), evaluate — following
    the ticket's `events`. With `mapping` (a bundled id such as `zendesk`, a mapping file, or a
    checked `PayloadMapping`) the input is a helpdesk payload, mapped onto a ticket first
    (`engine.check.mapping.apply_mapping`). `strict`: a key that looks like a misspelt fact is
    an error instead of a warning.

    Problems of the policy are reported alone (``POLICY_ERROR``), then those of the mapping
    file; then every problem of the options (located at the option, e.g. `--now`) and of the
    ticket (at `file:line:col` of its text, named `source_name`; for a mapped payload, at the
    payload's part each fact was mapped from) together (``INPUT_ERROR``). A decided ticket's
    warnings (severity `warning`) come with status ``OK``. Evaluates on `evaluator` when given
    (a host's own), else on the process's default evaluator. A ticket of more than
    `max_ticket_bytes` bytes (None: no limit) is ``ticket_too_large``, found without reading
    further than the limit. Of several effective-dated versions, the one in force at the
    ticket's `submitted_at` decides (unless one is named).

    With `log`, the decision is ``OK`` only once its record is durable (`receipt`; warnings
    such as `version_not_bumped` in `diagnostics`); a log that cannot be written is
    ``LOG_ERROR``, and nothing of the record is visible.
    """
    versions = None
    if isinstance(policy_ref, CompiledPolicy):  # a host's own (the version it serves)
        cp = policy_ref
    else:
        versions, diags = policy_versions(policy_ref)
        if versions is None:
            return DecideResult(Status.POLICY_ERROR, diags)
        cp = versions.chosen
    mapper = mapping if isinstance(mapping, PayloadMapping) or mapping is None else None
    if mapping is not None and mapper is None:
        mapper, diags = mapping_for(mapping, cp)  # type: ignore[arg-type]
        if mapper is None:
            return DecideResult(Status.INPUT_ERROR, diags, cp)
    problems: list[Diagnostic] = []
    moment = _parse_now(now_text, problems)
    at = _parse_now(at_text, problems, "--at")
    if now_text is not None and at_text is not None:
        problems.append(Diagnostic("bad_at", "`--now` and `--at` cannot be combined",
                                   location=Location(file="--at"), hint="`--now` reads the "
                                   "clocks of the whole ticket then; `--at` shows the ticket as "
                                   "it stood then"))
    data, doc, unreadable = _read_ticket(ticket, source_name, max_ticket_bytes)
    problems += unreadable
    mapped: Mapped | None = None
    if mapper is not None and doc is not None:
        mapped = apply_mapping(mapper, data)
        problems += _located(doc, mapped.diagnostics)
        data = mapped.ticket

    def place(found: Iterable[Diagnostic]) -> list[Diagnostic]:
        if mapped is not None:
            found = relocate(found, mapped, mapper)  # type: ignore[arg-type]
        return _located(doc, found)  # type: ignore[arg-type]

    if doc is not None and versions is not None:
        cp, not_in_force = versions.select(data)
        problems += _located(doc, [not_in_force]) if not_in_force else []
    if problems and doc is not None:  # an option is bad: report the ticket's problems with it
        problems += place(cp.checker.check(data, strict)[1])
    if problems:
        return DecideResult(Status.INPUT_ERROR, _sorted(problems), cp, ticket_data=data)
    try:
        timeline = _evaluate(cp, data, now=moment, at=at, cache=cache, strict=strict,
                             evaluator=evaluator)
    except TicketError as exc:
        return DecideResult(Status.INPUT_ERROR, _sorted(place(exc.diagnostics)), cp,
                            ticket_data=data)
    except EvaluationError as exc:
        return DecideResult(Status.FAILED, (Diagnostic(
            exc.code, str(exc), location=Location(file=cp.policy.file),
            rule=exc.rules[0] if exc.rules else None),), cp, ticket_data=data)
    decision = timeline.decision
    warnings = _sorted(place(decision.warnings))
    if request_id is not None:
        decision = decision.with_request_id(request_id)
    if log is None:
        return DecideResult(Status.OK, warnings, cp, decision, data, timeline.values)
    try:
        receipt = log.append(decision, policy=cp, ticket=data,  # type: ignore[arg-type]
                             request_id=request_id)
    except LogError as exc:
        return DecideResult(Status.LOG_ERROR, (exc.diagnostic,), cp, ticket_data=data)
    return DecideResult(Status.OK, (*warnings, *receipt.warnings), cp, decision, data,
                        timeline.values, receipt)


def _parse_now(value: str | None, problems: list[Diagnostic],
               option: str = "--now") -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        problems.append(Diagnostic("bad_now" if option == "--now" else "bad_at", str(exc),
                                   location=Location(file=option)))
        return None


def _read_ticket(source: TicketSource, name: str | None, limit: int | None
                 ) -> tuple[object, Document | None, list[Diagnostic]]:
    """The ticket's data and document, or the problems that prevent reading it."""
    if isinstance(source, os.PathLike):
        source = Path(source)
        name = name or str(source)
    name = name or "<ticket>"
    if limit is not None:
        source, too_large = _bounded(source, name, limit)
        if too_large:
            return None, None, [too_large]
    if isinstance(source, str):
        text, diags = source, []
    else:
        text, diags = read_text(source, name)
    if text is None:
        return None, None, diags
    doc, diags = load_json(text, name)
    if doc is None or any(d.severity == "error" for d in diags):
        return None, None, diags
    return doc.data, doc, []


def _bounded(source: TicketSource, name: str, limit: int
             ) -> tuple[TicketSource, Diagnostic | None]:
    """The ticket input read no further than `limit` bytes (one more tells it is larger), or
    the `ticket_too_large` diagnostic. Unreadable input is left to `read_text` to report."""
    size: int | None = None   # bytes, when over the limit (-1: a stream, its size unknown)
    if isinstance(source, str):
        if len(source) * 4 > limit:  # a character is at most 4 bytes of UTF-8
            n = len(source.encode("utf-8", "surrogatepass"))
            size = n if n > limit else None
    elif isinstance(source, bytes | bytearray):
        size = len(source) if len(source) > limit else None
    else:
        try:
            if isinstance(source, Path):
                with source.open("rb") as stream:
                    raw, total = stream.read(limit + 1), os.fstat(stream.fileno()).st_size
            else:
                raw, total = source.read(limit + 1), 0
        except OSError:
            return source, None
        if len(raw) <= limit:
            return raw, None
        size = total if total > limit else -1
    if size is None:
        return source, None
    shown = f"is {size:,} bytes" if size > 0 else "is larger"
    return source, Diagnostic(
        "ticket_too_large", f"the ticket {shown}; at most {limit:,} bytes are accepted",
        location=Location(file=name), hint="drop the fields no rule reads, or raise the limit "
        "(`--max-ticket-bytes`)")


def _located(doc: Document, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Ticket diagnostics (JSON pointers) placed at file:line:col in the ticket's text (those
    already placed in another file, e.g. a mapping's, are kept)."""
    out = []
    for d in diagnostics:
        if d.location.file is not None and d.location.pointer is None:
            out.append(d)
            continue
        pointer = d.location.pointer or ""
        loc = doc.locate(pointer, key=d.code == "ticket_unknown_field")
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


def why_not(policy_ref: str | Path | CompiledPolicy, ticket: TicketSource, rule: str, *,
            source_name: str | None = None, now_text: str | None = None,
            at_text: str | None = None, cache: bool = True, strict: bool = False,
            mapping: str | Path | PayloadMapping | None = None,
            evaluator: Evaluator | None = None,
            max_ticket_bytes: int | None = MAX_TICKET_BYTES) -> WhyNotResult:
    """Decide the ticket (as `decide`; with `at_text`, as it stood then), then explain why
    `rule` did not fire on the facts in effect at that instant; an unknown rule is
    ``INPUT_ERROR`` (so is an empty name) with a "did you mean" hint."""
    decided = decide(policy_ref, ticket, source_name=source_name, now_text=now_text,
                     at_text=at_text, cache=cache, strict=strict, mapping=mapping,
                     evaluator=evaluator, max_ticket_bytes=max_ticket_bytes)
    if not decided.ok:
        return WhyNotResult(decided.status, decided.diagnostics, decided=decided)
    cp = decided.policy
    assert cp is not None and decided.decision is not None and decided.values is not None
    try:
        report = explain_why_not.why_not(cp, decided.decision, rule, decided.values)
    except KeyError:
        ids = sorted({r.id for r in cp.rules} | {r.group for r in cp.rules if r.group})
        message = f"no rule `{rule}` in policy `{cp.id}`" if rule else "the rule name is empty"
        return WhyNotResult(Status.INPUT_ERROR, (Diagnostic(
            "unknown_rule", message, location=Location(file=cp.policy.file),
            hint=did_you_mean(rule, ids) if rule else f"name a rule or group, e.g. `{ids[0]}`"
            if ids else None),), decided=decided)
    return WhyNotResult(Status.OK, decided.diagnostics, report, decided)  # its warnings


# --------------------------------------------------------------------------- policy tests


@dataclass(frozen=True)
class PolicyTestReport:
    """Policy test cases run: problems of the test files, each case's result, rule coverage."""

    diagnostics: tuple[Diagnostic, ...]
    results: tuple[CaseResult, ...]
    coverage: tuple[Coverage, ...]
    min_coverage: float | None = None
    tested: str | None = None       # what was tested when no path was named (`./rules (...)`)

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


def run_policy_tests(paths: Sequence[str | Path] = (), min_coverage: float | None = None,
                     *, strict: bool = False, cwd: str | Path | None = None) -> PolicyTestReport:
    """Run every test case under `paths` (default: the `rules` folder of the current folder,
    or of `cwd`, named in `tested`); an invalid test file is reported in `diagnostics` and the
    valid files still run. `strict`: a ticket key that looks like a misspelt fact fails."""
    from engine.author.policytest import check_case, collect, coverage
    from engine.timeline.evaluator import evaluate as follow

    tested = None
    if not paths:
        here = Path(cwd) / "rules" if cwd is not None else Path("rules")
        if not here.is_dir():
            return PolicyTestReport((Diagnostic(
                "test_no_rules", f"no `rules` folder in `{here.parent.resolve()}` to test",
                location=Location(file=str(here)),
                hint="run it in a project folder, or name what to test: "
                     "`ticket-policy test PATH...`"),), (), (), min_coverage)
        ids = sorted(p.parent.name for p in here.glob("*/policy.yaml"))
        tested = f"{here}{os.sep} ({', '.join(ids) or 'no policies'})"
        paths = [here]
    cases, diags = collect(list(paths))
    results = tuple(check_case(c, evaluate=follow, strict=strict) for c in cases)
    return PolicyTestReport(_sorted(diags), results, tuple(coverage(results)), min_coverage,
                            tested)


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
        except CalendarRangeError as exc:
            raise _BadOption("calendar_range", "--from", str(exc)) from None
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
        except CalendarRangeError as exc:
            raise _BadOption("calendar_range", "--from", str(exc)) from None
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
    effective_from: str | None = None    # when several versions: the span this one is in force
    effective_until: str | None = None

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


def list_policies(refs: Sequence[str] = (), *, log: str | Path | None = None) -> PolicyList:
    """Every version of every bundled policy (or of the policies `refs` name), with version,
    digest and effective dates. With `log`, a `version_not_bumped` warning for each version
    whose digest differs from one the decision log holds for the same id and version."""
    rows: list[PolicyInfo] = []
    problems: list[Diagnostic] = []
    for ref in refs or list(bundled()):
        found, diags = policy_versions(ref)
        if found is None:
            problems += diags
            continue
        for cp in found.versions:
            p = cp.policy
            rows.append(PolicyInfo(
                cp.id, cp.version, cp.digest, p.title, p.file,
                p.effective_from.isoformat() if p.effective_from else None,
                p.effective_until.isoformat() if p.effective_until else None))
    if problems:
        return PolicyList(Status.POLICY_ERROR, _sorted(problems), tuple(rows))
    warnings = []
    if log is not None:
        try:
            with LogReader(log) as reader:
                known = reader.known_digests()
        except LogError as exc:
            return PolicyList(Status.INPUT_ERROR, (exc.diagnostic,), tuple(rows))
        for r in rows:
            others = [d for d in known.get((r.id, r.version), []) if d != r.digest]
            if others:
                warnings.append(version_warning(r.id, r.version, r.digest, others))
    return PolicyList(Status.OK, tuple(warnings), tuple(rows))


# --------------------------------------------------------------------------- batch
# `run_batch` (engine/ops/batch.py): ticket lines in, one decision or error record out per line;
# the one implementation the command line, a service and every worker or partition share.

from engine.ops.batch import BatchResult, run_batch  # noqa: E402
from engine.ops.summary import Summary, summarize  # noqa: E402

__all__ += ["BatchResult", "Summary", "run_batch", "summarize"]


from engine.ops.diff.usecase import DiffResult, diff  # noqa: E402  (the diff use case)

__all__ += ["DiffResult", "diff"]
