"""The timeline parts of the decision record: the priority history, SLA clocks and held facts.

Records only (no arithmetic, no prose): `engine.timeline` computes them, `engine.explain` tells
them. Each has `to_json` and an exact inverse `from_json`; instants keep the offset they were
written with (`datetime.isoformat` / `fromisoformat` round-trip).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from engine.core.canonical import canonical_bytes, instant_json
from engine.core.durations import parse_duration
from engine.core.records import hours_text

#: Clock statuses.
CLOCK_STATUSES = ("running", "paused", "met", "breached", "not_applicable")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def duration_text(value: timedelta | None) -> str | None:
    """Open time as the record writes it (hours, never days; `-PT1H` when overdue)."""
    return None if value is None else hours_text(value)


def parse_signed(text: str | None) -> timedelta | None:
    """The inverse of `duration_text`."""
    if text is None:
        return None
    negative = text.startswith("-")
    value = parse_duration(text[1:] if negative else text)
    return -value if negative else value


class HistoryEntry(NamedTuple):
    """A change of the decided priority: when, from and to which level, by which rule (with
    its citation and clause), and the event that caused it (None: the submission)."""

    at: datetime
    from_: str | None
    to: str | None
    rule: str | None
    citation: Any             # a decision Citation (policy, digest, path, line), or None
    source: dict | None
    event: int | None
    cause: dict | None        # the event without its `at`; None for the submission

    def to_json(self) -> dict:
        return {"at": self.at.isoformat(), "from": self.from_, "to": self.to, "rule": self.rule,
                "citation": self.citation.to_json() if self.citation is not None else None,
                "source": dict(self.source) if self.source is not None else None,
                "event": self.event, "cause": self.cause}

    @classmethod
    def from_json(cls, d: dict) -> HistoryEntry:
        from engine.core.decision import Citation

        cite = d["citation"]
        return cls(datetime.fromisoformat(d["at"]), d["from"], d["to"], d["rule"],
                   Citation.from_json(cite) if cite is not None else None, d["source"],
                   d["event"], d["cause"])


class Pause(NamedTuple):
    """An interval a clock did not count: [start, end) — end None while still paused."""

    start: datetime
    end: datetime | None
    status: str               # pending | on_hold | solved (a resolution awaiting a reopen)

    def to_json(self) -> dict:
        return {"start": self.start.isoformat(), "end": _iso(self.end), "status": self.status}

    @classmethod
    def from_json(cls, d: dict) -> Pause:
        return cls(datetime.fromisoformat(d["start"]), _instant(d["end"]), d["status"])


class Phase(NamedTuple):
    """A target a clock ran against from `at`: how it was counted and when it fell due."""

    at: datetime
    event: int | None
    level: str | None
    target: timedelta | None      # None: no target from this instant (see `reason`)
    calendar: str | None
    counted: str | None           # start | from_start | from_change | sooner
    due_at: datetime | None
    rule: str | None
    reason: str | None

    def to_json(self) -> dict:
        return {"at": self.at.isoformat(), "event": self.event, "level": self.level,
                "target": duration_text(self.target), "calendar": self.calendar,
                "counted": self.counted, "due_at": _iso(self.due_at), "rule": self.rule,
                "reason": self.reason}

    @classmethod
    def from_json(cls, d: dict) -> Phase:
        return cls(datetime.fromisoformat(d["at"]), d["event"], d["level"],
                   parse_signed(d["target"]), d["calendar"], d["counted"],
                   _instant(d["due_at"]), d["rule"], d["reason"])


class Cycle(NamedTuple):
    """A completed cycle of a metric that runs once per customer reply (next_response)."""

    started_at: datetime
    fulfilled_at: datetime | None
    due_at: datetime | None
    status: str

    def to_json(self) -> dict:
        return {"started_at": self.started_at.isoformat(),
                "fulfilled_at": _iso(self.fulfilled_at), "due_at": _iso(self.due_at),
                "status": self.status}

    @classmethod
    def from_json(cls, d: dict) -> Cycle:
        return cls(datetime.fromisoformat(d["started_at"]), _instant(d["fulfilled_at"]),
                   _instant(d["due_at"]), d["status"])


class Clock(NamedTuple):
    """One SLA metric's clock as of `as_of`."""

    metric: str
    status: str                   # one of CLOCK_STATUSES
    reason: str | None            # why not_applicable
    level: str | None
    target: timedelta | None
    clock: str | None             # business | calendar
    calendar: str | None
    timezone: str | None
    started_at: datetime | None
    due_at: datetime | None
    warn_at: datetime | None
    fulfilled_at: datetime | None
    breached_at: datetime | None
    paused: tuple[Pause, ...]
    consumed: timedelta | None    # open time counted against the target
    remaining: timedelta | None   # target - consumed; negative when overdue; None once fulfilled
    as_of: datetime
    rule: str | None
    phases: tuple[Phase, ...]
    cycles: tuple[Cycle, ...] | None = None   # completed cycles (next_response only)

    def to_json(self) -> dict:
        out = {"metric": self.metric, "status": self.status, "reason": self.reason,
               "level": self.level, "target": duration_text(self.target), "clock": self.clock,
               "calendar": self.calendar, "timezone": self.timezone,
               "started_at": _iso(self.started_at), "due_at": _iso(self.due_at),
               "warn_at": _iso(self.warn_at), "fulfilled_at": _iso(self.fulfilled_at),
               "breached_at": _iso(self.breached_at),
               "paused": [p.to_json() for p in self.paused],
               "consumed": duration_text(self.consumed),
               "remaining": duration_text(self.remaining), "as_of": self.as_of.isoformat(),
               "rule": self.rule, "phases": [p.to_json() for p in self.phases]}
        if self.cycles is not None:
            out["cycles"] = [c.to_json() for c in self.cycles]
        return out

    @classmethod
    def from_json(cls, d: dict) -> Clock:
        cycles = d.get("cycles")
        return cls(d["metric"], d["status"], d["reason"], d["level"], parse_signed(d["target"]),
                   d["clock"], d["calendar"], d["timezone"], _instant(d["started_at"]),
                   _instant(d["due_at"]), _instant(d["warn_at"]), _instant(d["fulfilled_at"]),
                   _instant(d["breached_at"]), tuple(Pause.from_json(p) for p in d["paused"]),
                   parse_signed(d["consumed"]), parse_signed(d["remaining"]),
                   datetime.fromisoformat(d["as_of"]), d["rule"],
                   tuple(Phase.from_json(p) for p in d["phases"]),
                   None if cycles is None else tuple(Cycle.from_json(c) for c in cycles))


class Held(NamedTuple):
    """A fact a `once` rule holds at the value it matched, and the events it overrode."""

    fact: str
    value: object
    rule: str
    since: datetime
    events: tuple[int, ...]

    def to_json(self) -> dict:
        return {"fact": self.fact, "value": self.value, "rule": self.rule,
                "since": self.since.isoformat(), "events": list(self.events)}

    @classmethod
    def from_json(cls, d: dict) -> Held:
        return cls(d["fact"], d["value"], d["rule"], datetime.fromisoformat(d["since"]),
                   tuple(d["events"]))


# the Clock fields (with its one phase's `at` and `due_at`) that differ between tickets, in the
# order their canonical JSON writes them; what else a clock holds is its template's
_SLOTS = ("as_of", "breached_at", "consumed", "due_at", "fulfilled_at", "phase_at",
          "phase_due_at", "remaining", "started_at", "status", "timezone", "warn_at")
_NO_PHASE_SLOTS = tuple(s for s in _SLOTS if not s.startswith("phase_"))
_SENTINEL = "\uf8ffslot\uf8ff"   # private use: no policy text holds it (checked)
_templates: dict[tuple, tuple[bytes, ...]] = {}   # () or (a `%b` template,)


def clock_bytes(c: Clock) -> bytes:
    """`canonical_bytes(c.to_json())`; a clock of at most one phase and no pause (as tickets
    without events have) is written into the template its other fields select, encoded once."""
    phases = c.phases
    if c.paused or c.cycles is not None or len(phases) > 1:
        return canonical_bytes(c.to_json())
    if phases:
        p = phases[0]
        key: tuple = (c.metric, c.reason, c.level, c.target, c.clock, c.calendar, c.rule,
                      p.event, p.level, p.target, p.calendar, p.counted, p.rule, p.reason)
    else:
        key = (c.metric, c.reason, c.level, c.target, c.clock, c.calendar, c.rule)
    try:
        pieces = _templates.get(key)
    except TypeError:   # a record read from JSON with a list or object where text belongs
        return canonical_bytes(c.to_json())
    if pieces is None:
        pieces = _template(c)
        if len(_templates) >= 4096:
            _templates.clear()
        _templates[key] = pieces
    if not pieces:
        return canonical_bytes(c.to_json())
    text = slot_text
    start, due, as_of = c.started_at, c.due_at, c.as_of
    at = text(start)
    due_text = text(due)
    if phases:
        values: tuple[bytes, ...] = (
            at if _same(as_of, start) else text(as_of), text(c.breached_at), text(c.consumed),
            due_text, text(c.fulfilled_at), at if _same(p.at, start) else text(p.at),
            due_text if _same(p.due_at, due) else text(p.due_at), text(c.remaining), at,
            text(c.status), text(c.timezone), text(c.warn_at))
    else:
        values = (at if _same(as_of, start) else text(as_of), text(c.breached_at),
                  text(c.consumed), due_text, text(c.fulfilled_at), text(c.remaining), at,
                  text(c.status), text(c.timezone), text(c.warn_at))
    return pieces[0] % values


def slot_template(c: Clock) -> bytes | None:
    """The `%` template of a clock of one phase and no pause whose `_SLOTS` take their values'
    `slot_text`, in order (b"" when its text holds the slot sentinel; None: not of that kind)."""
    if c.paused or c.cycles is not None or len(c.phases) != 1:
        return None
    pieces = _template(c)
    return pieces[0] if pieces else b""


def as_of_split(c: Clock) -> tuple[bytes, bytes] | None:
    """The canonical JSON of `c` before and after its `as_of` instant's JSON, for a clock whose
    other fields do not differ between tickets (a metric that cannot run); None when its text
    holds the slot sentinel."""
    data = c.to_json()
    data["as_of"] = _SENTINEL
    pieces = canonical_bytes(data).split(b'"' + _SENTINEL.encode() + b'"')
    return (pieces[0], pieces[1]) if len(pieces) == 2 else None


def _same(a: datetime | None, b: datetime | None) -> bool:
    """`a` and `b` write the same ISO 8601 text: the same instant in the same zone."""
    return a is b or (a is not None and b is not None and a.tzinfo is b.tzinfo and a == b)


_texts: dict[object, bytes] = {}   # the JSON of open times and names, which repeat


def slot_text(value: object) -> bytes:
    """An instant or open time as JSON (ASCII: ISO 8601 text), or any other value's: what a
    `slot_template`'s `%b` slot takes."""
    if value is None:
        return b"null"
    if value.__class__ is datetime:
        return instant_json(value)  # type: ignore[arg-type]
    found = _texts.get(value) if value.__class__ in _KEPT else None
    if found is not None:
        return found
    if isinstance(value, datetime):
        return instant_json(value)
    if isinstance(value, timedelta):
        found = b'"' + duration_text(value).encode() + b'"'  # type: ignore[union-attr]
    else:
        found = canonical_bytes(value)
    if value.__class__ in _KEPT:
        if len(_texts) >= 4096:
            _texts.clear()
        _texts[value] = found
    return found


_KEPT = (timedelta, str)


def _template(c: Clock) -> tuple[bytes, ...]:
    data = c.to_json()
    slots = _SLOTS if c.phases else _NO_PHASE_SLOTS
    for name in slots:
        if name.startswith("phase_"):
            data["phases"][0][name[6:]] = _SENTINEL
        else:
            data[name] = _SENTINEL
    pieces = canonical_bytes(data).split(b'"' + _SENTINEL.encode() + b'"')
    if len(pieces) != len(slots) + 1:
        return ()   # the text holds the sentinel
    return (b"%b".join(piece.replace(b"%", b"%%") for piece in pieces),)   # one `%` template
