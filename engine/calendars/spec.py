"""Calendar specs: every problem of a spec (`check_calendar_spec`), or its normalised form.

A spec is a preset name or a mapping (docs/calendars.md, "Writing a calendar"); a checked
spec is a `Definition`, from which `build_calendar` makes a `Calendar`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from engine.calendars.hours import (
    CalendarIssue,
    DayHours,
    HoursChecker,
    describe_week,
    ptr,
)
from engine.calendars.zones import (
    country_exists,
    country_hint,
    subdivisions,
    zone_exists,
    zone_hint,
    zone_names,
)
from engine.core.diagnostics import did_you_mean

__all__ = ["CUSTOMER", "PRESETS", "Definition", "check_calendar_spec", "definition_of",
           "describe"]

PRESETS = ("24x7", "24x5")
CUSTOMER = "customer"
_SPEC_KEYS = ("preset", "timezone", "fallback_timezone", "hours", "holidays", "overrides")
_HOLIDAY_KEYS = ("country", "subdivision", "dates")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Definition:
    """A checked spec, normalised."""

    preset: str | None
    zone_key: str | None  # None: the customer's zone
    fallback_key: str | None
    weekly: tuple[DayHours, ...]  # Mon..Sun
    country: str | None = None
    subdivision: str | None = None
    dates: frozenset[date] = frozenset()
    overrides: Mapping[date, DayHours] | None = None


class _Checker(HoursChecker):
    """Collects the issues of one spec while normalising it into a `Definition`."""

    def spec(self, spec: object) -> Definition | None:
        if isinstance(spec, str):
            if spec in PRESETS:
                return _preset_definition(spec, "UTC")
            self.add("", "calendar_bad_preset", f"unknown calendar preset `{spec}`",
                     did_you_mean(spec, PRESETS) or _PRESET_HINT)
            return None
        if not isinstance(spec, Mapping):
            self.add("", "calendar_bad_spec", f"invalid calendar spec `{spec}`",
                     _PRESET_HINT + ", or a mapping with `timezone` and `hours`")
            return None
        for key in spec:
            if key not in _SPEC_KEYS:
                self.add(ptr(key), "calendar_bad_spec", f"unknown calendar key `{key}`",
                         did_you_mean(key, _SPEC_KEYS) or f"known keys: {_names(_SPEC_KEYS)}")
        if "preset" in spec:
            return self.preset_spec(spec)
        return self.hours_spec(spec)

    def preset_spec(self, spec: Mapping) -> Definition | None:
        preset = spec["preset"]
        ok = True
        if preset not in PRESETS:
            self.add("/preset", "calendar_bad_preset", f"unknown calendar preset `{preset}`",
                     did_you_mean(preset, PRESETS) or _PRESET_HINT)
            ok = False
        conflicts = ["hours", "fallback_timezone"]
        if preset == "24x7":
            conflicts += ["holidays", "overrides"]
        for key in conflicts:
            if key in spec:
                self.add(ptr(key), "calendar_preset_conflict",
                         f"`{key}` cannot be combined with preset `{preset}`",
                         _conflict_hint(key, preset))
                ok = False
        zone_key = spec.get("timezone", "UTC")
        if zone_key == CUSTOMER:
            self.add("/timezone", "calendar_preset_conflict",
                     f"preset `{preset}` needs a fixed time zone, not `{CUSTOMER}`",
                     f"write the hours out: `hours: {{{_PRESET_DAYS.get(preset, 'mon-sun')}: "
                     "[\"00:00-24:00\"]}`")
            ok = False
        elif not self.zone("/timezone", zone_key):
            ok = False
        extras = self.extras(spec) if preset == "24x5" else None
        if not ok or preset not in PRESETS or (preset == "24x5" and extras is None):
            return None
        base = _preset_definition(preset, zone_key)
        if extras is None:
            return base
        return Definition(base.preset, base.zone_key, None, base.weekly, *extras)

    def hours_spec(self, spec: Mapping) -> Definition | None:
        ok = True
        zone_key = spec.get("timezone")
        fallback = spec.get("fallback_timezone")
        if "timezone" not in spec:
            self.add("", "calendar_unknown_timezone", "calendar has no `timezone`",
                     f"add e.g. `timezone: Europe/Bratislava` or `timezone: {CUSTOMER}`")
            ok = False
        elif zone_key == CUSTOMER:
            if "fallback_timezone" not in spec:
                self.add("", "calendar_missing_fallback",
                         f"`timezone: {CUSTOMER}` needs a `fallback_timezone`",
                         "add e.g. `fallback_timezone: UTC` for tickets without a customer zone")
                ok = False
            else:
                ok = self.zone("/fallback_timezone", fallback) and ok
        else:
            ok = self.zone("/timezone", zone_key, allow_customer=True) and ok
            if "fallback_timezone" in spec:
                self.add("/fallback_timezone", "calendar_bad_spec",
                         f"`fallback_timezone` is only used with `timezone: {CUSTOMER}`",
                         "remove it, or set `timezone: customer`")
                ok = False
        weekly = self.weekly(spec.get("hours", {}))
        extras = self.extras(spec)
        if weekly is None or extras is None:
            return None
        if not any(weekly) and not any(extras[3].values()):
            self.add("/hours" if "hours" in spec else "", "calendar_no_open_time",
                     "calendar has no open time in a normal week",
                     "add opening hours, e.g. `hours: {mon-fri: [\"09:00-17:00\"]}`")
            return None
        if not ok:
            return None
        if zone_key == CUSTOMER:
            return Definition(None, None, fallback, weekly, *extras)
        return Definition(None, zone_key, None, weekly, *extras)

    def zone(self, pointer: str, value: object, allow_customer: bool = False) -> bool:
        if isinstance(value, str) and zone_exists(value):
            return True
        choices = zone_names() | ({CUSTOMER} if allow_customer else set())
        self.add(pointer, "calendar_unknown_timezone", f"unknown time zone `{value}`",
                 zone_hint(value, choices) or "use an IANA name like `Europe/Bratislava`")
        return False

    def extras(
        self, spec: Mapping
    ) -> tuple[str | None, str | None, frozenset[date], dict[date, DayHours]] | None:
        """Holidays and overrides: (country, subdivision, dates, overrides)."""
        holidays = self.holidays(spec.get("holidays", {}))
        overrides = self.overrides(spec.get("overrides", {}))
        if holidays is None or overrides is None:
            return None
        return (*holidays, overrides)

    def holidays(self, spec: object) -> tuple[str | None, str | None, frozenset[date]] | None:
        if not isinstance(spec, Mapping):
            self.add("/holidays", "calendar_bad_spec", f"invalid holidays `{spec}`",
                     "expected a mapping with `country`, `subdivision` and/or `dates`")
            return None
        ok = True
        for key in spec:
            if key not in _HOLIDAY_KEYS:
                self.add(ptr("holidays", key), "calendar_bad_spec",
                         f"unknown holidays key `{key}`",
                         did_you_mean(key, _HOLIDAY_KEYS) or f"known keys: {_names(_HOLIDAY_KEYS)}")
                ok = False
        country = spec.get("country")
        subdivision = spec.get("subdivision")
        if "country" in spec and not country_exists(country):
            self.add("/holidays/country", "calendar_unknown_country",
                     f"unknown holiday country `{country}`",
                     country_hint(country) or "use an ISO 3166 code like `SK`")
            ok = False
        elif "subdivision" in spec:
            ok = self.subdivision(country, subdivision) and ok
        dates = self.dates(spec.get("dates", []))
        if dates is None or not ok:
            return None
        return country, subdivision, dates

    def subdivision(self, country: str | None, subdivision: object) -> bool:
        if country is None:
            self.add("/holidays/subdivision", "calendar_unknown_subdivision",
                     f"subdivision `{subdivision}` needs a `country`",
                     "add e.g. `country: DE` next to `subdivision: BY`")
            return False
        known = subdivisions(country)
        if isinstance(subdivision, str) and subdivision in known:
            return True
        hint = did_you_mean(subdivision, known) or (
            f"`{country}` has subdivisions {_names(known[:12])}{', …' if len(known) > 12 else ''}"
            if known
            else f"`{country}` has no subdivisions; remove `subdivision`")
        self.add("/holidays/subdivision", "calendar_unknown_subdivision",
                 f"unknown subdivision `{subdivision}` of `{country}`", hint)
        return False

    def dates(self, value: object) -> frozenset[date] | None:
        if not isinstance(value, list):
            self.add("/holidays/dates", "calendar_bad_spec", f"invalid dates `{value}`",
                     "expected a list like `[\"2026-12-31\"]`")
            return None
        found: set[date] = set()
        ok = True
        for index, item in enumerate(value):
            day = _parse_date(item)
            if day is None:
                self.add(f"/holidays/dates/{index}", "calendar_bad_date", f"invalid date `{item}`",
                         "write dates as `YYYY-MM-DD`, e.g. `2026-12-31`")
                ok = False
            else:
                found.add(day)
        return frozenset(found) if ok else None

    def overrides(self, value: object) -> dict[date, DayHours] | None:
        if not isinstance(value, Mapping):
            self.add("/overrides", "calendar_bad_spec", f"invalid overrides `{value}`",
                     "expected a mapping like `{\"2026-12-24\": [\"09:00-12:00\"]}`")
            return None
        found: dict[date, DayHours] = {}
        ok = True
        for key, hours in value.items():
            pointer = ptr("overrides", key)
            day = _parse_date(key)
            if day is None:
                self.add(pointer, "calendar_bad_date", f"invalid override date `{key}`",
                         "write dates as `YYYY-MM-DD`, e.g. `2026-12-24`")
                ok = False
            if day is not None and day in found:
                self.add(pointer, "calendar_bad_date", f"override date `{key}` given twice",
                         "give each date once")
                ok = False
            intervals = self.intervals(pointer, hours)
            if intervals is None:
                ok = False
            elif day is not None:
                found[day] = intervals
        return found if ok else None


_PRESET_HINT = "use `24x7` or `24x5`"
_PRESET_DAYS = {"24x7": "mon-sun", "24x5": "mon-fri"}


def _conflict_hint(key: str, preset: str) -> str:
    if key == "hours":
        return "drop `preset` to write the hours yourself"
    if key == "fallback_timezone":
        return "presets use a fixed `timezone`"
    return f"a 24x7 calendar is always open; use `24x5` or hours for `{key}`"


def _preset_definition(preset: str, zone_key: str) -> Definition:
    full: DayHours = ((0, 1440),)
    if preset == "24x7":
        weekly = (full,) * 7
    else:
        weekly = (full,) * 5 + ((), ())
    return Definition(preset, zone_key, None, weekly, overrides={})


def check_calendar_spec(spec: object) -> list[CalendarIssue]:
    """Every problem of one calendar spec (pointer suffix, code, message, hint); never raises."""
    checker = _Checker()
    try:
        checker.spec(spec)
    except Exception as exc:  # the contract is to report, never to raise
        checker.add("", "calendar_bad_spec", f"cannot read calendar spec: {exc}")
    return checker.issues


def definition_of(name: str, spec: object) -> Definition:
    """The `Definition` of a spec that `check_calendar_spec` accepts; ValueError otherwise."""
    checker = _Checker()
    definition = checker.spec(spec)
    if checker.issues or definition is None:
        pointer, _, message, _ = (checker.issues or [("", "", "invalid spec", None)])[0]
        where = f" at `{pointer}`" if pointer else ""
        raise ValueError(f"invalid calendar `{name}`{where}: {message}")
    return definition


def describe(definition: Definition, zone: tzinfo, customer_copy: bool) -> str:
    zone_text = str(zone)
    if definition.zone_key is None:
        zone_text = (f"{zone} (customer time zone)" if customer_copy
                     else f"customer time zone (fallback {zone})")
    if definition.preset == "24x7":
        return f"24x7 calendar time, {zone_text}"
    if definition.preset == "24x5":
        text = f"24x5 Mon 00:00–Fri 24:00 {zone_text}"
    else:
        text = f"{describe_week(definition.weekly)} {zone_text}"
    if definition.country:
        region = f"{definition.country}-{definition.subdivision}" if definition.subdivision \
            else definition.country
        text += f", public holidays {region}"
    if definition.dates:
        count = len(definition.dates)
        text += f", {count} extra closed date{'s' if count != 1 else ''}"
    if definition.overrides:
        count = len(definition.overrides)
        text += f", {count} date override{'s' if count != 1 else ''}"
    return text


def _names(names: Iterable[object]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _parse_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
