"""ISO 8601 durations as policies write them: `PT3H`, `P2DT4H`, `P1W`.

Only exact units are accepted: weeks, days (24 hours of open time), hours, minutes and
seconds (with an optional fraction down to microseconds). Years and months are rejected
because their length depends on the calendar.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["MAX_TARGET", "check_target", "format_duration", "parse_duration"]

_EXAMPLE = "expected ISO 8601 like `PT3H`"
_WEEKS = re.compile(r"P(?P<weeks>\d+)W", re.ASCII)
_DAYS_TIME = re.compile(
    r"P(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)(?:\.(?P<frac>\d+))?S)?)?",
    re.ASCII,
)
_US_PER_S = 1_000_000
MAX_TARGET = timedelta(days=366)  # a response target longer than a year is a typo


def check_target(text: str, within: timedelta) -> None:
    """A response target must be positive and at most a year of open time."""
    if within <= timedelta(0):
        raise ValueError(f"target `{text}` must be positive")
    if within > MAX_TARGET:
        raise ValueError(f"target `{text}` is longer than a year (P366D)")


def parse_duration(text: object) -> timedelta:
    """Parse `P[nW]` or `P[nD][T[nH][nM][n[.f]S]]` into a timedelta; ValueError if invalid."""
    if not isinstance(text, str):
        raise ValueError(f"invalid duration `{text}`: expected a string like `PT3H`")
    _check_shape(text)
    weeks = _WEEKS.fullmatch(text)
    if weeks:
        return _make(text, days=int(weeks["weeks"]) * 7)
    match = _DAYS_TIME.fullmatch(text)
    if match is None and re.fullmatch(r"P(?:\d+D)?T?\d+[.,]\d+[DHM]", text):
        raise ValueError(f"invalid duration `{text}`: only seconds may have a fraction; "
                         "write e.g. `PT1H30M` for an hour and a half")
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"invalid duration `{text}`: {_EXAMPLE}")
    frac = match["frac"] or ""
    if len(frac) > 6:
        raise ValueError(
            f"invalid duration `{text}`: at most 6 decimals (microseconds) are allowed in seconds"
        )
    micro = int(frac.ljust(6, "0")) if frac else 0
    return _make(
        text,
        days=int(match["days"] or 0),
        hours=int(match["hours"] or 0),
        minutes=int(match["minutes"] or 0),
        seconds=int(match["seconds"] or 0),
        microseconds=micro,
    )


def _check_shape(text: str) -> None:
    """Reject the common mistakes with a specific hint before the general pattern."""
    if text.startswith("-"):
        raise ValueError(f"invalid duration `{text}`: negative durations are not allowed")
    if text != text.upper():
        if _is_valid(text.upper()):
            raise ValueError(
                f"invalid duration `{text}`: designators must be uppercase, e.g. `{text.upper()}`"
            )
        raise ValueError(f"invalid duration `{text}`: {_EXAMPLE}")
    if not text.startswith("P"):
        raise ValueError(f"invalid duration `{text}`: {_EXAMPLE}")
    date_part = text[1:].split("T", 1)[0]
    if "Y" in date_part or "M" in date_part:
        hint = "use days or weeks, e.g. `P30D`"
        if re.fullmatch(r"[0-9]+M", date_part) and "T" not in text:
            hint += f", or `PT{text[1:]}` for minutes"
        raise ValueError(
            f"invalid duration `{text}`: years and months have no fixed length; {hint}"
        )
    if "W" in text and not _WEEKS.fullmatch(text):
        raise ValueError(
            f"invalid duration `{text}`: weeks cannot be combined with other units, "
            "e.g. `P9D` instead of `P1W2D`"
        )
    if "," in text:
        raise ValueError(
            f"invalid duration `{text}`: use `.` for fractional seconds, e.g. `PT1.5S`"
        )
    if text in ("P", "PT"):
        raise ValueError(f"invalid duration `{text}`: no value given; {_EXAMPLE}")


def _is_valid(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def parse_signed_duration(text: object) -> timedelta:
    """`parse_duration` that also reads the leading `-` `format_duration` writes (`-PT1H30M`)."""
    if isinstance(text, str) and text.startswith("-"):
        return -parse_duration(text[1:])
    return parse_duration(text)


def _make(text: str, **parts: int) -> timedelta:
    try:
        return timedelta(**parts)
    except OverflowError:
        raise ValueError(f"invalid duration `{text}`: too large") from None


def format_duration(td: timedelta, *, days: bool = True) -> str:
    """Canonical ISO 8601 text: `PT3H`, `PT1H30M`, `P1DT1H`, `PT0S`, `-PT1H30M`, `PT1.5S`.

    `days=False` counts whole hours instead (`PT25H`): open time, where 24 hours are not a day.
    """
    total = td // timedelta(microseconds=1)
    if total == 0:
        return "PT0S"
    sign = "-" if total < 0 else ""
    total = abs(total)
    seconds, micro = divmod(total, _US_PER_S)
    whole_days = 0
    if days:
        whole_days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if seconds or micro:
        fraction = f".{micro:06d}".rstrip("0") if micro else ""
        time += f"{seconds}{fraction}S"
    text = f"{sign}P"
    if whole_days:
        text += f"{whole_days}D"
    if time:
        text += f"T{time}"
    return text
