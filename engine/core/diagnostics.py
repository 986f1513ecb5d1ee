"""The one diagnostic type every stage reports, and the error that carries a batch of them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, order=False)
class Location:
    """A place in a file (1-based line and column) or, for JSON input, a JSON pointer."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    pointer: str | None = None

    def __str__(self) -> str:
        if self.file is not None and self.line is not None:
            return f"{self.file}:{self.line}:{self.column or 1}"
        if self.file is not None and self.pointer is not None:
            return f"{self.file}#{self.pointer or '/'}"
        if self.pointer is not None:
            return self.pointer or "/"
        return self.file or "<input>"


@dataclass(frozen=True)
class Diagnostic:
    """A problem found in a policy file or in an input: stable code, severity, message, place."""

    code: str
    message: str
    severity: Severity = "error"
    location: Location = field(default_factory=Location)
    rule: str | None = None
    hint: str | None = None

    def render(self, one_line: bool = False) -> str:
        """`file:line:col: error[code]: message`, and the hint on a second line (or, with
        one_line, after a semicolon)."""
        text = f"{self.location}: {self.severity}[{self.code}]: {self.message}"
        if self.rule:
            text += f" (rule `{self.rule}`)"
        if self.hint:
            text += f"; hint: {self.hint}" if one_line else f"\n  hint: {self.hint}"
        # input may hold text that cannot be printed (lone surrogates): show it escaped
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

    def to_json(self) -> dict:
        loc = self.location
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": loc.file,
            "line": loc.line,
            "column": loc.column,
            "pointer": loc.pointer,
            "rule": self.rule,
            "hint": self.hint,
        }

    def sort_key(self) -> tuple:
        loc = self.location
        return (loc.file or "", loc.line or 0, loc.column or 0, loc.pointer or "",
                _SEVERITY_ORDER[self.severity], self.code, self.message)


class DiagnosticError(Exception):
    """Raised at a stage boundary with every problem that stage collected."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


def escape_token(part: object) -> str:
    """One JSON-pointer reference token (RFC 6901): `~` and `/` escaped."""
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer_join(base: str, *parts: object) -> str:
    """Append reference tokens to an (already escaped) JSON pointer."""
    return base + "".join("/" + escape_token(p) for p in parts)


def did_you_mean(value: object, choices: Iterable[str]) -> str | None:
    """A "did you mean `x`?" hint for a misspelt name, or None when nothing is close."""
    if not isinstance(value, str) or not value:
        return None
    options = [str(c) for c in choices]
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    if not close and len(value) >= 3:  # an abbreviation: `prod` for `production`
        lowered = value.lower()
        close = [c for c in options if c.lower().startswith(lowered)][:1]
    if not close:  # a case slip: `europe/berlin`
        close = [c for c in options if c.lower() == value.lower()][:1]
    return f"did you mean `{close[0]}`?" if close else None


def errors_only(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity == "error"]
