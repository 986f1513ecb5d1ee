"""The calendar use cases: `due` (a start plus open time) and `elapsed` (the open time between
two instants) on a policy's calendar, each bad option value located at its option.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from engine.calendars import Calendar, CalendarRangeError
from engine.check.tickets import parse_timestamp
from engine.compile.compiler import CompiledPolicy
from engine.core.diagnostics import Diagnostic, Location, did_you_mean
from engine.core.durations import check_target, parse_duration
from engine.core.facts import iana_zones
from engine.usecases.base import Status, StatusResult, compiled


@dataclass(frozen=True)
class DueResult(StatusResult):
    """When `within` of open time has elapsed since `start` on a policy's calendar."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    due: datetime | None = None


@dataclass(frozen=True)
class ElapsedResult(StatusResult):
    """The open time between two instants on a policy's calendar (negative when end < start)."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    elapsed: timedelta | None = None


class _BadOption(Exception):
    """One bad option value; the calendar queries stop at the first."""

    def __init__(self, code: str, option: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.diagnostic = Diagnostic(code, message, location=Location(file=option), hint=hint)


def due(policy_ref: str | Path, calendar: str, start: str, within: str, *,
        timezone: str | None = None) -> DueResult:
    """`start` (RFC 3339) plus `within` (ISO 8601 duration) of open time on `calendar`, in the
    customer's `timezone` for calendars declared `timezone: customer`. Option problems are
    located at the option (`--calendar`, `--from`, `--within`, `--timezone`); the first one
    found is reported."""

    def answer(cal: Calendar) -> DueResult:
        moment = _instant("--from", start)
        try:
            amount = parse_duration(within)
            check_target(within, amount)
        except ValueError as exc:
            raise _BadOption("bad_duration", "--within", str(exc)) from None
        return DueResult(Status.OK, due=_arithmetic(calendar, lambda: cal.due(moment, amount)))

    return _query(DueResult, policy_ref, calendar, timezone, answer)


def elapsed(policy_ref: str | Path, calendar: str, start: str, end: str, *,
            timezone: str | None = None) -> ElapsedResult:
    """The open time on `calendar` between `start` and `end` (RFC 3339); as `due`."""

    def answer(cal: Calendar) -> ElapsedResult:
        since, until = _instant("--from", start), _instant("--to", end)
        return ElapsedResult(Status.OK,
                             elapsed=_arithmetic(calendar, lambda: cal.elapsed(since, until)))

    return _query(ElapsedResult, policy_ref, calendar, timezone, answer)


_R = TypeVar("_R", DueResult, ElapsedResult)
_T = TypeVar("_T")


def _query(result: type[_R], policy_ref: str | Path, calendar: str, zone: str | None,
           answer: Callable[[Calendar], _R]) -> _R:
    """The policy's calendar `calendar` (in `zone`) answered, or the first problem: of the
    policy (``POLICY_ERROR``), else of an option (``INPUT_ERROR``)."""
    cp, diags = compiled(policy_ref)
    if cp is None:
        return result(Status.POLICY_ERROR, diags)
    try:
        return answer(_calendar(cp, calendar, zone))
    except _BadOption as bad:
        return result(Status.INPUT_ERROR, (bad.diagnostic,))


def _arithmetic(calendar: str, compute: Callable[[], _T]) -> _T:
    """`compute()`, a calendar's failure as a bad option: an instant beyond the calendar's
    years, or open time that never comes."""
    try:
        return compute()
    except CalendarRangeError as exc:
        raise _BadOption("calendar_range", "--from", str(exc)) from None
    except (ValueError, OverflowError) as exc:
        raise _BadOption("calendar_exhausted", "--calendar",
                         f"calendar `{calendar}`: {exc}") from None


def _calendar(cp: CompiledPolicy, name: str, zone: str | None) -> Calendar:
    calendars = cp.policy.calendars
    if name not in calendars:
        raise _BadOption("unknown_calendar", "--calendar", f"policy `{cp.id}` has no calendar "
                         f"`{name}`", did_you_mean(name, calendars) or
                         f"calendars: {', '.join(calendars) or 'none'}")
    calendar = calendars[name]
    if zone is None:
        return calendar
    if zone not in iana_zones():
        raise _BadOption("unknown_timezone", "--timezone", f"`{zone}` is not an IANA time zone",
                         did_you_mean(zone, iana_zones()))
    if not calendar.customer_zone:
        raise _BadOption("fixed_timezone", "--timezone", f"calendar `{name}` runs on "
                         f"{calendar.zone.key}, not on the customer's zone",
                         "--timezone applies to calendars declared `timezone: customer`")
    return calendar.for_zone(zone)


def _instant(option: str, value: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise _BadOption("bad_timestamp", option, str(exc)) from None
