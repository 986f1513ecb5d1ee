"""Policy tests, the runner: a case decided and compared (`check_case`), rule coverage, and
`run_cli` behind `ticket-policy test`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from engine.author.policytest.cases import Case, CaseResult, Coverage, _compiled
from engine.author.policytest.files import collect
from engine.author.policytest.matching import _compare, _schema_problems
from engine.compile.compiler import CompiledPolicy
from engine.core.decision import Decision
from engine.core.diagnostics import (
    Diagnostic,
)
from engine.run.errors import EvaluationError
from engine.run.evaluator import TicketError, evaluate

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def _placed(case: Case, diagnostics: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Ticket diagnostics (JSON pointers into the ticket) at file:line:col of the test file."""
    if case.doc is None:
        return tuple(diagnostics)
    return tuple(Diagnostic(d.code, d.message, d.severity, case.doc.locate(
        case.ticket_pointer + (d.location.pointer or ""), key=True), d.rule, d.hint)
        for d in diagnostics)


def _snapshot(cp: CompiledPolicy, ticket: object, *, now: datetime | None = None,
              at: datetime | None = None, strict: bool = False) -> Decision:
    """The run stage's evaluation (one snapshot; no `at`, no `events`)."""
    if at is not None:
        raise ValueError("`at` needs an evaluator that follows a ticket's timeline")
    # a ticket that is not a mapping is the ticket checker's to reject (`ticket_type`)
    return evaluate(cp, ticket, now=now, strict=strict)  # type: ignore[arg-type]


def check_case(case: Case, evaluate: Callable[..., Decision] = _snapshot,
               strict: bool = False) -> CaseResult:
    """Evaluate one case (with `evaluate(policy, ticket, now=, at=, strict=)`) and compare;
    never raises for a failing or erroring policy. The ticket's warnings (a key that looks like
    a misspelt fact) come with the result; `strict` makes them errors."""
    cp = _compiled(case.policy_file)
    expect = case.expect
    wanted = expect.get("error")
    try:
        decision = evaluate(cp, case.ticket, now=case.now, at=case.at, strict=strict)
    except TicketError as exc:
        codes = [d.code for d in exc.diagnostics]
        if wanted is not None and wanted in codes:
            return CaseResult(case, (), frozenset())
        shown = "; ".join(f"[{d.code}] {d.location}: {d.message}" for d in exc.diagnostics)
        what = f"expected error `{wanted}`, got" if wanted else "the ticket was rejected:"
        return CaseResult(case, (f"error: {what} {shown}",), frozenset())
    except (EvaluationError, ValueError) as exc:
        code = getattr(exc, "code", "evaluation_failed")
        if wanted is not None and wanted == code:
            return CaseResult(case, (), frozenset())
        what = f"expected error `{wanted}`, got" if wanted else "evaluation failed:"
        return CaseResult(case, (f"error: {what} [{code}] {exc}",), frozenset())
    if wanted is not None:
        return CaseResult(case, (f"error: expected error `{wanted}`, but the ticket was decided: "
                                 f"priority {decision.priority or 'none'}, plan "
                                 f"{decision.outcome.plan or 'none'}",),
                          decision.fired)
    problems = _compare(expect, decision) + _schema_problems(decision)
    return CaseResult(case, tuple(problems), decision.fired, _placed(case, decision.warnings))


def run_case(case: Case, evaluate: Callable[..., Decision] = _snapshot) -> list[str]:
    """The mismatches of one case (empty when it passes)."""
    return list(check_case(case, evaluate).problems)


def coverage(results: Iterable[CaseResult]) -> list[Coverage]:
    """Rule coverage per policy: which rules of the compiled policy some case fired."""
    fired: dict[str, set[str]] = {}
    for r in results:
        fired.setdefault(r.case.policy_file, set()).update(r.fired)
    out = []
    for policy_file, ids in fired.items():
        cp = _compiled(policy_file)
        rules = tuple(dict.fromkeys(r.id for r in cp.rules))
        out.append(Coverage(cp.id, rules, frozenset(ids & set(rules))))
    return sorted(out, key=lambda c: c.policy_id)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def run_cli(paths: list[str], min_coverage: float | None,
            echo: Callable[[str], None], evaluate: Callable[..., Decision] = _snapshot) -> int:
    """`ticket-policy test`: run every case under `paths`, print failures, coverage and a summary.

    Exit 0 when everything passed; 1 on a failing case or coverage below `min_coverage`; 2 when a
    test file is invalid (the valid files still run).
    """
    cases, diags = collect(paths)
    for d in sorted(diags, key=Diagnostic.sort_key):
        echo(d.render())
    results = [check_case(c, evaluate) for c in cases]
    failed = [r for r in results if not r.passed]
    for r in failed:
        echo(f"FAIL {r.case.where}: {r.case.note}")
        for problem in r.problems:
            echo(_indent(problem))
    low = []
    for cov in coverage(results):
        echo(cov.line())
        for rule in cov.uncovered:
            echo(f"  not fired: {rule}")
        if min_coverage is not None and cov.percent < min_coverage:
            low.append(cov)
    for cov in low:
        echo(f"coverage {cov.policy_id} is below --min-coverage {min_coverage:g}%")
    echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if any(d.severity == "error" for d in diags):
        return EXIT_INPUT
    return EXIT_FAILED if failed or low else EXIT_OK
