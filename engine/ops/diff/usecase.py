"""The `diff` use case (re-exported by engine.app): two versions, a JSONL corpus or a decision
log → PolicyDiff."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.diagnostics import Diagnostic, DiagnosticError, Location
from engine.ops.batch import run_batch
from engine.ops.diff import PolicyDiff, diff_sides
from engine.ops.diff.corpus import Decide, DecideError, file_lines, log_tickets
from engine.ops.diff.sources import Side, load_side
from engine.ops.log import LogError
from engine.run.evaluator import Evaluator


@dataclass(frozen=True)
class DiffResult:
    """`status` is "ok", "policy_error", "input_error" or "failed"; `diff` when ok."""

    status: str
    diff: PolicyDiff | None = None
    diagnostics: tuple[Diagnostic, ...] = field(default=())


def _here(evaluator: Evaluator) -> Decide:
    """Decide a corpus in this process, its records spooled to a temporary file (memory stays
    flat whatever the corpus size); lazily, when the comparison first reads them."""
    def decide(side: Side, corpus: str) -> Iterator[bytes]:
        with tempfile.TemporaryFile() as out:
            run_batch(file_lines(corpus), out, evaluator, policy=side.compiled,
                      source_name=corpus)
            out.seek(0)
            yield from out
    return decide


def diff(old: str, new: str, corpus: str | None = None, decide: Decide | None = None,
         log: str | None = None) -> DiffResult:
    """Diff policy `old` against `new` (folders, files, bundled ids or `git:REV:path`). The
    corpus part decides the JSONL file `corpus` (or the tickets of decision log `log` decided
    under OLD's policy id) under each version by `decide` (a host's batch engine: a process
    pool or Dask), in this process by default."""
    try:
        sides = load_side(old), load_side(new)
    except DiagnosticError as exc:
        return DiffResult("policy_error", diagnostics=tuple(exc.diagnostics))
    evaluator = Evaluator()
    try:
        if corpus is None and log is None:
            return DiffResult("ok", diff_sides(*sides, evaluator=evaluator))
        return _with_corpus(sides, corpus, log, decide or _here(evaluator), evaluator)
    finally:
        evaluator.close()


def _with_corpus(sides: tuple[Side, Side], corpus: str | None, log: str | None,
                 decide: Decide, evaluator: Evaluator) -> DiffResult:
    """Both versions' records streamed into the comparison (never held in memory)."""
    with tempfile.TemporaryDirectory(prefix="tp-diff-log-") as tmp:
        try:
            if log is not None:
                corpus = str(Path(tmp) / "tickets.jsonl")
                with open(corpus, "w", encoding="utf-8") as f:
                    f.writelines(line + "\n" for line in log_tickets(log, sides[0].model.id))
            assert corpus is not None
            open(corpus, "rb").close()   # unreadable: said before either version decides
            records = decide(sides[0], corpus), decide(sides[1], corpus)
            return DiffResult("ok", diff_sides(*sides, evaluator=evaluator, records=records))
        except LogError as exc:
            return DiffResult("input_error", diagnostics=(exc.diagnostic,))
        except OSError as exc:
            return DiffResult("input_error", diagnostics=(Diagnostic(
                "diff_bad_corpus", f"cannot read corpus `{corpus}`: {exc.strerror or exc}",
                location=Location(file=corpus), hint="give a JSON lines file of tickets"),))
        except DecideError as exc:
            return DiffResult(exc.status, diagnostics=exc.diagnostics)
