"""Unit tests for engine.durations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(("text", "expected"), [
    ("PT3H", timedelta(hours=3)),
    ("PT30M", timedelta(minutes=30)),
    ("PT45S", timedelta(seconds=45)),
    ("PT1H30M", timedelta(hours=1, minutes=30)),
    ("P2D", timedelta(days=2)),
    ("P2DT4H", timedelta(days=2, hours=4)),
    ("P1DT1H1M1S", timedelta(days=1, hours=1, minutes=1, seconds=1)),
    ("P1W", timedelta(weeks=1)),
    ("PT1.5S", timedelta(seconds=1.5)),
    ("PT0.000001S", timedelta(microseconds=1)),
    ("PT0S", timedelta(0)),
    ("P0D", timedelta(0)),
    ("PT36H", timedelta(hours=36)),
    ("PT90M", timedelta(minutes=90)),
])
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("3h", "invalid duration `3h`: expected ISO 8601 like `PT3H`"),
    ("pt3h", "invalid duration `pt3h`: designators must be uppercase, e.g. `PT3H`"),
    ("Pt3H", "invalid duration `Pt3H`: designators must be uppercase, e.g. `PT3H`"),
    ("P", "invalid duration `P`: no value given; expected ISO 8601 like `PT3H`"),
    ("PT", "invalid duration `PT`: no value given; expected ISO 8601 like `PT3H`"),
    ("P1DT", "invalid duration `P1DT`: expected ISO 8601 like `PT3H`"),
    ("P1M", "invalid duration `P1M`: years and months have no fixed length; use days or weeks, "
            "e.g. `P30D`, or `PT1M` for minutes"),
    ("P1Y", "invalid duration `P1Y`: years and months have no fixed length; use days or weeks, "
            "e.g. `P30D`"),
    ("P1W2D", "invalid duration `P1W2D`: weeks cannot be combined with other units, "
              "e.g. `P9D` instead of `P1W2D`"),
    ("PT1,5S", "invalid duration `PT1,5S`: use `.` for fractional seconds, e.g. `PT1.5S`"),
    ("PT1.1234567S", "invalid duration `PT1.1234567S`: at most 6 decimals (microseconds) are "
                     "allowed in seconds"),
    ("-PT1H", "invalid duration `-PT1H`: negative durations are not allowed"),
    ("PT1.5H", "invalid duration `PT1.5H`: only seconds may have a fraction; write e.g. "
               "`PT1H30M` for an hour and a half"),
    ("PT3M2H", "invalid duration `PT3M2H`: expected ISO 8601 like `PT3H`"),
    (" PT3H", "invalid duration ` PT3H`: expected ISO 8601 like `PT3H`"),
    ("", "invalid duration ``: expected ISO 8601 like `PT3H`"),
    ("P99999999999D", "invalid duration `P99999999999D`: too large"),
])
def test_parse_rejects_with_one_line_message(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_duration(text)
    assert str(error.value) == message
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("value", [3, None, 1.5, timedelta(hours=1)])
def test_parse_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match="expected a string like `PT3H`"):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "text"), [
    (timedelta(hours=3), "PT3H"),
    (timedelta(hours=1, minutes=30), "PT1H30M"),
    (timedelta(days=2, hours=4), "P2DT4H"),
    (timedelta(hours=25), "P1DT1H"),
    (timedelta(hours=24), "P1D"),
    (timedelta(hours=23, minutes=59), "PT23H59M"),
    (timedelta(weeks=1), "P7D"),
    (timedelta(0), "PT0S"),
    (-timedelta(hours=1, minutes=30), "-PT1H30M"),
    (timedelta(seconds=1.5), "PT1.5S"),
    (timedelta(microseconds=10), "PT0.00001S"),
    (timedelta(minutes=1, microseconds=1), "PT1M0.000001S"),
    (-timedelta(microseconds=1), "-PT0.000001S"),
    (timedelta(days=1, seconds=1), "P1DT1S"),
])
def test_format(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10_000)))
def test_round_trip(value: timedelta) -> None:
    text = format_duration(value)
    assert parse_duration(text) == value
    assert format_duration(parse_duration(text)) == text


@given(st.timedeltas(min_value=timedelta(days=-10_000), max_value=timedelta(0)))
def test_negative_format_is_the_positive_with_a_sign(value: timedelta) -> None:
    text = format_duration(value)
    assert text == "PT0S" or text == "-" + format_duration(-value)


def test_format_open_time_in_hours():
    from datetime import timedelta

    from engine.core.durations import format_duration

    assert format_duration(timedelta(hours=24), days=False) == "PT24H"
    assert format_duration(-timedelta(hours=1663, minutes=30), days=False) == "-PT1663H30M"
    assert format_duration(timedelta(hours=25)) == "P1DT1H"
