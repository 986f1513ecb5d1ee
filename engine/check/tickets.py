"""Ticket validation and normalisation: every problem of a ticket, before the engine sees it.

durable_rules compares loosely (the string "9" is greater than 10), so facts are checked strictly
against the policy's fact catalogue first (every catalogued fact, read by a rule or not). Fields
the decision does not read (subject, description, a misspelt fact...) are accepted and listed in
the ticket's `ignored`; a key that looks like a misspelt fact is a warning ("did you mean"), an
error when checking strictly (see `engine.check.fields`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from engine.check.fields import FieldScan
from engine.core.diagnostics import Diagnostic, Location, did_you_mean, pointer_join
from engine.core.durations import check_target, parse_duration
from engine.core.facts import (
    CORE_PARENTS,
    FactSpec,
    engine_number_problem,
    iana_zones,
    iso_countries,
)

_RFC3339 = re.compile(
    r"^(\d{4})-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))?$"
)
_MISSING = object()
MAX_STRING = 65_536  # free-text facts; the engine segfaults on strings of 16 MiB
_duration = lru_cache(maxsize=4096)(parse_duration)  # pure; contract targets repeat


def parse_timestamp(text: object) -> datetime:
    """Parse an RFC 3339 timestamp that carries a UTC offset; ValueError with a one-line reason.
    Fractional seconds may have any number of digits; digits after the sixth are truncated."""
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


@dataclass(frozen=True)
class Ticket:
    """A validated ticket: fact values by path (defaults applied), parsed times and zone."""

    id: str
    values: dict            # path -> value for every catalogued path (None when absent)
    submitted_at: datetime
    first_response_at: datetime | None
    customer_zone: ZoneInfo | None
    response_targets: dict  # level -> timedelta (from contract.response_targets)
    targets_key: tuple = ()  # contract.response_targets in a canonical, hashable form
    ignored: tuple[str, ...] = ()           # keys the decision does not read (sorted paths)
    warnings: tuple[Diagnostic, ...] = ()   # near misses: "did you mean" (JSON pointers)


class TicketChecker:
    """Validates tickets against one policy's fact catalogue (core + declared facts).

    `read`: the paths decisions depend on (default: every catalogued fact); `ignore`: the fields
    the policy knowingly ignores (never listed as ignored, never a near miss).
    """

    def __init__(self, specs: dict[str, FactSpec], levels: tuple[str, ...], plans: tuple[str, ...],
                 *, read: tuple[str, ...] | None = None, ignore: tuple[str, ...] = ()):
        self.specs = {p: s for p, s in specs.items() if not s.derived}
        self.fields = FieldScan(self.specs, self.specs if read is None else read, ignore)
        self.levels = levels
        self.plans = plans
        self._split = {p: tuple(p.split(".")) for p in self.specs}
        self._level_set = frozenset(levels)
        self._plan_set = frozenset(plans)
        # Validation plan: for each top-level key, its specs (a nested path's parent is looked
        # up once); each spec with a fast-path kind for valid values.
        groups: dict[str, list] = {}
        for path, spec in self.specs.items():
            parts = self._split[path]
            allowed = None
            if spec.type == "level":
                allowed = self._level_set
            elif spec.type == "plan":
                allowed = self._plan_set
            elif spec.type == "timezone":
                allowed = iana_zones()
            elif spec.type == "country":
                allowed = iso_countries()
            elif spec.type in ("enum", "string") and spec.enum and all(
                    isinstance(v, str) for v in spec.enum):
                allowed = frozenset(spec.enum)
            kind = "set" if allowed is not None else (
                "bool" if spec.type == "boolean" else "ts" if spec.type == "timestamp" else
                "str" if spec.type == "string" and not spec.enum else
                "targets" if spec.type == "targets" else "")
            groups.setdefault(parts[0], []).append((path, parts, spec, allowed, kind))
        # Only the keys a ticket has are walked; absent facts take their defaults.
        self._plan = {top: (steps, len(steps[0][1]) > 1) for top, steps in groups.items()}
        # The most common case, a valid categorical top-level fact, in one dict lookup.
        self._simple = {top: (steps[0][0], steps[0][3]) for top, steps in groups.items()
                        if len(steps) == 1 and len(steps[0][1]) == 1 and steps[0][4] == "set"}
        self._defaults = {path: spec.default for path, spec in self.specs.items()}
        self._targets_memo: dict[tuple, tuple[dict, tuple]] = {}  # raw items -> parsed, key
        self._required = [(path, parts[0]) for path, spec in self.specs.items() if spec.required
                          for parts in (self._split[path],)]

    def check(self, ticket: object, strict: bool = False
              ) -> tuple[Ticket | None, list[Diagnostic]]:
        """Return the normalised ticket, or None with every problem found. Near misses are
        the ticket's `warnings`, or errors when `strict` (listed with the problems either way
        when the ticket is invalid)."""
        if ticket.__class__ is not dict and isinstance(ticket, Mapping):
            ticket = dict(ticket)
        if not isinstance(ticket, dict):
            return None, [_diag("ticket_type", "", f"a ticket must be a JSON object, "
                                f"got {_describe(ticket)}")]
        problems: list[Diagnostic] = []
        values: dict = self._defaults.copy()
        parsed: dict = {}
        bad_parents: set[str] = set()
        plan = self._plan
        simple = self._simple
        for top, node in ticket.items():
            fast = simple.get(top)
            if fast is not None and node.__class__ is str and node in fast[1]:
                values[fast[0]] = node
                continue
            entry = plan.get(top)
            if entry is None:
                continue  # a field no rule reads: accepted, ignored
            steps, nested = entry
            if nested and (node is None and top in CORE_PARENTS or node is not None and
                           node.__class__ is not dict and not isinstance(node, Mapping)):
                # the schema gives `customer` and `contract` no null; omit them instead
                problems.append(_diag("ticket_type", _ptr(top), f"`{top}` must be an object, "
                                      f"got {_describe(node)}"))
                node = _MISSING
            for path, parts, spec, allowed, kind in steps:
                if nested:
                    if node is _MISSING or node is None:
                        value = _MISSING
                    elif len(parts) == 2:
                        value = node.get(parts[1], _MISSING)
                    else:
                        value = self._get(node, parts[1:], problems, bad_parents, top)
                else:
                    value = node
                if value is None and nested and top in CORE_PARENTS:
                    problems.append(_diag("ticket_type", _ptr(path), f"`{path}` must not be "
                                          "null", f"omit `{path}` instead"))
                    continue
                if value is _MISSING or value is None:
                    if spec.required:
                        problems.append(_diag("ticket_missing_field", _ptr(path),
                                              f"missing required field `{path}`",
                                              f"add `{path}` to the ticket"))
                    continue
                if kind == "set":
                    if value.__class__ is str and value in allowed:
                        values[path] = value
                        continue
                elif kind == "bool":
                    if value is True or value is False:
                        values[path] = value
                        continue
                elif kind == "str":
                    if value.__class__ is str and value and value.isascii() and \
                            len(value) <= MAX_STRING:
                        values[path] = value
                        continue
                elif kind == "targets" and value.__class__ is dict:
                    items = tuple(value.items())
                    try:
                        known = self._targets_memo.get(items)
                    except TypeError:  # an unhashable value: the slow path reports it
                        known = None
                    if known is not None:
                        parsed[path], parsed["$targets_key"] = known
                        values[path] = value
                        continue
                    if self._check_value(spec, value, parsed) is None:
                        if len(self._targets_memo) >= 4096:
                            self._targets_memo.clear()
                        known = parsed[path], tuple(sorted(items))
                        self._targets_memo[items] = known
                        parsed["$targets_key"] = known[1]
                        values[path] = value
                        continue
                elif kind == "ts" and value.__class__ is str:
                    try:
                        parsed[path] = parse_timestamp(value)
                        values[path] = value
                        continue
                    except ValueError:
                        pass
                err = self._check_value(spec, value, parsed)
                if err:
                    code, message, hint, suffix = (*err, None, None)[:4]
                    problems.append(_diag(code, _ptr(path, suffix), message, hint))
                    values[path] = None
                elif kind == "" and spec.type == "integer":
                    values[path] = parsed.pop(path, value)  # 9.0 normalised to 9
                else:
                    values[path] = value
        for path, top in self._required:
            if top not in ticket:
                problems.append(_diag("ticket_missing_field", _ptr(path),
                                      f"missing required field `{path}`",
                                      f"add `{path}` to the ticket"))
        first = parsed.get("first_response_at")
        if first is not None and "submitted_at" in parsed and first < parsed["submitted_at"]:
            problems.append(_diag("ticket_time_order", "/first_response_at",
                                  f"`first_response_at` {values['first_response_at']} is before "
                                  f"`submitted_at` {values['submitted_at']}",
                                  "a response cannot precede the ticket"))
        ignored = self.fields.ignored(ticket)
        warnings = self.fields.diagnostics(ticket, ignored, strict) if ignored else []
        if problems or strict and warnings:
            return None, problems + warnings
        zone_name = values.get("customer.timezone")
        return Ticket(
            id=values["id"],
            values=values,
            submitted_at=parsed["submitted_at"],
            first_response_at=parsed.get("first_response_at"),
            customer_zone=_zone(zone_name) if zone_name else None,
            response_targets=parsed.get("contract.response_targets", {}),
            targets_key=parsed.get("$targets_key", ()),
            ignored=ignored,
            warnings=tuple(warnings),
        ), []

    @staticmethod
    def _get(node: dict, parts: tuple[str, ...], problems: list, bad_parents: set,
             prefix: str) -> object:
        """The value at `parts` below `node` (the object at `prefix`), or _MISSING."""
        for i, part in enumerate(parts):
            if node is None:
                return _MISSING
            if node.__class__ is not dict and not isinstance(node, Mapping):
                where = ".".join((prefix, *parts[:i]))
                parent = _ptr(where)
                if parent not in bad_parents:
                    bad_parents.add(parent)
                    problems.append(_diag("ticket_type", parent, f"`{where}` must be an object, "
                                          f"got {_describe(node)}"))
                return _MISSING
            node = node.get(part, _MISSING)
            if node is _MISSING:
                return _MISSING
        return node

    def _check_value(self, spec: FactSpec, value: object, parsed: dict) -> tuple | None:
        """None when valid (parsed times and durations go to `parsed`), else
        (code, message[, hint[, pointer suffix]])."""
        t = spec.type
        path = spec.path
        if t in ("string", "enum", "level", "plan", "timestamp", "timezone", "country"):
            if not isinstance(value, str):
                return ("ticket_type", f"`{path}` must be a string, got {_describe(value)}")
        if t == "string":
            if not value and spec.required:
                return ("ticket_empty", f"`{path}` must not be empty")
            if len(value) > MAX_STRING:  # type: ignore[arg-type]
                return ("ticket_range", f"`{path}` is {len(value):,} characters long; at most "  # type: ignore[arg-type]
                        f"{MAX_STRING:,} are accepted")
            if not _encodable(value):  # type: ignore[arg-type]
                return ("ticket_encoding", f"`{path}` is not valid Unicode text (it contains a "
                        "lone surrogate)", "send UTF-8 text")
            if spec.enum and value not in spec.enum:
                return _enum_error(path, value, spec.enum)
            return None
        if t == "enum":
            return None if value in spec.enum else _enum_error(path, value, spec.enum)
        if t == "level":
            if value in self._level_set:
                return None
            return ("ticket_unknown_level", f"`{path}` is `{value}`, not a level of this policy",
                    did_you_mean(value, self.levels) or f"levels: {', '.join(self.levels)}")
        if t == "plan":
            if value in self._plan_set:
                return None
            return ("ticket_unknown_plan", f"`{path}` is `{value}`, not a plan of this policy",
                    did_you_mean(value, self.plans) or f"plans: {', '.join(self.plans) or 'none'}")
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
                if level not in self._level_set:
                    return ("ticket_unknown_level", f"`{path}` names `{level}`, not a level of "
                            "this policy", did_you_mean(level, self.levels), level)
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


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _enum_error(path: str, value: object, choices: tuple) -> tuple:
    shown = ", ".join(f"`{c}`" for c in choices)
    return ("ticket_enum", f"`{path}` is {_describe(value)}, expected one of {shown}",
            did_you_mean(value, [str(c) for c in choices]))


def _ptr(path: str, suffix: str | None = None) -> str:
    return pointer_join("", *path.split("."), *((suffix,) if suffix else ()))


def _diag(code: str, pointer: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, location=Location(pointer=pointer), hint=hint)
