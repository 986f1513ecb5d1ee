"""POST /v1/policies/{id}/decisions:batch — a JSON array or NDJSON of tickets, decided by
`TimelineEvaluator.evaluate_many` (the one loop, following each ticket's events), a result per
ticket in input order."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from starlette.responses import Response

from engine.adapters.service.problems import ProblemError, http_diagnostic, problem_body
from engine.compile.compiler import CompiledPolicy
from engine.compile.versions import PolicyVersions
from engine.core.diagnostics import Diagnostic, Location
from engine.load import Document, load_json, read_text
from engine.ops.log import Entry
from engine.run.errors import (
    CalendarError,
    EngineFailure,
    EvaluationError,
    FiringBoundError,
    RuleActionError,
)
from engine.run.evaluator import Failure

SOURCE = "<body>"
FAILED_CODES = frozenset(c.code for c in (EvaluationError, RuleActionError, FiringBoundError,
                                          EngineFailure, CalendarError))
YIELD_EVERY = 64   # let other requests run between chunks of a large batch


@dataclass
class Item:
    index: int
    line: int | None                  # NDJSON: its line in the body
    data: object = None
    doc: Document | None = None       # where its pointers are located
    base: str = ""                    # its pointer inside `doc`
    problems: tuple[Diagnostic, ...] = ()


def parse(body: bytes, ndjson: bool, max_items: int) -> list[Item]:
    """The tickets of a batch body; an unreadable NDJSON line is an item with its problems,
    an unreadable JSON array is a 400 for the whole body."""
    text, diags = read_text(body, SOURCE)
    if text is None:
        raise ProblemError(400, diags)
    items = _ndjson(text) if ndjson else _array(text)
    if len(items) > max_items:
        raise ProblemError(413, [http_diagnostic(
            "batch_too_large", f"the batch has {len(items)} tickets; at most {max_items} are "
            "accepted", "body", "split it into smaller batches")])
    return items


def _array(text: str) -> list[Item]:
    doc, diags = load_json(text, SOURCE)
    if doc is None or any(d.severity == "error" for d in diags):
        raise ProblemError(400, diags)
    if not isinstance(doc.data, list):
        raise ProblemError(400, [http_diagnostic(
            "batch_not_array", "a JSON batch is an array of tickets", SOURCE,
            "send `[ticket, ...]`, or NDJSON as `application/x-ndjson`")])
    return [Item(i, None, t, doc, f"/{i}") for i, t in enumerate(doc.data)]


def _ndjson(text: str) -> list[Item]:
    items: list[Item] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        doc, diags = load_json(line, SOURCE)
        item = Item(len(items), number, doc=doc)
        if doc is None or any(d.severity == "error" for d in diags):
            item.doc = None
            item.problems = tuple(_at_line(d, number) for d in diags)
        else:
            item.data = doc.data
        items.append(item)
    return items


def _at_line(d: Diagnostic, line: int) -> Diagnostic:
    loc = d.location
    return Diagnostic(d.code, d.message, d.severity,
                      Location(loc.file, line, loc.column, loc.pointer), d.rule, d.hint)


def _located(item: Item, diags) -> tuple[Diagnostic, ...]:
    out = []
    for d in diags:
        pointer = item.base + (d.location.pointer or "")
        loc = item.doc.locate(pointer) if item.doc is not None else Location()
        line = loc.line if item.line is None or loc.line is None else item.line
        out.append(Diagnostic(d.code, d.message, d.severity,
                              Location(SOURCE, line, loc.column, pointer or "/"), d.rule, d.hint))
    return tuple(out)


def _item_problem(item: Item, diags, instance: str) -> dict:
    codes = {d.code for d in diags}
    status = 500 if codes & FAILED_CODES else 400 if any(
        c.startswith("json_") or c == "file_unreadable" for c in codes) else 422
    out: dict[str, object] = {"index": item.index}
    if item.line is not None:
        out["line"] = item.line
    tid = item.data.get("id") if isinstance(item.data, dict) else None
    out["ticket_id"] = tid if isinstance(tid, str) else None
    out.update(problem_body(status, diags, instance=instance, request_id=None))
    return out


def _by_version(deciding: CompiledPolicy | PolicyVersions, items: list[Item],
                results: list, instance: str) -> list[tuple[CompiledPolicy, list[Item]]]:
    """The readable items by the version that decides each (the one in force at its
    `submitted_at`, of several); an item no version is in force for gets its problem."""
    groups: dict[str, tuple[CompiledPolicy, list[Item]]] = {}   # by version
    for item in items:
        if item.problems:
            results[item.index] = _item_problem(item, item.problems, instance)
            continue
        if isinstance(deciding, CompiledPolicy):
            cp, problem = deciding, None
        else:
            cp, problem = deciding.select(item.data)
        if problem is not None:
            results[item.index] = _item_problem(item, _located(item, [problem]), instance)
        else:
            groups.setdefault(cp.version, (cp, []))[1].append(item)
    return list(groups.values())


async def decide(svc, deciding: CompiledPolicy | PolicyVersions, policy_id: str,
                 items: list[Item], *, now, request_id: str, instance: str,
                 ndjson: bool) -> Response:
    """Every item's decision or problem, in order (each by its version, of several), and
    its log record in input order too."""
    results: list = [None] * len(items)
    entries: list[Entry | None] = [None] * len(items)
    for policy, good in _by_version(deciding, items, results, instance):
        await _evaluate(svc, policy, good, results, entries, now=now, request_id=request_id,
                        instance=instance)
    svc.metrics.sync_cache(svc.evaluator)
    if svc.logging:   # every decision of the batch is durable before any is answered
        await svc.record([e for e in entries if e is not None])
    for r in results:
        if "diagnostics" not in r:
            svc.metrics.decided(policy_id, r["priority"])
    dump = _compact
    if ndjson:
        return Response("".join(dump(r) + "\n" for r in results),
                        media_type="application/x-ndjson")
    rejected = sum(1 for r in results if "diagnostics" in r)
    return Response(dump({"request_id": request_id, "decided": len(results) - rejected,
                          "rejected": rejected, "results": results}),
                    media_type="application/json")


async def _evaluate(svc, policy: CompiledPolicy, good: list[Item], results: list,
                    entries: list[Entry | None], *, now, request_id: str,
                    instance: str) -> None:
    """The items one version decides, in one `evaluate_many` loop; each decision's log entry
    at its item's index (versions decide in groups, the log keeps the input order)."""
    outcomes = svc.timeline.evaluate_many(policy, (i.data for i in good), now=now)
    for n, out in enumerate(outcomes):
        item = good[n]
        if isinstance(out, Failure):
            diags = out.diagnostics
            if diags and diags[0].code in FAILED_CODES:
                svc.metrics.failed(policy.id, diags[0].code)
            else:
                diags = _located(item, diags)
            results[item.index] = _item_problem(item, diags, instance)
        else:
            decision = out.with_request_id(request_id)
            if svc.logging:
                entries[item.index] = Entry(decision, policy, item.data,  # type: ignore[arg-type]
                                            request_id)
            results[item.index] = decision.to_json()
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)


def _compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
