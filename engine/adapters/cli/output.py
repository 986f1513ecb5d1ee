"""What every command shares: exit codes, diagnostics on stderr, output in any encoding."""

from __future__ import annotations

import codecs
import io
import json
import re
import sys
import unicodedata

import click

from engine import app
from engine.core.diagnostics import Diagnostic, Location

EXIT_FINDINGS, EXIT_INPUT, EXIT_FAILED, EXIT_UNLOGGED = 1, 2, 3, 4
EXIT_BY_STATUS = {app.Status.OK: 0, app.Status.POLICY_ERROR: EXIT_INPUT,
         app.Status.INPUT_ERROR: EXIT_INPUT, app.Status.FAILED: EXIT_FAILED,
         app.Status.LOG_ERROR: EXIT_UNLOGGED}


class Fail(click.exceptions.Exit):
    pass


# ---- output in any encoding: JSON is escaped where the stream cannot hold it; text degrades to
# ASCII look-alikes (→ becomes ->, é becomes e) instead of failing
_LOOKALIKES = {"→": "->", "←": "<-", "…": "...", "–": "-", "—": "--", "“": '"', "”": '"',
               "„": '"', "‘": "'", "’": "'", "≤": "<=", "≥": ">=", "≠": "!=", "×": "x",
               "•": "*", "·": ".", "\u00a0": " "}
_ASCII_FALLBACK = "ticket-policy-ascii"


def _lookalike(char: str) -> str:
    if char in _LOOKALIKES:
        return _LOOKALIKES[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base.isascii() and base.isprintable() and base else "?"


def _degrade(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(_lookalike(c) for c in exc.object[exc.start:exc.end]), exc.end


codecs.register_error(_ASCII_FALLBACK, _degrade)


def prepare_streams() -> None:
    """Let stdout and stderr degrade gracefully when their encoding is not UTF-8."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if codecs.lookup(stream.encoding or "utf-8").name != "utf-8" and \
                    isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors=_ASCII_FALLBACK)
        except (AttributeError, LookupError, ValueError, OSError):
            pass  # not a reconfigurable text stream: written as it is


def escape_json(text: str) -> str:
    """JSON text with every non-ASCII character as a \\u escape (the same JSON value)."""
    def units(m: re.Match) -> str:
        raw = m.group().encode("utf-16-be")
        return "".join(f"\\u{int.from_bytes(raw[i:i + 2], 'big'):04x}"
                       for i in range(0, len(raw), 2))
    return re.sub(r"[^\x00-\x7f]", units, text)


def echo_json(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Write JSON text as it is where the stream can encode it, else escaped to ASCII."""
    stream = sys.stderr if err else sys.stdout
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = escape_json(text)
    click.echo(text, err=err, nl=nl)


def report_problems(diags, fmt: str = "text", one_line: bool = False, err: bool = True) -> None:
    """Diagnostics as text (one each) or as one JSON array; on stderr unless `err` is False
    (machine-readable reports go to stdout)."""
    diags = sorted(diags, key=Diagnostic.sort_key)
    if fmt == "json":
        echo_json(json.dumps([d.to_json() for d in diags], indent=2, ensure_ascii=False),
                  err=err)
        return
    for d in diags:
        click.echo(d.render(one_line), err=err)


def ok_or_exit(result, one_line: bool = False, fmt: str = "text"):
    """The result when it is ok (its warnings on stderr); else its diagnostics on stderr and
    its exit code. Option problems of the calendar queries are one line each (`one_line`); the
    policy's are not. `fmt`: `text` or `json` (`--error-format`)."""
    if not result.ok:
        one_line = one_line and result.status == app.Status.INPUT_ERROR
        report_problems(result.diagnostics, fmt, one_line=one_line)
        raise Fail(EXIT_BY_STATUS[result.status])
    if result.diagnostics:
        report_problems(result.diagnostics, fmt)
    return result


def bad_option(option: str, message: str, code: str = "bad_option") -> Fail:
    report_problems([Diagnostic(code, message, location=Location(file=option))], one_line=True)
    return Fail(EXIT_INPUT)
