"""Policy tests, the test files: found under paths, each checked (keys, types, the policy it
names, expectations that could match a decision) and read into `Case`s."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from engine.author.policytest.cases import (
    _CASE_KEYS,
    _DURATION_KEYS,
    _FILE_KEYS,
    _INSTANT_KEYS,
    _ITEM_LISTS,
    _MAPPINGS,
    _STRING_LISTS,
    DECISION_KEYS,
    EXPECT_KEYS,
    Case,
    _compiled,
)
from engine.author.policytest.matching import _decision_validator
from engine.check.tickets import parse_timestamp
from engine.compile.compiler import CompiledPolicy
from engine.core.diagnostics import (
    Diagnostic,
    DiagnosticError,
    Location,
    did_you_mean,
    escape_token,
)
from engine.core.durations import parse_signed_duration
from engine.load import Document, load_yaml_file
from engine.load.policies import bundled, display_path


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
        assert isinstance(data, dict)   # `run` checked it
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
                       "load; its cases were not run", "/policy" if isinstance(self.doc.data, dict)
                       and "policy" in self.doc.data else "")
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
        return Case(self.name, line, i + 1, raw["note"], policy_file, raw["ticket"], now,
                    raw["expect"], f"{ptr}/ticket", self.doc, at)

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
            for keys, parse in ((_DURATION_KEYS, parse_signed_duration),
                                (_INSTANT_KEYS, parse_timestamp)):
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
