"""Policy test cases: YAML files of tickets and the decisions they must produce.

A test file (see docs/policy-tests.md) holds `cases`, each a `note`, a `ticket` (which may
carry `events`), an optional `now` or `at` and an `expect`ation: any subset of the decision (its
`history` and `clocks` included), rules that must (not) fire, or the error code evaluation must
fail with. `run_cli` backs `ticket-policy test`; `discover` and `run_case` are what
tests/test_policies.py reuses, one pytest test per case.

How a case is decided is given (`evaluate=`): the run stage decides one snapshot and refuses
`events`; `engine.app` passes the timeline's evaluator, which follows them (this layer cannot
import it).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from engine.check.tickets import parse_timestamp
from engine.compile.compiler import CompiledPolicy
from engine.compile.pipeline import load_policy
from engine.core.decision import Decision
from engine.core.diagnostics import (
    Diagnostic,
    DiagnosticError,
    Location,
    did_you_mean,
    escape_token,
)
from engine.core.durations import parse_duration
from engine.core.paths import data_dir
from engine.load import Document, load_yaml_file
from engine.load.policies import bundled, display_path
from engine.run.errors import EvaluationError
from engine.run.evaluator import TicketError, evaluate

__all__ = [
    "Case", "CaseResult", "Coverage", "DECISION_KEYS", "EXPECT_KEYS", "check_case", "collect",
    "coverage", "discover", "run_case", "run_cli",
]

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2

#: Keys of Decision.to_json() an expectation may name.
DECISION_KEYS = ("ticket_id", "policy", "requested_priority", "priority", "plan", "actions",
                 "sla", "sla_reason", "channels", "obligations", "notes", "ignored_fields",
                 "trace", "history", "clocks", "held")
#: Everything `expect` may hold.
EXPECT_KEYS = (*DECISION_KEYS, "fired", "not_fired", "error")
_FILE_KEYS = ("policy", "cases")
_CASE_KEYS = ("note", "ticket", "now", "at", "expect")
# same length, each item a subset match
_ITEM_LISTS = ("actions", "obligations", "trace", "history", "clocks", "held")
_STRING_LISTS = ("channels", "notes", "fired", "not_fired")
_MAPPINGS = ("policy", "sla")                         # subset match (sla may also be null)
# compared as durations (P1D == PT24H) and as instants (Z == +00:00), wherever they occur
_DURATION_KEYS = ("target", "remaining", "consumed")
_INSTANT_KEYS = ("due_at", "breached_at", "warn_at", "fulfilled_at", "started_at", "as_of",
                 "at", "start", "end", "since")
_DECISION_SCHEMA = data_dir("schemas") / "decision.schema.json"


@dataclass(frozen=True)
class Case:
    """One test case, with where it was written and the policy it tests."""

    file: str                 # the test file, as displayed
    line: int
    index: int                # 1-based position in the file
    note: str
    policy_file: str          # the policy's rule file
    ticket: object
    now: datetime | None
    expect: Mapping = field(repr=False)
    ticket_pointer: str = ""  # where the ticket is written in the test file
    doc: Document | None = field(default=None, repr=False, compare=False)
    at: datetime | None = None    # decide the ticket as it stood at this instant

    @property
    def id(self) -> str:
        """A stable, readable test id: `rules/zmanda/tests/matrix.yaml#3`."""
        return f"{self.file}#{self.index}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class CaseResult:
    case: Case
    problems: tuple[str, ...]         # empty when the case passed
    fired: frozenset[str]             # rules fired (empty for error cases)
    warnings: tuple[Diagnostic, ...] = ()   # about the ticket, at file:line:col of the test file

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Coverage:
    policy_id: str
    rules: tuple[str, ...]            # every rule of the compiled policy, in firing order
    fired: frozenset[str]

    @property
    def uncovered(self) -> tuple[str, ...]:
        return tuple(r for r in self.rules if r not in self.fired)

    @property
    def covered(self) -> int:
        return len(self.rules) - len(self.uncovered)

    @property
    def percent(self) -> float:
        return 100.0 if not self.rules else 100.0 * self.covered / len(self.rules)

    def line(self) -> str:
        pct = math.floor(self.percent * 10) / 10      # never round 99.95 up to 100
        shown = f"{pct:.1f}".removesuffix(".0")
        return f"coverage {self.policy_id}: {self.covered}/{len(self.rules)} rules ({shown}%)"


# --------------------------------------------------------------------------- discovery


@cache
def _compiled(policy_file: str) -> CompiledPolicy:
    return load_policy(policy_file)


def _test_files(path: Path) -> list[Path]:
    """`*.yaml` files directly in a `tests` folder under `path` (or `path` itself, a file)."""
    if path.is_file():
        if path.name == "policy.yaml" and (path.parent / "tests").is_dir():
            return [p for p in sorted((path.parent / "tests").glob("*.yaml"))]
        return [path]
    return [p for p in sorted(path.rglob("*.yaml")) if p.parent.name == "tests"]


def collect(paths: Iterable[str | Path]) -> tuple[list[Case], list[Diagnostic]]:
    """Every case under `paths`, and every problem of the test files (as diagnostics)."""
    cases: list[Case] = []
    diags: list[Diagnostic] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            diags.append(Diagnostic("test_path_missing", f"no file or folder `{raw}`",
                                    location=Location(file=str(raw))))
            continue
        files = _test_files(path)
        if not files:
            diags.append(Diagnostic("no_tests", f"no test files (`tests/*.yaml`) under `{raw}`",
                                    location=Location(file=str(raw)),
                                    hint="put test cases in `rules/<id>/tests/*.yaml`"))
        for file in files:
            if file.resolve() in seen:
                continue
            seen.add(file.resolve())
            found, problems = _load_file(file)
            cases += found
            diags += problems
    return cases, diags


def discover(paths: Iterable[str | Path]) -> list[Case]:
    """Every case under `paths`; DiagnosticError when a test file is invalid."""
    cases, diags = collect(paths)
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        raise DiagnosticError(errors)
    return cases


class _FileChecker:
    """Checks one loaded test file and builds its cases."""

    def __init__(self, doc: Document, path: Path):
        self.doc = doc
        self.path = path
        self.name = doc.file
        self.diags: list[Diagnostic] = []

    def error(self, code: str, message: str, pointer: str, hint: str | None = None,
              key: bool = False) -> None:
        self.diags.append(Diagnostic(code, message, location=self.doc.locate(pointer, key=key),
                                     hint=hint))

    def unknown_keys(self, mapping: Mapping, allowed: tuple[str, ...], pointer: str,
                     where: str) -> None:
        for key in mapping:
            if key not in allowed:
                self.error("test_unknown_key", f"unknown key `{key}` in {where}",
                           f"{pointer}/{_esc(key)}", key=True,
                           hint=did_you_mean(str(key), allowed) or
                           f"allowed: {', '.join(allowed)}")

    def policy_file(self) -> str | None:
        data = self.doc.data
        named = data.get("policy")
        if named is not None:
            if not isinstance(named, str) or not named:
                self.error("test_type", "`policy` must be a policy id or a path", "/policy")
                return None
            beside = self.path.parent / named
            if beside.is_dir():
                beside = beside / "policy.yaml"
            if beside.is_file():
                return str(beside)
            found = bundled()
            if named in found:
                return str(found[named])
            if Path(named).is_file():
                return named
            self.error("test_unknown_policy", f"no policy `{named}`: not a bundled id and not "
                       "a file", "/policy",
                       hint=did_you_mean(named, found) or f"bundled: {', '.join(found)}")
            return None
        if self.path.parent.name == "tests":
            default = self.path.parent.parent / "policy.yaml"
            if default.is_file():
                return str(default)
        self.error("test_no_policy", "the test file names no `policy` and has no `policy.yaml` "
                   "in the folder above its `tests/` folder", "",
                   hint="add `policy: <id or path>`")
        return None

    def policy(self, policy_file: str) -> CompiledPolicy | None:
        try:
            return _compiled(policy_file)
        except DiagnosticError as exc:
            self.diags.extend(exc.diagnostics)
            self.error("test_bad_policy", f"policy `{display_path(Path(policy_file))}` does not "
                       "load; its cases were not run", "/policy" if "policy" in self.doc.data
                       else "")
            return None

    def run(self) -> list[Case]:
        data = self.doc.data
        if not isinstance(data, dict):
            self.error("test_bad_file", "a test file is a mapping with `cases` (and optionally "
                       "`policy`)", "")
            return []
        self.unknown_keys(data, _FILE_KEYS, "", "the test file")
        raw_cases = data.get("cases")
        if "cases" not in data:
            self.error("test_missing_key", "the test file has no `cases`", "")
        elif not isinstance(raw_cases, list) or not raw_cases:
            self.error("test_type", "`cases` must be a non-empty list", "/cases")
        policy_file = self.policy_file()
        cp = self.policy(policy_file) if policy_file else None
        if not isinstance(raw_cases, list):
            return []
        cases = []
        for i, raw in enumerate(raw_cases):
            case = self.case(raw, i, policy_file, cp)
            if case is not None:
                cases.append(case)
        return cases if not self.diags else []

    def case(self, raw: object, i: int, policy_file: str | None,
             cp: CompiledPolicy | None) -> Case | None:
        ptr = f"/cases/{i}"
        if not isinstance(raw, dict):
            self.error("test_type", f"case {i + 1} must be a mapping with `note`, `ticket` and "
                       "`expect`", ptr)
            return None
        before = len(self.diags)
        self.unknown_keys(raw, _CASE_KEYS, ptr, f"case {i + 1}")
        for key in ("note", "ticket", "expect"):
            if key not in raw:
                self.error("test_missing_key", f"case {i + 1} has no `{key}`", ptr)
        note = raw.get("note")
        if "note" in raw and (not isinstance(note, str) or not note.strip()):
            self.error("test_type", "`note` must be a sentence saying what the case checks",
                       f"{ptr}/note")
        now = at = None
        if raw.get("now") is not None:
            try:
                now = parse_timestamp(raw["now"])
            except ValueError as exc:
                self.error("test_bad_now", f"`now`: {exc}", f"{ptr}/now")
        if raw.get("at") is not None:
            try:
                at = parse_timestamp(raw["at"])
            except ValueError as exc:
                self.error("test_bad_now", f"`at`: {exc}", f"{ptr}/at")
            if "now" in raw:
                self.error("test_bad_now", "a case gives `now` or `at`, not both", f"{ptr}/at",
                           key=True)
        expect = raw.get("expect")
        if "expect" in raw:
            self.expectation(expect, f"{ptr}/expect", cp)
        if len(self.diags) > before or policy_file is None:
            return None
        line = self.doc.locate(ptr).line or 1
        return Case(self.name, line, i + 1, note, policy_file, raw["ticket"], now, expect,
                    f"{ptr}/ticket", self.doc, at)

    def expectation(self, expect: object, ptr: str, cp: CompiledPolicy | None) -> None:
        if not isinstance(expect, dict) or not expect:
            self.error("test_type", "`expect` must be a mapping naming at least one part of the "
                       "decision (or `error`)", ptr)
            return
        self.unknown_keys(expect, EXPECT_KEYS, ptr, "`expect`")
        if "error" in expect:
            if not isinstance(expect["error"], str):
                self.error("test_type", "`error` must be a diagnostic or error code such as "
                           "`ticket_enum`", f"{ptr}/error")
            others = [k for k in expect if k != "error"]
            if others:
                self.error("test_error_with_decision", f"`error` cannot be combined with "
                           f"`{others[0]}`: a failed evaluation has no decision",
                           f"{ptr}/{_esc(others[0])}", key=True)
        for key in _ITEM_LISTS:
            if key in expect:
                value = expect[key]
                if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
                    self.error("test_type", f"`{key}` must be a list of mappings (each a subset "
                               "of the decision's item)", f"{ptr}/{key}")
        for key in _STRING_LISTS:
            if key in expect:
                value = expect[key]
                if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                    self.error("test_type", f"`{key}` must be a list of strings", f"{ptr}/{key}")
                elif key in ("fired", "not_fired") and cp is not None:
                    ids = [r.id for r in cp.rules]
                    for j, rule in enumerate(value):
                        if rule not in ids:
                            self.error("test_unknown_rule", f"no rule `{rule}` in policy "
                                       f"`{cp.id}`", f"{ptr}/{key}/{j}",
                                       hint=did_you_mean(rule, ids))
        for key in _MAPPINGS:
            if key in expect and not isinstance(expect[key], dict) and not (
                    key == "sla" and expect[key] is None):
                self.error("test_type", f"`{key}` must be a mapping"
                           + (" or null" if key == "sla" else ""), f"{ptr}/{key}")
        self.expected_shape(expect, ptr)
        sla = expect.get("sla")
        if isinstance(sla, dict):
            for keys, parse in ((_DURATION_KEYS, _duration), (_INSTANT_KEYS, parse_timestamp)):
                for key in keys:
                    if key in sla:
                        try:
                            parse(sla[key])
                        except ValueError as exc:
                            self.error("test_type", f"`sla.{key}`: {exc}", f"{ptr}/sla/{key}")


    def expected_shape(self, expect: dict, ptr: str) -> None:
        """The decision parts an expectation names must fit the decision schema (if any)."""
        validator = _decision_validator(partial=True)
        if validator is None:
            return
        shape = {k: v for k, v in expect.items() if k in DECISION_KEYS}
        for err in validator.iter_errors(shape):
            while err.context:  # oneOf / anyOf: the branch the author most likely meant
                err = max(err.context, key=lambda e: (e.validator != "type",
                                                      len(e.absolute_path)))
            where = "".join(f"/{_esc(p)}" for p in err.absolute_path)
            message = err.message[:1].lower() + err.message[1:]
            self.error("test_schema", f"`expect{where.replace('/', '.')}` cannot match a "
                       f"decision: {message}", ptr + where,
                       hint="see schemas/decision.schema.json")


_esc = escape_token


def _load_file(path: Path) -> tuple[list[Case], list[Diagnostic]]:
    name = display_path(path)
    doc, diags = load_yaml_file(name if Path(name).resolve() == path.resolve() else path)
    if doc is None or any(d.severity == "error" for d in diags):
        return [], diags
    checker = _FileChecker(doc, path)
    cases = checker.run()
    return cases, diags + checker.diags


# --------------------------------------------------------------------------- running


def _duration(value: object):
    if isinstance(value, str) and value.startswith("-"):
        return -parse_duration(value[1:])
    return parse_duration(value)  # type: ignore[arg-type]


def _same_scalar(key: str, expected: object, actual: object) -> bool:
    if key in _DURATION_KEYS and isinstance(expected, str) and isinstance(actual, str):
        try:
            return _duration(expected) == _duration(actual)
        except ValueError:
            return False
    if key in _INSTANT_KEYS and isinstance(expected, str) and isinstance(actual, str):
        try:
            return parse_timestamp(expected) == parse_timestamp(actual)
        except ValueError:
            return False
    return type(expected) is type(actual) and expected == actual


def _subset(expected: object, actual: object, key: str = "") -> bool:
    """Does `actual` hold everything `expected` names (mappings: the named keys only)?"""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k], k) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            _subset(e, a, key) for e, a in zip(expected, actual, strict=True))
    return _same_scalar(key, expected, actual)


def _project(expected: object, actual: object) -> object:
    """`actual` narrowed to the keys `expected` names, so a diff shows only what was asked."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: _project(expected[k], actual[k]) if k in expected else actual[k]
                for k in actual if k in expected}
    if isinstance(expected, list) and isinstance(actual, list):
        keys = {k for e in expected if isinstance(e, dict) for k in e}
        out = []
        for i, a in enumerate(actual):
            e = expected[i] if i < len(expected) else None
            if isinstance(a, dict) and isinstance(e, dict):
                out.append(_project(e, a))
            elif isinstance(a, dict) and keys:
                out.append({k: v for k, v in a.items() if k in keys})
            else:
                out.append(a)
        return out
    return actual


def _dump(value: object) -> list[str]:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True,
                      default=str).splitlines()


def _diff(key: str, expected: object, actual: object) -> str:
    lines = difflib.unified_diff(_dump({key: expected}), _dump({key: actual}),
                                 "expected", "actual", lineterm="", n=3)
    return "\n".join(lines)


def _compare(expect: Mapping, decision: Decision) -> list[str]:
    got = decision.to_json()
    problems = []
    for key, expected in expect.items():
        if key in ("fired", "not_fired"):
            fired = decision.fired
            wrong = [r for r in expected if (r in fired) != (key == "fired")]
            if wrong:
                verb = "to fire" if key == "fired" else "not to fire"
                problems.append(f"{key}: expected {', '.join(f'`{r}`' for r in wrong)} {verb}; "
                                f"fired: {', '.join(sorted(fired)) or 'none'}")
            continue
        actual = got.get(key)
        if key == "channels":
            ok = isinstance(actual, list) and sorted(expected) == sorted(actual)
        elif key == "notes":
            missing = [n for n in expected if n not in (actual or [])]
            if missing:
                problems.append("notes: missing " + "; ".join(f"`{n}`" for n in missing)
                                + "\n" + _diff(key, expected, actual))
            continue
        else:
            ok = _subset(expected, actual, key)
        if not ok:
            problems.append(f"{key}:\n" + _diff(key, expected, _project(expected, actual)))
    return problems


def _without_required(schema: object) -> object:
    """The schema with every `required` and `minItems` dropped: it accepts any subset."""
    if isinstance(schema, dict):
        return {k: _without_required(v) for k, v in schema.items()
                if k not in ("required", "minItems")}
    if isinstance(schema, list):
        return [_without_required(v) for v in schema]
    return schema


@cache
def _decision_validator(partial: bool = False):
    """The decision schema's validator, when another part of the project has published one;
    `partial`: the same schema accepting any subset of a decision (for expectations)."""
    if not _DECISION_SCHEMA.is_file():
        return None
    import jsonschema

    schema = json.loads(_DECISION_SCHEMA.read_text("utf-8"))
    return jsonschema.Draft202012Validator(_without_required(schema) if partial else schema)


def _schema_problems(decision: Decision) -> list[str]:
    validator = _decision_validator()
    if validator is None:
        return []
    return [f"decision does not match schemas/decision.schema.json at "
            f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(decision.to_json())]


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
