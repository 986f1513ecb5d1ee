"""The decide and why-not use cases: a ticket's text (or bytes, a stream, a file; a helpdesk
payload through a mapping) read within bounds, checked and decided on a policy, every problem
placed at `file:line:col` of the ticket's text or at the option it came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from engine.check.mapping import Mapped, PayloadMapping, apply_mapping, relocate
from engine.check.tickets import parse_timestamp
from engine.compile.compiler import CompiledPolicy
from engine.compile.versions import PolicyVersions
from engine.core.decision import Decision
from engine.core.diagnostics import Diagnostic, Location, did_you_mean
from engine.explain import why_not as explain_why_not
from engine.load import Document, load_json, read_text
from engine.ops.log import DecisionLog, LogError, Receipt
from engine.run.errors import EvaluationError, TicketError
from engine.run.evaluator import Evaluator
from engine.usecases.base import (
    Status,
    StatusResult,
    TicketSource,
    evaluate_timeline,
    mapping_for,
    policy_versions,
    sorted_diagnostics,
)


@dataclass(frozen=True)
class DecideResult(StatusResult):
    """One ticket decided, or why not: `decision` is set exactly when `status` is ``ok``."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    policy: CompiledPolicy | None = None
    decision: Decision | None = None
    ticket_data: object = field(default=None, repr=False)  # the parsed ticket, if readable
    values: dict | None = field(default=None, repr=False)  # the facts in effect at the end
    receipt: Receipt | None = None   # where the decision log holds it (with `log`)


#: Tickets larger than this are rejected before they are parsed (`max_ticket_bytes`).
MAX_TICKET_BYTES = 1 << 20


def decide(policy_ref: str | Path | CompiledPolicy | PolicyVersions, ticket: TicketSource, *,
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
    elif isinstance(policy_ref, PolicyVersions):  # a host's own versions (one is picked)
        versions, cp = policy_ref, policy_ref.chosen
    else:
        versions, diags = policy_versions(policy_ref)
        if versions is None:
            return DecideResult(Status.POLICY_ERROR, diags)
        cp = versions.chosen
    mapper: PayloadMapping | None = None
    if isinstance(mapping, PayloadMapping):
        mapper = mapping
    elif mapping is not None:
        mapper, diags = mapping_for(mapping, cp)
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
        assert doc is not None   # only a ticket that was read has problems to place
        if mapped is not None:
            assert mapper is not None
            found = relocate(found, mapped, mapper)
        return _located(doc, found)

    if doc is not None and versions is not None:
        cp, not_in_force = versions.select(data)
        problems += place([not_in_force]) if not_in_force else []
    if problems and doc is not None:  # an option is bad: report the ticket's problems with it
        problems += place(cp.checker.check(data, strict)[1])
    if problems:
        return DecideResult(Status.INPUT_ERROR, sorted_diagnostics(problems), cp, ticket_data=data)
    try:
        timeline = evaluate_timeline(cp, data, now=moment, at=at, cache=cache, strict=strict,
                                     evaluator=evaluator)
    except TicketError as exc:
        return DecideResult(Status.INPUT_ERROR, sorted_diagnostics(place(exc.diagnostics)), cp,
                            ticket_data=data)
    except EvaluationError as exc:
        return DecideResult(Status.FAILED, (Diagnostic(
            exc.code, str(exc), location=Location(file=cp.policy.file),
            rule=exc.rules[0] if exc.rules else None),), cp, ticket_data=data)
    decision = timeline.decision
    warnings = sorted_diagnostics(place(decision.warnings))
    if request_id is not None:
        decision = decision.with_request_id(request_id)
    if log is None:
        return DecideResult(Status.OK, warnings, cp, decision, data, timeline.values)
    assert isinstance(data, Mapping)   # a decided ticket is an object
    try:
        receipt = log.append(decision, policy=cp, ticket=data, request_id=request_id)
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


#: A ticket source as `read_text` takes it (a path-like one made a `Path`).
_Readable = str | bytes | BinaryIO | Path


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
    text: str | None
    diags: list[Diagnostic]
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


def _bounded(source: _Readable, name: str, limit: int) -> tuple[_Readable, Diagnostic | None]:
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
class WhyNotResult(StatusResult):
    """Why a rule (or every rule of a group) did not fire on a ticket: `report` is what
    `engine.explain.why_not.render_why_not` renders."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    report: dict | None = None
    decided: DecideResult | None = None


def why_not(policy_ref: str | Path | CompiledPolicy | PolicyVersions, ticket: TicketSource,
            rule: str, *,
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
