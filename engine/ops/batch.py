"""`run_batch`: ticket lines in, one record line out per input line, in order.

The one implementation the command line, a service's batch endpoint and every worker process
or Dask partition share: each line is parsed (`engine.ops.jsonl.parse_line`), optionally mapped
from a helpdesk payload, and decided by `Evaluator.evaluate_many` — no loop or check of its own.
A line that cannot be decided becomes an error record
`{"line": n, "problems": [diagnostic...], "ticket_id": id-or-null}`; nothing is dropped.

Output lines are the canonical JSON of `Decision.to_json()` (sorted keys, no whitespace, UTF-8;
byte for byte `decision.canonical()`), or CSV rows (`CSV_COLUMNS`). The same input, policy and
`now` give the same bytes whichever process writes them.

Given a policy's effective-dated versions (`PolicyVersions`), each line is decided by the version
`PolicyVersions.select` picks, as `evaluate` does: the named one, else the one in force at its
`submitted_at` (line by line); a line no version is in force for is an error record with
`version_not_in_force`. A single `CompiledPolicy` (or a named version) decides every line in
one `evaluate_many` loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from engine.check.mapping import Mapped, PayloadMapping, apply_mapping, relocate
from engine.compile.compiler import CompiledPolicy
from engine.compile.versions import PolicyVersions
from engine.core.decision import Decision
from engine.core.diagnostics import Diagnostic
from engine.ops.jsonl import DecisionEncoder, encode, locate, parse_line
from engine.ops.summary import Summary, sla_state
from engine.run.evaluator import Evaluator, Failure
from engine.timeline.evaluator import timeline_for

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("line", "id", "priority", "requested", "plan", "due_at", "status", "rules_fired",
               "problems")

#: Called with each decided line's decision and the ticket it decided, in input order, before
#: the line is written (e.g. to prepare its decision log record).
OnDecided = Callable[[Decision, Mapping], object]


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass
class BatchResult:
    """How many lines were decided and rejected, and the summary when one was asked for."""

    decided: int = 0
    rejected: int = 0
    summary: Summary | None = None

    @property
    def lines(self) -> int:
        return self.decided + self.rejected

    def merge(self, other: BatchResult) -> BatchResult:
        self.decided += other.decided
        self.rejected += other.rejected
        if other.summary is not None:
            self.summary = (self.summary or Summary()).merge(other.summary)
        return self


def csv_header() -> bytes:
    """The CSV output's first line."""
    return (",".join(CSV_COLUMNS) + "\n").encode("utf-8")


def run_batch(lines_in: Iterable[bytes | str], lines_out: Sink | None, evaluator: Evaluator, *,
              policy: CompiledPolicy | PolicyVersions, now: datetime | None = None,
              mapping: PayloadMapping | None = None, source_name: str = "<input>",
              first_line: int = 1, fmt: str = "jsonl", header: bool = False,
              summary: bool = False, encoder: DecisionEncoder | None = None,
              on_decided: OnDecided | None = None) -> BatchResult:
    """Decide every line of `lines_in` (bytes or text, with or without the newline) and write
    one line per input line to `lines_out` (anything with `write(bytes)`; None: count only).

    With `mapping`, each line is a helpdesk payload mapped onto a ticket first
    (`engine.check.mapping.apply_mapping`, as `evaluate --mapping` does): its problems, and
    the ticket's, are placed on the payload's line and column. `first_line` numbers the first
    line (a chunk of a larger input); `source_name` names the input in diagnostics; `header`
    writes the CSV header first; `summary` fills `BatchResult.summary`; `encoder` is kept
    between calls on the same policy; `on_decided(decision, ticket)` is called for each
    decided line before it is written. `policy` may be a policy's versions: each line is
    decided by the one `PolicyVersions.select` picks (its decision names it).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format `{fmt}` is not one of {', '.join(FORMATS)}")
    write = lines_out.write if lines_out is not None else _discard
    if header and fmt == "csv":
        write(csv_header())
    result = BatchResult(summary=Summary() if summary else None)
    record = _Records(fmt, result, write, encoder or DecisionEncoder())
    versions, single = _deciding(policy)
    # lines handed to evaluate_many, not answered: (line, raw, ticket, mapped payload, version)
    handed: deque[tuple[int, bytes, Mapping, Mapped | None, CompiledPolicy]] = deque()
    # rejected lines waiting for them: (answers before it, line, ticket id, problems)
    waiting: deque[tuple[int, int, str | None, tuple]] = deque()
    answered = 0

    def tickets() -> Iterator[Mapping]:
        for n, raw in enumerate(lines_in, first_line):
            raw = _strip(raw)
            data, problems = parse_line(raw, source_name, n)
            mapped: Mapped | None = None
            who: object = None   # the ticket a rejected line's `ticket_id` is read from
            cp = single
            if not problems and mapping is not None:
                mapped = apply_mapping(mapping, data)
                data = who = mapped.ticket
            if not problems and versions is not None:
                cp, off = versions.select(data)
                if off is not None:  # as `evaluate`: the ticket's problems beside it
                    problems = _problems(raw, source_name, n, data, cp, mapped, mapping, off)
                    who = data
            if not problems and mapped is not None and mapped.diagnostics:
                problems = _problems(raw, source_name, n, data, cp, mapped, mapping)
            if not problems:
                handed.append((n, raw, data, mapped, cp))  # type: ignore[arg-type]
                yield data  # type: ignore[misc]
                continue
            tid = who.get("id") if isinstance(who, Mapping) else None
            tid = tid if isinstance(tid, str) else None
            if not handed:
                record.rejected(n, tid, problems)
            else:  # earlier tickets are still being decided: write this after them
                waiting.append((answered + len(handed), n, tid, problems))

    timeline = timeline_for(evaluator)
    if versions is None:
        outcomes = timeline.evaluate_many(single, tickets(), now=now)
    else:  # each ticket by its version: the one just handed (one is in flight at a time)
        outcomes = (outcome for data in tickets() for outcome in
                    timeline.evaluate_many(handed[-1][4], (data,), now=now))
    for outcome in outcomes:
        n, raw, data, mapped, _ = handed.popleft()
        answered += 1
        if isinstance(outcome, Failure):
            found: Iterable[Diagnostic] = outcome.diagnostics
            if mapped is not None:
                found = relocate(found, mapped, mapping)  # type: ignore[arg-type]
            record.rejected(n, outcome.ticket_id, locate(raw, source_name, n, found))
        else:
            if on_decided is not None:
                on_decided(outcome, data)
            record.decided(n, outcome)
        while waiting and waiting[0][0] <= answered:
            _, wn, tid, problems = waiting.popleft()
            record.rejected(wn, tid, problems)
    for _, wn, tid, problems in waiting:
        record.rejected(wn, tid, problems)
    return result


def _deciding(policy: CompiledPolicy | PolicyVersions
              ) -> tuple[PolicyVersions | None, CompiledPolicy]:
    """The versions to select from line by line (None: one policy decides every line), and
    the policy that decides when no line says otherwise (a named version, else the latest)."""
    if isinstance(policy, CompiledPolicy):
        return None, policy
    return (None if policy.named is not None else policy), policy.chosen


def _problems(raw: bytes, source_name: str, n: int, data: object, cp: CompiledPolicy,
              mapped: Mapped | None, mapping: PayloadMapping | None,
              *first: Diagnostic) -> tuple[Diagnostic, ...]:
    """A line's problems as `evaluate` reports them: `first` (no version in force) and the
    mapping's, then the ticket's own on the version `cp`, placed on the line."""
    own: Iterable[Diagnostic] = cp.checker.check(data)[1]
    if mapped is not None:
        own = relocate(own, mapped, mapping)  # type: ignore[arg-type]
        first = (*first, *mapped.diagnostics)
    return tuple(locate(raw, source_name, n, (*first, *own)))

def _discard(data: bytes) -> None:
    return None


def _strip(raw: bytes | str) -> bytes:
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    return raw[:-1] if raw.endswith(b"\n") else raw


class _Records:
    """Writes each line's record in the chosen format and counts it."""

    def __init__(self, fmt: str, result: BatchResult, write: Callable[[bytes], object],
                 encoder: DecisionEncoder):
        self.result = result
        self.write = write
        self.csv = fmt == "csv"
        self.encoder = encoder

    def decided(self, n: int, d: Decision) -> None:
        self.result.decided += 1
        if self.result.summary is not None:
            self.result.summary.add_decision(d)
        if self.csv:
            due = d.sla.due_at.isoformat() if d.sla is not None else ""
            fired = " ".join(dict.fromkeys(e.rule for e in d.trace if e.rule))
            self.write(_csv_row((n, d.ticket_id, d.priority, d.requested_priority, d.plan, due,
                                 sla_state(d), fired, "")))
        else:
            self.write(self.encoder.encode(d, b"\n"))

    def rejected(self, n: int, ticket_id: str | None, problems: Sequence[Diagnostic]) -> None:
        problems = sorted(problems, key=Diagnostic.sort_key)
        self.result.rejected += 1
        if self.result.summary is not None:
            self.result.summary.add_rejected(p.code for p in problems)
        if self.csv:
            codes = " ".join(dict.fromkeys(p.code for p in problems))
            self.write(_csv_row((n, ticket_id, "", "", "", "", "rejected", "", codes)))
        else:
            self.write(encode({"line": n, "ticket_id": ticket_id,
                               "problems": [p.to_json() for p in problems]}) + b"\n")


def _csv_row(values: Sequence[object]) -> bytes:
    """One CSV row on one physical line: CR and LF inside a value are written `\\r`, `\\n`."""
    cells = []
    for v in values:
        s = "" if v is None else str(v)
        if "\n" in s or "\r" in s:
            s = s.replace("\r", "\\r").replace("\n", "\\n")
        if "," in s or '"' in s:
            s = '"' + s.replace('"', '""') + '"'
        cells.append(s)
    return (",".join(cells) + "\n").encode("utf-8", "backslashreplace")
