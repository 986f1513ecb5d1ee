"""The use cases over policy files: validate and lint paths, run policy tests (with rule
coverage), list the bundled policies and their versions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from engine.check.files import check_file
from engine.check.versions import check_versions
from engine.compile.compiler import compile_policy
from engine.core.diagnostics import Diagnostic, DiagnosticError, Location
from engine.load.policies import bundled, expand, policy_folder
from engine.ops.log import LogError
from engine.ops.log.query import LogReader
from engine.ops.log.sources import version_warning
from engine.usecases.base import (
    Status,
    StatusResult,
    policy_versions,
    sorted_diagnostics,
)

if TYPE_CHECKING:  # the author tools load when used
    from engine.author.lint import Suppressed
    from engine.author.policytest import CaseResult, Coverage


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
    return CheckReport(sorted_diagnostics(found), len(files), lint, tuple(suppressed))


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
    return PolicyTestReport(sorted_diagnostics(diags), results, tuple(coverage(results)),
                            min_coverage, tested)


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
class PolicyList(StatusResult):
    """The bundled policies that compile, and the problems of those that do not."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    policies: tuple[PolicyInfo, ...] = ()


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
        return PolicyList(Status.POLICY_ERROR, sorted_diagnostics(problems), tuple(rows))
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
