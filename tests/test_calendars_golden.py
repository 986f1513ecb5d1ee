"""Golden tables for the bundled calendars: tests/golden/calendars/*.yaml.

Each file holds a calendar `spec`, its `describe()` line, `cases` (from, within → due) and
`elapsed` cases (from, to → elapsed). The inputs live in this module; the expected values are
written by the implementation and then checked by eye:

    python tests/test_calendars_golden.py --regen

The test re-computes every row from the YAML file alone and compares.
"""

from __future__ import annotations

import functools
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # for the script mode
    sys.path.insert(0, str(ROOT))

from engine.calendars import build_calendar, check_calendar_spec  # noqa: E402
from engine.core.durations import format_duration, parse_duration  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden" / "calendars"

# --------------------------------------------------------------------------- inputs
# Times are local wall-clock times in the case's zone (the calendar's, or the customer's).

EIGHT_TO_FIVE_CASES = [
    ("before opening", "2026-03-02T08:30", "PT1H"),
    ("exactly at opening", "2026-03-02T09:00", "PT1H"),
    ("runs out exactly at closing: due at closing", "2026-03-02T16:00", "PT1H"),
    ("one minute before closing", "2026-03-02T16:59", "PT1H"),
    ("exactly at closing", "2026-03-02T17:00", "PT1H"),
    ("after closing", "2026-03-02T19:00", "PT2H"),
    ("seconds and microseconds are kept", "2026-03-02T10:15:30.250000", "PT30M"),
    ("a day is 24 open hours", "2026-03-02T09:00", "P1D"),
    ("a full working week", "2026-03-02T09:00", "PT40H"),
    ("weekend: Saturday", "2026-03-07T10:00", "PT1H"),
    ("weekend: Friday afternoon", "2026-03-06T16:30", "PT1H"),
    ("spring DST 2026 (Sun 29 Mar)", "2026-03-27T16:00", "PT2H"),
    ("autumn DST 2026 (Sun 25 Oct)", "2026-10-23T16:00", "PT2H"),
    ("spring DST 2027 (Sun 28 Mar, Easter)", "2027-03-25T16:00", "PT2H"),
    ("autumn DST 2027 (Sun 31 Oct)", "2027-10-29T16:00", "PT2H"),
    ("holiday eve: Good Friday 2026", "2026-04-02T16:00", "PT2H"),
    ("holiday eve: Christmas 2026", "2026-12-23T16:00", "PT2H"),
    ("Christmas 2027", "2027-12-23T12:00", "PT8H"),
    ("New Year's Eve 2026", "2026-12-31T16:00", "PT2H"),
    ("1,000 open hours", "2026-01-05T09:00", "PT1000H"),
]
EIGHT_TO_FIVE_ELAPSED = [
    ("over a weekend", "2026-03-06T12:00", "2026-03-09T12:00"),
    ("across the spring DST weekend 2026", "2026-03-27T09:00", "2026-03-30T17:00"),
    ("across the autumn DST weekend 2027", "2027-10-29T09:00", "2027-11-01T17:00"),
    ("across Christmas 2026", "2026-12-23T09:00", "2026-12-29T09:00"),
    ("reversed: negative", "2026-03-09T12:00", "2026-03-06T12:00"),
    ("closed all along", "2026-03-07T00:00", "2026-03-08T23:59"),
    ("the year 2026", "2026-01-01T00:00", "2027-01-01T00:00"),
]

TWENTY_FOUR_FIVE_CASES = [
    ("open at Monday 00:00", "2026-03-09T00:00", "PT1H"),
    ("Friday evening over the weekend", "2026-03-06T23:30", "PT1H"),
    ("weekend: Saturday", "2026-03-07T10:00", "PT1H"),
    ("runs out at Friday 24:00", "2026-03-09T00:00", "P5D"),
    ("spring DST 2026 (Sun 29 Mar)", "2026-03-27T12:00", "PT24H"),
    ("autumn DST 2026 (Sun 25 Oct)", "2026-10-23T12:00", "PT24H"),
    ("spring DST 2027 (Sun 28 Mar)", "2027-03-26T12:00", "PT24H"),
    ("autumn DST 2027 (Sun 31 Oct)", "2027-10-29T12:00", "PT24H"),
    ("holiday eve: Christmas Eve 2026 (no holidays)", "2026-12-24T12:00", "PT48H"),
]
TWENTY_FOUR_FIVE_ELAPSED = [
    ("a week across the spring DST weekend", "2026-03-23T00:00", "2026-03-30T00:00"),
    ("a weekend", "2026-03-07T00:00", "2026-03-09T00:00"),
    ("Friday noon to Monday noon", "2026-10-23T12:00", "2026-10-26T12:00"),
]

TWENTY_FOUR_SEVEN_CASES = [
    ("weekday", "2026-03-02T10:00", "PT1H"),
    ("weekend", "2026-03-07T10:00", "PT8H"),
    ("spring DST 2026 (Sun 29 Mar)", "2026-03-28T12:00", "PT24H"),
    ("across the spring jump: one real hour", "2026-03-29T01:30", "PT1H"),
    ("autumn DST 2026 (Sun 25 Oct)", "2026-10-24T12:00", "PT24H"),
    ("spring DST 2027 (Sun 28 Mar)", "2027-03-27T12:00", "PT24H"),
    ("autumn DST 2027 (Sun 31 Oct)", "2027-10-30T12:00", "PT24H"),
    ("Christmas 2026", "2026-12-24T18:00", "PT48H"),
    ("holiday eve: New Year's Eve", "2026-12-31T23:30", "PT1H"),
]
TWENTY_FOUR_SEVEN_ELAPSED = [
    ("the spring DST day 2026 in Europe", "2026-03-29T00:00", "2026-03-30T00:00"),
    ("the autumn DST day 2026 in Europe", "2026-10-25T00:00", "2026-10-26T00:00"),
    ("a week", "2026-03-02T00:00", "2026-03-09T00:00"),
]

CUSTOMER_CASES = [
    ("before opening", "2026-03-02T07:30", "PT1H"),
    ("exactly at opening", "2026-03-02T08:00", "PT1H"),
    ("one minute before closing", "2026-03-02T16:59", "PT1H"),
    ("exactly at closing", "2026-03-02T17:00", "PT1H"),
    ("runs out exactly at closing: due at closing", "2026-03-02T16:00", "PT1H"),
    ("after closing", "2026-03-02T20:00", "PT2H"),
    ("weekend: Saturday", "2026-03-07T10:00", "PT1H"),
    ("US spring DST 2026 (Sun 8 Mar)", "2026-03-06T16:00", "PT2H"),
    ("US autumn DST 2026 (Sun 1 Nov)", "2026-10-30T16:00", "PT2H"),
    ("US spring DST 2027 (Sun 14 Mar)", "2027-03-12T16:00", "PT2H"),
    ("US autumn DST 2027 (Sun 7 Nov)", "2027-11-05T16:00", "PT2H"),
    ("holiday eve: Christmas 2026 (no public holidays)", "2026-12-24T16:00", "PT2H"),
]
CUSTOMER_ELAPSED = [
    ("over a weekend", "2026-03-06T12:00", "2026-03-09T12:00"),
    ("across the US spring DST weekend 2026", "2026-03-06T08:00", "2026-03-09T17:00"),
]
CUSTOMER_ZONES = ["America/New_York", "Asia/Tokyo", None]


def _for_zones(rows: list[tuple], zones: list[str | None]) -> list[tuple]:
    return [(*row, zone) for zone in zones for row in rows]


BUNDLED: dict[str, dict] = {
    "cloudtalk-office": {
        "calendar": "office",
        "spec": {"timezone": "Europe/Bratislava", "hours": {"mon-fri": ["09:00-17:00"]},
                 "holidays": {"country": "SK"}},
        "cases": EIGHT_TO_FIVE_CASES,
        "elapsed": EIGHT_TO_FIVE_ELAPSED,
    },
    "cloudtalk-always": {
        "calendar": "always",
        "spec": {"preset": "24x7", "timezone": "Europe/Bratislava"},
        "cases": TWENTY_FOUR_SEVEN_CASES,
        "elapsed": TWENTY_FOUR_SEVEN_ELAPSED,
    },
    "zmanda-standard": {
        "calendar": "standard",
        "spec": {"timezone": "customer", "fallback_timezone": "UTC",
                 "hours": {"mon-fri": ["08:00-17:00"]}},
        "cases": _for_zones(CUSTOMER_CASES, CUSTOMER_ZONES),
        "elapsed": _for_zones(CUSTOMER_ELAPSED, CUSTOMER_ZONES),
    },
    "zmanda-always": {
        "calendar": "always",
        "spec": {"preset": "24x7", "timezone": "UTC"},
        "cases": TWENTY_FOUR_SEVEN_CASES,
        "elapsed": TWENTY_FOUR_SEVEN_ELAPSED,
    },
    "credenti-8x5": {
        "calendar": "8x5",
        "spec": {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["09:00-17:00"]},
                 "holidays": {"country": "DE"}},
        "cases": EIGHT_TO_FIVE_CASES,
        "elapsed": EIGHT_TO_FIVE_ELAPSED,
    },
    "credenti-24x5": {
        "calendar": "24x5",
        "spec": {"preset": "24x5", "timezone": "Europe/Berlin"},
        "cases": TWENTY_FOUR_FIVE_CASES,
        "elapsed": TWENTY_FOUR_FIVE_ELAPSED,
    },
    "credenti-24x7": {
        "calendar": "24x7",
        "spec": {"preset": "24x7", "timezone": "Europe/Berlin"},
        "cases": TWENTY_FOUR_SEVEN_CASES,
        "elapsed": TWENTY_FOUR_SEVEN_ELAPSED,
    },
    "csd-group-always": {
        "calendar": "always",
        "spec": {"preset": "24x7", "timezone": "Asia/Ho_Chi_Minh"},
        "cases": TWENTY_FOUR_SEVEN_CASES,
        "elapsed": TWENTY_FOUR_SEVEN_ELAPSED,
    },
}


# --------------------------------------------------------------------------- regeneration


def _calendar(name: str, spec: object, zone: str | None):
    calendar = build_calendar(name, spec)
    return calendar.for_zone(ZoneInfo(zone)) if zone else calendar.for_zone(None)


def _aware(local: str, calendar) -> str:
    return datetime.fromisoformat(local).replace(tzinfo=calendar.zone).isoformat()


def _row_zone(row: tuple, size: int) -> str | None:
    return row[size] if len(row) > size else None


def regenerate(key: str, entry: dict) -> dict:
    """The golden document for one bundled calendar, computed by the implementation."""
    name, spec = entry["calendar"], entry["spec"]
    document: dict = {"calendar": name, "spec": spec,
                      "describe": build_calendar(name, spec).describe(), "cases": [],
                      "elapsed": []}
    for row in entry["cases"]:
        note, local, within = row[:3]
        zone = _row_zone(row, 3)
        calendar = _calendar(name, spec, zone)
        start = _aware(local, calendar)
        due = calendar.due(datetime.fromisoformat(start), parse_duration(within))
        case = {"note": note, "from": start, "within": within, "due": due.isoformat()}
        if calendar.customer_zone:
            case = {"zone": zone, **case}
        document["cases"].append(case)
    for row in entry["elapsed"]:
        note, local_from, local_to = row[:3]
        zone = _row_zone(row, 3)
        calendar = _calendar(name, spec, zone)
        start, end = _aware(local_from, calendar), _aware(local_to, calendar)
        amount = calendar.elapsed(datetime.fromisoformat(start), datetime.fromisoformat(end))
        case = {"note": note, "from": start, "to": end, "elapsed": format_duration(amount)}
        if calendar.customer_zone:
            case = {"zone": zone, **case}
        document["elapsed"].append(case)
    return document


def regenerate_all() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for key, entry in BUNDLED.items():
        text = yaml.safe_dump(regenerate(key, entry), sort_keys=False, allow_unicode=True,
                              width=100)
        header = (f"# Golden table for `{key}`, written by the implementation and checked by eye.\n"
                  "# Regenerate: python tests/test_calendars_golden.py --regen\n")
        (GOLDEN / f"{key}.yaml").write_text(header + text, encoding="utf-8")
        print(f"wrote {GOLDEN / f'{key}.yaml'}")


# --------------------------------------------------------------------------- tests


@functools.cache
def _load(key: str) -> dict:
    return yaml.safe_load((GOLDEN / f"{key}.yaml").read_text(encoding="utf-8"))


def _case_ids() -> list[tuple[str, int, str]]:
    ids = []
    for key in BUNDLED:
        path = GOLDEN / f"{key}.yaml"
        if path.exists():
            document = _load(key)
            ids += [(key, i, "cases") for i in range(len(document["cases"]))]
            ids += [(key, i, "elapsed") for i in range(len(document["elapsed"]))]
    return ids


def test_every_bundled_calendar_has_a_golden_file() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == sorted(BUNDLED)


@pytest.mark.parametrize("key", sorted(BUNDLED))
def test_golden_spec_is_valid_and_matches_the_bundled_one(key: str) -> None:
    document = _load(key)
    assert document["spec"] == BUNDLED[key]["spec"]
    assert check_calendar_spec(document["spec"]) == []
    assert build_calendar(document["calendar"], document["spec"]).describe() == \
        document["describe"]


@pytest.mark.parametrize(("key", "index", "kind"), _case_ids(),
                         ids=lambda v: str(v) if not isinstance(v, int) else f"#{v}")
def test_golden_row(key: str, index: int, kind: str) -> None:
    document = _load(key)
    row = document[kind][index]
    calendar = _calendar(document["calendar"], document["spec"], row.get("zone"))
    start = datetime.fromisoformat(row["from"])
    if kind == "cases":
        due = calendar.due(start, parse_duration(row["within"]))
        assert due.isoformat() == row["due"], row["note"]
    else:
        amount = calendar.elapsed(start, datetime.fromisoformat(row["to"]))
        assert format_duration(amount) == row["elapsed"], row["note"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--regen"]:
        sys.exit("usage: python tests/test_calendars_golden.py --regen")
    regenerate_all()
