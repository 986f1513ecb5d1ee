"""One ticket fact's value against its spec: timestamps, strings, levels, numbers, targets.

The slow path of `engine.check.tickets` (every problem named, with a hint); kept apart so the
checker itself stays the plan of which fact goes where.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from engine.core.diagnostics import did_you_mean
from engine.core.durations import check_target, parse_duration
from engine.core.facts import FactSpec, engine_number_problem, iana_zones, iso_countries

_RFC3339 = re.compile(
    r"^(\d{4})-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))?$"
)
MAX_STRING = 65_536  # free-text facts; the engine segfaults on strings of 16 MiB
_duration = lru_cache(maxsize=4096)(parse_duration)  # pure; contract targets repeat


#: Timestamps read, by their text (a ticket decided again brings the same ones); emptied when
#: full, so at most TIMESTAMP_CACHE_SIZE entries of ~0.2 KB.
TIMESTAMP_CACHE_SIZE = 4096
_read: dict[str, datetime] = {}


def parse_timestamp(text: object) -> datetime:
    """Parse an RFC 3339 timestamp that carries a UTC offset; ValueError with a one-line reason.
    Fractional seconds may have any number of digits; digits after the sixth are truncated."""
    if text.__class__ is str:
        known = _read.get(text)  # type: ignore[call-overload]
        if known is not None:
            return known
        if _plain_form(text):  # type: ignore[arg-type]
            try:  # `2026-03-02T09:30:00+01:00` or `…Z`, as the pattern below reads it
                moment = datetime.fromisoformat(text)  # type: ignore[arg-type]
            except ValueError:
                pass  # e.g. February 30th: the full reading says why
            else:
                if len(_read) >= TIMESTAMP_CACHE_SIZE:
                    _read.clear()
                _read[text] = moment  # type: ignore[index]
                return moment
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC 3339 timestamp string, got {_describe(text)}")
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"`{text}` is not an RFC 3339 timestamp (e.g. 2026-03-02T09:30:00+01:00)")
    year, frac, offset, off_h, off_m = m.groups()
    if offset is None:
        raise ValueError(f"timestamp `{text}` has no UTC offset; add `Z` or e.g. `+01:00`")
    if off_h is not None and (off_h > "23" or off_m > "59"):
        raise ValueError(f"timestamp `{text}` has an impossible UTC offset `{offset}`")
    if not "1900" <= year <= "2999":
        raise ValueError(f"timestamp `{text}` is outside the supported years 1900-2999")
    norm = text.upper().replace(" ", "T")
    if frac and len(frac) > 7:  # any number of digits; beyond microseconds they are dropped
        norm = norm.replace(frac, frac[:7], 1)  # (truncated toward the earlier instant)
    try:
        return datetime.fromisoformat(norm)
    except ValueError as exc:
        raise ValueError(f"`{text}` is not a valid date and time: {exc}") from None


def _plain_form(text: str) -> bool:
    """`YYYY-MM-DDTHH:MM:SS` then `Z` or a valid `±HH:MM` (ASCII, years 1900-2999): the form
    `datetime.fromisoformat` reads exactly as `parse_timestamp` does, if at all."""
    n = len(text)
    if n == 25:
        if text[19] not in "+-" or text[22] != ":" or text[20:22] > "23" or text[23:] > "59":
            return False
    elif n != 20 or text[19] != "Z":
        return False
    return (text[4] == "-" and text[7] == "-" and text[10] == "T" and text[13] == ":"
            and text[16] == ":" and "1900" <= text[:4] <= "2999" and text.isascii())


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, (int, float)):
        return f"number `{value}`"
    if isinstance(value, str):
        return f"string `{value}`"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def check_value(checker: Any, spec: FactSpec, value: Any, parsed: dict) -> tuple | None:
    """The problem of one fact's value for `checker` (a TicketChecker): None when valid
    (parsed times and durations go to `parsed`), else (code, message[, hint[, suffix]])."""
    t = spec.type
    path = spec.path
    if t in ("string", "enum", "level", "plan", "timestamp", "timezone", "country"):
        if not isinstance(value, str):
            return ("ticket_type", f"`{path}` must be a string, got {_describe(value)}")
    if t == "string":
        if not value and spec.required:
            return ("ticket_empty", f"`{path}` must not be empty")
        if len(value) > MAX_STRING:
            return ("ticket_range", f"`{path}` is {len(value):,} characters long; at most "
                    f"{MAX_STRING:,} are accepted")
        if not _encodable(value):
            return ("ticket_encoding", f"`{path}` is not valid Unicode text (it contains a "
                    "lone surrogate)", "send UTF-8 text")
        if spec.enum and value not in spec.enum:
            return _enum_error(path, value, spec.enum)
        return None
    if t == "enum":
        return None if value in spec.enum else _enum_error(path, value, spec.enum)
    if t == "level":
        if value in checker.level_set:
            return None
        return ("ticket_unknown_level", f"`{path}` is `{value}`, not a level of this policy",
                did_you_mean(value, checker.levels) or f"levels: {', '.join(checker.levels)}")
    if t == "plan":
        if value in checker.plan_set:
            return None
        return ("ticket_unknown_plan", f"`{path}` is `{value}`, not a plan of this policy",
                did_you_mean(value, checker.plans)
                or f"plans: {', '.join(checker.plans) or 'none'}")
    if t == "timestamp":
        try:
            parsed[path] = parse_timestamp(value)
        except ValueError as exc:
            code = "ticket_no_offset" if "no UTC offset" in str(exc) else "ticket_timestamp"
            return (code, f"`{path}`: {exc}", "RFC 3339 with an offset, e.g. "
                    "`2026-03-02T09:30:00+01:00` or `2026-03-02T08:30:00Z`")
        return None
    if t == "timezone":
        if value in iana_zones():
            return None
        return ("ticket_unknown_timezone", f"`{path}` is `{value}`, not an IANA time zone",
                did_you_mean(value, iana_zones()) or "e.g. `Europe/Berlin`")
    if t == "country":
        if value in iso_countries():
            return None
        return ("ticket_unknown_country",
                f"`{path}` is `{value}`, not an ISO 3166-1 alpha-2 country code",
                did_you_mean(value.upper(), iso_countries()) or "e.g. `DE`")
    if t == "boolean":
        if isinstance(value, bool):
            return None
        return ("ticket_type", f"`{path}` must be true or false, got {_describe(value)}")
    if t in ("integer", "number"):
        if t == "integer" and isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema counts 9.0 as an integer
            parsed[path] = value
        ok = isinstance(value, int) if t == "integer" else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            kind = "an integer" if t == "integer" else "a number"
            return ("ticket_type", f"`{path}` must be {kind}, "
                    f"got {_describe(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            return ("ticket_type", f"`{path}` must be a finite number")
        problem = engine_number_problem(value)
        if problem:
            return ("ticket_range", f"`{path}` is {value}: {problem}")
        if spec.minimum is not None and value < spec.minimum:
            return ("ticket_range", f"`{path}` is {value}, below the minimum {spec.minimum}")
        if spec.maximum is not None and value > spec.maximum:
            return ("ticket_range", f"`{path}` is {value}, above the maximum {spec.maximum}")
        if spec.enum and value not in spec.enum:
            return _enum_error(path, value, spec.enum)
        return None
    if t == "targets":
        if not isinstance(value, dict):
            return ("ticket_type", f"`{path}` must be an object of level -> duration, "
                    f"got {_describe(value)}")
        targets = parsed[path] = {}
        for level, text in value.items():
            if level not in checker.level_set:
                return ("ticket_unknown_level", f"`{path}` names `{level}`, not a level of "
                        "this policy", did_you_mean(level, checker.levels), level)
            if not isinstance(text, str):
                return ("ticket_type", f"`{path}.{level}` must be an ISO 8601 duration "
                        f"string, got {_describe(text)}", None, level)
            try:
                targets[level] = _duration(text)
                check_target(text, targets[level])
            except ValueError as exc:
                return ("ticket_duration", f"`{path}.{level}`: {exc}", None, level)
        return None
    raise AssertionError(f"unhandled fact type {t}")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _enum_error(path: str, value: object, choices: tuple) -> tuple:
    shown = ", ".join(f"`{c}`" for c in choices)
    return ("ticket_enum", f"`{path}` is {_describe(value)}, expected one of {shown}",
            did_you_mean(value, [str(c) for c in choices]))
