"""The calendar use cases: `due` (a start plus open time) and `elapsed` (the open time between
two instants) on a policy's calendar, each bad option value located at its option.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from engine.calendars import Calendar, CalendarRangeError
from engine.check.tickets import parse_timestamp
from engine.compile.compiler import CompiledPolicy
from engine.core.diagnostics import Diagnostic, Location, did_you_mean
from engine.core.durations import check_target, parse_duration
from engine.core.facts import iana_zones
from engine.usecases.base import (
    Status,
    compiled,
)


@dataclass(frozen=True)
class DueResult:
    """When `within` of open time has elapsed since `start` on a policy's calendar."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    due: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


@dataclass(frozen=True)
class ElapsedResult:
    """The open time between two instants on a policy's calendar (negative when end < start)."""

    status: Status
    diagnostics: tuple[Diagnostic, ...] = ()
    elapsed: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


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
    cp, diags = compiled(policy_ref)
    if cp is None:
        return DueResult(Status.POLICY_ERROR, diags)
    try:
        cal = _calendar(cp, calendar, timezone)
        moment = _instant("--from", start)
        try:
            amount = parse_duration(within)
            check_target(within, amount)
        except ValueError as exc:
            raise _BadOption("bad_duration", "--within", str(exc)) from None
        try:
            return DueResult(Status.OK, due=cal.due(moment, amount))
        except CalendarRangeError as exc:
            raise _BadOption("calendar_range", "--from", str(exc)) from None
        except (ValueError, OverflowError) as exc:
            raise _BadOption("calendar_exhausted", "--calendar",
                             f"calendar `{calendar}`: {exc}") from None
    except _BadOption as bad:
        return DueResult(Status.INPUT_ERROR, (bad.diagnostic,))


def elapsed(policy_ref: str | Path, calendar: str, start: str, end: str, *,
            timezone: str | None = None) -> ElapsedResult:
    """The open time on `calendar` between `start` and `end` (RFC 3339); as `due`."""
    cp, diags = compiled(policy_ref)
    if cp is None:
        return ElapsedResult(Status.POLICY_ERROR, diags)
    try:
        cal = _calendar(cp, calendar, timezone)
        since, until = _instant("--from", start), _instant("--to", end)
        try:
            return ElapsedResult(Status.OK, elapsed=cal.elapsed(since, until))
        except CalendarRangeError as exc:
            raise _BadOption("calendar_range", "--from", str(exc)) from None
        except (ValueError, OverflowError) as exc:
            raise _BadOption("calendar_exhausted", "--calendar",
                             f"calendar `{calendar}`: {exc}") from None
    except _BadOption as bad:
        return ElapsedResult(Status.INPUT_ERROR, (bad.diagnostic,))


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
