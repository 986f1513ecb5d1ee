"""Ticket validation and normalisation: every problem of a ticket, before the engine sees it.

durable_rules compares loosely (the string "9" is greater than 10), so facts are checked strictly
against the policy's fact catalogue first (every catalogued fact, read by a rule or not). Fields
the decision does not read (subject, description, a misspelt fact...) are accepted and listed in
the ticket's `ignored`; a key that looks like a misspelt fact is a warning ("did you mean"), an
error when checking strictly (see `engine.check.fields`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from engine.check.fields import FieldScan
from engine.check.ticket_values import (
    MAX_STRING,
    _describe,
    check_value,
    parse_timestamp,
)
from engine.core.diagnostics import Diagnostic, Location, pointer_join
from engine.core.facts import CORE_PARENTS, FactSpec, iana_zones, iso_countries

__all__ = ["MAX_STRING", "Ticket", "TicketChecker", "parse_timestamp"]

_MISSING = object()


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
        self.level_set = frozenset(levels)
        self.plan_set = frozenset(plans)
        # Validation plan: for each top-level key, its specs (a nested path's parent is looked
        # up once); each spec with a fast-path kind for valid values.
        groups: dict[str, list] = {}
        for path, spec in self.specs.items():
            parts = self._split[path]
            allowed = None
            if spec.type == "level":
                allowed = self.level_set
            elif spec.type == "plan":
                allowed = self.plan_set
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
        # the fast path takes only tickets it can tell are listing nothing as ignored: keys
        # the decision reads or the policy ignores knowingly (`FieldScan.quiet`)
        quiet = self.fields.quiet
        self._fast = _fast_plan(groups, quiet)
        self._quiet_top = quiet[""]
        self._quick_simple = {top: one for top, one in self._simple.items() if top in quiet[""]}
        # the fast path's starting values: a required fact stays _MISSING until it is read
        self._fast_defaults = {**self._defaults, **{p: _MISSING for p, _ in self._required}}
        self._required_paths = tuple(p for p, _ in self._required)

    def check(self, ticket: object, strict: bool = False
              ) -> tuple[Ticket | None, list[Diagnostic]]:
        """Return the normalised ticket, or None with every problem found. Near misses are
        the ticket's `warnings`, or errors when `strict` (listed with the problems either way
        when the ticket is invalid)."""
        if ticket.__class__ is dict:
            found = self._quick(ticket)  # type: ignore[arg-type]
            if found is not None:
                return found, []
        elif isinstance(ticket, Mapping):
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
                        value = _value_at(node, parts[1:], problems, bad_parents, top)
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
                    if check_value(self, spec, value, parsed) is None:
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
                err = check_value(self, spec, value, parsed)
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

    def _quick(self, ticket: dict) -> Ticket | None:
        """The compiled fast path: the Ticket of a valid ticket made only of facts whose valid
        values need one test (categories, booleans, ASCII strings, timestamps, response targets
        seen before) and no field the
        decision ignores; None for anything else, which `check` then judges in full."""
        values = self._fast_defaults.copy()
        fast = self._fast
        memo = self._targets_memo
        times: dict = {}
        simple = self._quick_simple
        for top, node in ticket.items():
            one = simple.get(top)  # the most common case, a valid top-level category
            if one is not None and node.__class__ is str and node in one[1]:
                values[one[0]] = node
                continue
            plan: Any = fast.get(top, _MISSING)
            if plan is _MISSING:  # not catalogued: ignored knowingly, or listed (full check)
                if top in self._quiet_top:
                    continue
                return None
            if plan.__class__ is dict:  # an object of facts: its keys, each one test
                if node.__class__ is not dict:
                    return None
                for name, value in node.items():
                    step = plan.get(name)
                    if step is None:
                        return None  # a key the decision would list as ignored
                    if step[1] == "set" and value.__class__ is str and value in step[2]:
                        values[step[0]] = value   # _take's first case, without the call
                    elif step is not _QUIET and not _take(step, value, values, times, memo):
                        return None
            elif plan is None or not _take(plan, node, values, times, memo):
                return None
        for path in self._required_paths:
            if values[path] is _MISSING:
                return None  # a required fact absent or null
        first = times.get("first_response_at")
        if first is not None and first < times["submitted_at"]:
            return None
        zone_name = values.get("customer.timezone")
        ticket_ = object.__new__(Ticket)  # the fields without frozen __setattr__, one by one
        ticket_.__dict__.update(
            id=values["id"], values=values, submitted_at=times["submitted_at"],
            first_response_at=first, customer_zone=_zone(zone_name) if zone_name else None,
            response_targets=times.get("contract.response_targets", {}),
            targets_key=times.get("$targets_key", ()), ignored=(), warnings=())
        return ticket_


def _value_at(node: dict, parts: tuple[str, ...], problems: list, bad_parents: set,
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


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _ptr(path: str, suffix: str | None = None) -> str:
    return pointer_join("", *path.split("."), *((suffix,) if suffix else ()))


def _diag(code: str, pointer: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, location=Location(pointer=pointer), hint=hint)


_ONE_TEST = ("set", "bool", "str", "ts", "targets")
_QUIET = ("", "quiet", None, True)  # a key inside an object of facts the policy ignores


def _fast_plan(groups: dict[str, list], quiet: dict[str, frozenset[str]]) -> dict[str, object]:
    """Per top-level key: (path, kind, allowed, nullable) of a fact one test validates, a dict
    of them by name for an object of such facts (and _QUIET for the names it may hold
    unread), or None (left to the full check: also every fact the decision lists as ignored,
    not in `quiet`)."""
    plan: dict[str, object] = {}
    for top, steps in groups.items():
        if top not in quiet[""]:
            plan[top] = None
        elif all(len(parts) == 1 for _, parts, *_ in steps) and len(steps) == 1:
            path, _, spec, allowed, kind = steps[0]
            plan[top] = (path, kind, allowed, not spec.required) if kind in _ONE_TEST else None
        elif all(len(parts) == 2 and kind in _ONE_TEST for _, parts, _, _, kind in steps):
            # null inside `customer`/`contract` is an error; elsewhere, absent
            names = quiet.get(top, frozenset())
            plan[top] = {**{name: _QUIET for name in names}, **{
                parts[1]: (path, kind, allowed, top not in CORE_PARENTS and not spec.required)
                for path, parts, spec, allowed, kind in steps if parts[1] in names}}
        else:
            plan[top] = None
    return plan


def _take(step: tuple, value: object, values: dict, times: dict, memo: dict) -> bool:
    """Store a value its one test accepts (response targets: seen before, in `memo`); False
    for anything the full check must judge."""
    path, kind, allowed, nullable = step
    if value is None:
        return nullable  # absent: its default stays
    if kind == "set":
        if value.__class__ is not str or value not in allowed:
            return False
    elif kind == "bool":
        if value is not True and value is not False:
            return False
    elif kind == "str":
        if value.__class__ is not str or not value or not value.isascii() or \
                len(value) > MAX_STRING:
            return False
    elif kind == "targets":
        try:
            known = memo.get(tuple(value.items())) if value.__class__ is dict else None
        except TypeError:  # unhashable
            return False
        if known is None:
            return False
        times[path], times["$targets_key"] = known
    elif value.__class__ is str:  # a timestamp
        try:
            times[path] = parse_timestamp(value)
        except ValueError:
            return False
    else:
        return False
    values[path] = value
    return True
