"""The `diff` use case (re-exported by engine.app): two versions, a JSONL corpus or a decision
log → PolicyDiff."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.diagnostics import Diagnostic, DiagnosticError, Location
from engine.ops.diff import PolicyDiff, diff_sides
from engine.ops.diff.corpus import Decide, DecideError, decide_here, file_lines, log_tickets
from engine.ops.diff.sources import Side, load_side
from engine.ops.log import LogError


@dataclass(frozen=True)
class DiffResult:
    """`status` is "ok", "policy_error", "input_error" or "failed"; `diff` when ok."""

    status: str
    diff: PolicyDiff | None = None
    diagnostics: tuple[Diagnostic, ...] = field(default=())


def _here(side: Side, corpus: str) -> list[bytes]:
    return decide_here(side, file_lines(corpus))


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
    if corpus is None and log is None:
        return DiffResult("ok", diff_sides(*sides))
    decide = decide or _here
    with tempfile.TemporaryDirectory(prefix="tp-diff-log-") as tmp:
        try:
            if log is not None:
                corpus = str(Path(tmp) / "tickets.jsonl")
                with open(corpus, "w", encoding="utf-8") as f:
                    f.writelines(line + "\n" for line in log_tickets(log, sides[0].model.id))
            assert corpus is not None
            records = list(decide(sides[0], corpus)), list(decide(sides[1], corpus))
        except LogError as exc:
            return DiffResult("input_error", diagnostics=(exc.diagnostic,))
        except OSError as exc:
            return DiffResult("input_error", diagnostics=(Diagnostic(
                "diff_bad_corpus", f"cannot read corpus `{corpus}`: {exc.strerror or exc}",
                location=Location(file=corpus), hint="give a JSON lines file of tickets"),))
        except DecideError as exc:
            return DiffResult(exc.status, diagnostics=exc.diagnostics)
    return DiffResult("ok", diff_sides(*sides, records=records))
