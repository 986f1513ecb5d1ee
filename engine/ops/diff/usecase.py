"""The `diff` use case (re-exported by engine.app): two versions, a JSONL corpus → PolicyDiff."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.diagnostics import Diagnostic, DiagnosticError, Location
from engine.ops.diff import PolicyDiff, diff_sides
from engine.ops.diff.sources import load_side


@dataclass(frozen=True)
class DiffResult:
    """`status` is "ok", "policy_error" or "input_error"; `diff` when ok."""

    status: str
    diff: PolicyDiff | None = None
    diagnostics: tuple[Diagnostic, ...] = field(default=())


def _corpus(path: str) -> tuple[list[dict] | None, list[Diagnostic]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Diagnostic("diff_bad_corpus", f"cannot read corpus `{path}`: {exc}",
                                 location=Location(file=path), hint="give a JSONL file")]
    tickets, problems = [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            problems.append(Diagnostic("diff_bad_corpus", f"line {n} of `{path}` is not a "
                                       "JSON object", location=Location(file=path, line=n),
                                       hint="one ticket object per line"))
            continue
        tickets.append(value)
    return (None if problems else tickets), problems


def diff(old: str, new: str, corpus: str | None = None) -> DiffResult:
    """Diff policy `old` against `new` (folders, files, bundled ids or `git:REV:path`)."""
    try:
        sides = load_side(old), load_side(new)
    except DiagnosticError as exc:
        return DiffResult("policy_error", diagnostics=tuple(exc.diagnostics))
    tickets = None
    if corpus is not None:
        tickets, problems = _corpus(corpus)
        if tickets is None:
            return DiffResult("input_error", diagnostics=tuple(problems))
    return DiffResult("ok", diff_sides(*sides, tickets))
