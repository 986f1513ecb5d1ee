"""`instant_json` writes what `isoformat` writes, for every zone, year, offset and fold.

orjson (which `instant_json` uses, ~8x faster than `isoformat` here) rounds offsets to whole
minutes; the fallback must catch every offset with seconds (local mean time, Monrovia until
1972, fixed offsets with seconds or microseconds) and any tzinfo orjson does not know.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given
from hypothesis import strategies as st

from engine.core.canonical import canonical_bytes, instant_json, instant_text

ZONES = sorted(available_timezones())
FIXED = st.builds(lambda s, us: timezone(timedelta(seconds=s, microseconds=us)),
                  st.integers(-86399, 86399), st.sampled_from([0, 0, 0, 5, 999999]))


class Odd(tzinfo):
    """A tzinfo of its own (orjson knows only the standard ones)."""

    def utcoffset(self, dt):
        return timedelta(hours=1, minutes=30)

    def dst(self, dt):
        return timedelta(0)

    def tzname(self, dt):
        return "ODD"


ZONE = st.one_of(st.sampled_from(ZONES).map(ZoneInfo), FIXED, st.just(UTC),
                 st.none(), st.just(Odd()))


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    allow_imaginary=True), ZONE, st.integers(0, 1))
def test_instant_json_is_the_isoformat_text(naive, zone, fold):
    moment = naive.replace(tzinfo=zone, fold=fold)
    assert instant_json(moment) == canonical_bytes(moment.isoformat())
    assert instant_text(moment) == moment.isoformat()


def test_the_offsets_orjson_rounds_are_written_exactly():
    monrovia = datetime(1970, 6, 1, 12, tzinfo=ZoneInfo("Africa/Monrovia"))  # -00:44:30
    assert instant_text(monrovia) == "1970-06-01T12:00:00-00:44:30"
    lmt = datetime(1800, 1, 1, tzinfo=ZoneInfo("Europe/Prague"))              # +00:57:44
    assert instant_text(lmt) == lmt.isoformat() == "1800-01-01T00:00:00+00:57:44"
    tiny = datetime(2026, 1, 1, tzinfo=timezone(timedelta(microseconds=5)))
    assert instant_text(tiny) == tiny.isoformat()


def test_every_installed_zone_has_whole_minute_offsets_since_1973():
    """What `instant_json`'s fast path for ZoneInfo instants from 1973 on rests on (sampled
    each quarter: a sub-minute offset in tzdata is local mean time, which lasted years)."""
    samples = [datetime(year, month, 1, tzinfo=UTC)
               for year in range(1973, 2101) for month in (1, 4, 7, 10)]
    odd = []
    for name in ZONES:
        zone = ZoneInfo(name)
        for moment in samples:
            offset = moment.astimezone(zone).utcoffset()
            if offset is not None and (offset.seconds % 60 or offset.microseconds):
                odd.append(f"{name} {moment:%Y-%m}: {offset}")
    assert not odd
