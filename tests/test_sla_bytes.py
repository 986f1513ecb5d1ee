"""`decision_json.sla_bytes` (the SLA spliced from its fixed members) against the canonical JSON
of `Sla.to_json()`, over every combination of the members that differ between tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from engine.core.canonical import canonical_bytes
from engine.core.decision_json import sla_bytes
from engine.core.records import Sla

INSTANTS = st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), ZoneInfo("Europe/Bratislava"),
     ZoneInfo("America/New_York")]))
SPANS = st.timedeltas(timedelta(hours=-900), timedelta(hours=900))
TEXT = st.sampled_from(["always", "8x5", "ünïcödé \"quoted\"", "100% %b %s", ""])


@given(SPANS, st.sampled_from(["business", "calendar"]), TEXT, TEXT, INSTANTS,
       st.sampled_from([None, True, False]), st.none() | SPANS, st.none() | TEXT, TEXT,
       st.sampled_from(["pending", "met", "breached", "odd ✓"]), st.none() | INSTANTS)
def test_sla_bytes_are_the_canonical_json(target, clock, calendar, zone, due, met, remaining,
                                          rule, metric, status, breached):
    sla = Sla(target, clock, calendar, zone, due, met, remaining, rule, metric, status, breached)
    assert sla_bytes(sla) == canonical_bytes(sla.to_json())
    assert sla_bytes(sla) == canonical_bytes(sla.to_json())   # its fixed members kept
