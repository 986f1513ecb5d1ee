"""Timeline stage, events: a ticket's `events` checked in order, every problem at its JSON pointer.

An event is `{at, type, ...}`: `priority_requested` / `agent_priority` (`level`), `fact`
(`fact`, `value`), `status` (`status`) or `reply` (`by`). They must be in time order, not
before the submission, not repeated, and possible: a closed ticket takes nothing but a reopen, a
reopen needs a solved or closed ticket, a status is a change. A fact's new value is checked by
the policy's own ticket checker, so it obeys exactly the rules a ticket field does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from engine.check.tickets import Ticket, TicketChecker, parse_timestamp
from engine.core.decision import canonical_json
from engine.core.diagnostics import Diagnostic, Location, did_you_mean, pointer_join
from engine.core.model import STATUSES

EVENT_TYPES = ("priority_requested", "agent_priority", "fact", "status", "reply")
REPLY_BY = ("agent", "customer")
MAX_EVENTS = 10_000
#: Facts an event cannot change: the ticket's identity and times.
FIXED_FACTS = ("id", "submitted_at", "first_response_at")
_KEYS = {"priority_requested": ("level",), "agent_priority": ("level",),
         "fact": ("fact", "value"), "status": ("status",), "reply": ("by",)}
_LEVEL_FACT = {"priority_requested": "requested_priority", "agent_priority": "agent_priority"}


class Event(NamedTuple):
    """One checked event. `fact`/`value`: the fact it sets (priority events set
    `requested_priority` / `agent_priority`); `checked`: that value as the policy's checker
    normalised it (a one-fact ticket)."""

    # a field named like tuple.index shadows that method, which nothing calls on an Event
    index: int  # type: ignore[assignment]
    at: datetime
    type: str
    raw: Mapping                   # the event as given
    fact: str | None = None
    value: object = None
    checked: Ticket | None = None
    status: str | None = None
    by: str | None = None

    @property
    def cause(self) -> dict:
        """The event as given, without its `at`."""
        return {k: v for k, v in self.raw.items() if k != "at"}


def _diag(code: str, pointer: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, location=Location(pointer=pointer), hint=hint)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


class EventChecker:
    """Checks the events of tickets under one policy; remembers checked fact values."""

    def __init__(self, checker: TicketChecker, levels: tuple[str, ...]):
        self.checker = checker
        self.levels = levels
        self.facts = tuple(p for p in checker.specs if p not in FIXED_FACTS)
        self._memo: dict[tuple, tuple[Ticket | None, list[Diagnostic]]] = {}

    def check(self, raw: object, submitted: Ticket) -> tuple[tuple[Event, ...], list[Diagnostic]]:
        """The events of a ticket whose other fields checked as `submitted`, or the problems."""
        if not isinstance(raw, list):
            return (), [_diag("ticket_type", "/events", f"`events` must be an array, got "
                              f"{_kind(raw)}")]
        if len(raw) > MAX_EVENTS:
            return (), [_diag("ticket_range", "/events", f"`events` has {len(raw):,} events; "
                              f"at most {MAX_EVENTS:,} are accepted")]
        problems: list[Diagnostic] = []
        events: list[Event] = []
        state = _State(submitted)
        for i, item in enumerate(raw):
            at: list[datetime] = []
            event = self._event(i, item, submitted, problems, at)
            if at:  # in time order, even when the event has other problems
                state.order(i, at[0], problems)
            if event is not None:
                state.follow(event, problems)
                events.append(event)
        state.first_response(problems)
        return tuple(events), problems

    def _event(self, i: int, item: object, submitted: Ticket, problems: list[Diagnostic],
               parsed: list[datetime]) -> Event | None:
        ptr = f"/events/{i}"
        if item.__class__ is not dict and not isinstance(item, Mapping):
            problems.append(_diag("ticket_type", ptr, f"event {i} must be an object, got "
                                  f"{_kind(item)}"))
            return None
        before = len(problems)
        kind = item.get("type")
        if kind not in EVENT_TYPES:
            if "type" not in item:
                problems.append(_diag("ticket_event_missing_key", ptr, f"event {i} has no "
                                      "`type`", f"one of {', '.join(EVENT_TYPES)}"))
            else:
                problems.append(_diag("ticket_event_type", f"{ptr}/type", f"event type "
                                      f"`{kind}` is not one of {', '.join(EVENT_TYPES)}",
                                      did_you_mean(kind, EVENT_TYPES)))
            keys: tuple[str, ...] = ()
        else:
            keys = _KEYS[kind]
        at = self._at(item, ptr, problems)
        if at is not None:
            parsed.append(at)
        allowed = ("at", "type", *keys)
        for key in item:
            if key not in allowed and kind in EVENT_TYPES:
                problems.append(_diag("ticket_event_unknown_key", pointer_join(ptr, key),
                                      f"unknown key `{key}` in a `{kind}` event",
                                      did_you_mean(str(key), allowed) or
                                      f"a `{kind}` event has {', '.join(allowed)}"))
        for key in keys:
            if key not in item:
                problems.append(_diag("ticket_event_missing_key", ptr, f"`{kind}` event {i} "
                                      f"has no `{key}`"))
        if len(problems) > before or at is None:
            return None
        assert isinstance(kind, str)   # one of EVENT_TYPES (checked above)
        cause = item
        if kind == "status":
            status = item["status"]
            if status not in STATUSES:
                problems.append(_diag("ticket_enum", f"{ptr}/status", f"status `{status}` is "
                                      f"not one of {', '.join(STATUSES)}",
                                      did_you_mean(status, STATUSES)))
                return None
            return Event(i, at, kind, cause, status=status)
        if kind == "reply":
            by = item["by"]
            if by not in REPLY_BY:
                problems.append(_diag("ticket_enum", f"{ptr}/by", f"a reply is by `agent` or "
                                      f"`customer`, not `{by}`", did_you_mean(by, REPLY_BY)))
                return None
            return Event(i, at, kind, cause, by=by)
        if kind == "fact":
            fact, value, vptr = item["fact"], item["value"], f"{ptr}/value"
            if fact not in self.facts:
                fixed = fact in FIXED_FACTS
                problems.append(_diag("ticket_event_fact", f"{ptr}/fact", (
                    f"`{fact}` cannot change during a ticket" if fixed else
                    f"`{fact}` is not a fact of this policy"), (
                    "a reply event sets the first response" if fact == "first_response_at"
                    else None) if fixed else did_you_mean(fact, self.facts)))
                return None
        else:
            fact, value, vptr = _LEVEL_FACT[kind], item["level"], f"{ptr}/level"
        checked = self.value(fact, value, vptr, submitted, problems)
        if checked is None:
            return None
        return Event(i, at, kind, cause, fact=fact, value=checked.values[fact], checked=checked)

    def _at(self, item: Mapping, ptr: str, problems: list[Diagnostic]) -> datetime | None:
        if "at" not in item:
            problems.append(_diag("ticket_event_missing_key", ptr, "the event has no `at`",
                                  "add `at`: an RFC 3339 instant with an offset"))
            return None
        try:
            return parse_timestamp(item["at"])
        except ValueError as exc:
            code = "ticket_no_offset" if "no UTC offset" in str(exc) else "ticket_timestamp"
            problems.append(_diag(code, f"{ptr}/at", f"`at`: {exc}", "RFC 3339 with an "
                                  "offset, e.g. `2026-03-02T09:30:00+01:00`"))
            return None

    def value(self, fact: str, value: object, ptr: str, submitted: Ticket,
              problems: list[Diagnostic]) -> Ticket | None:
        """`value` for `fact`, checked as the ticket field would be (a one-fact ticket)."""
        try:
            key = (fact, value.__class__, value)
            hash(key)
        except TypeError:  # a map (contract targets) or a list: not remembered
            key = None
        found = self._memo.get(key) if key is not None else None
        if found is None:
            top, *parts = fact.split(".")
            node: object = value
            for part in reversed(parts):
                node = {part: node}
            mini = {"id": submitted.id, "submitted_at": submitted.values["submitted_at"],
                    top: node}
            found = self.checker.check(mini)
            if key is not None:
                if len(self._memo) >= 4096:
                    self._memo.clear()
                self._memo[key] = found
        checked, issues = found
        if not issues:
            return checked
        own = pointer_join("", *fact.split("."))
        for d in issues:
            pointer = d.location.pointer or ""
            if pointer == own or pointer.startswith(own + "/"):
                problems.append(Diagnostic(d.code, d.message, location=Location(
                    pointer=ptr + pointer[len(own):]), hint=d.hint))
        return checked if not issues else None


class _State:
    """Order, duplicates and the status machine, followed event by event."""

    def __init__(self, submitted: Ticket):
        self.submitted = submitted
        self.last: tuple[int, datetime] | None = None
        self.seen: dict[tuple, int] = {}
        self.status = "open"
        self.closed_at: int | None = None
        self.first_agent_reply: Event | None = None

    def order(self, index: int, at: datetime, problems: list[Diagnostic]) -> None:
        ptr = f"/events/{index}/at"
        sub = self.submitted
        if at < sub.submitted_at:
            problems.append(_diag("ticket_event_before_submission", ptr, f"event at "
                                  f"{at.isoformat()} is before `submitted_at` "
                                  f"{sub.values['submitted_at']}",
                                  "a ticket's events happen after its submission"))
        elif self.last is not None and at < self.last[1]:
            problems.append(_diag("ticket_event_order", ptr, f"event at {at.isoformat()} is "
                                  f"before the previous event (/events/{self.last[0]}) at "
                                  f"{self.last[1].isoformat()}", "list events in time order"))
        self.last = (index, at)

    def follow(self, e: Event, problems: list[Diagnostic]) -> None:
        ptr = f"/events/{e.index}"
        value = e.value
        if value is not None and value.__class__ not in (str, bool, int, float):
            value = canonical_json(value)  # a map (contract targets)
        key = (e.at, e.type, e.fact, value, e.status, e.by)
        if key in self.seen:
            problems.append(_diag("ticket_event_duplicate", ptr, f"event {e.index} repeats "
                                  f"/events/{self.seen[key]}", "give each event once"))
        else:
            self.seen[key] = e.index
        if self.status == "closed" and e.status != "reopened":
            what = f"`{e.type}`" + (f" by the {e.by}" if e.by else "")
            problems.append(_diag("ticket_event_after_close", ptr, f"{what} event after the "
                                  f"ticket was closed (/events/{self.closed_at}) without a "
                                  "reopen", "add a `status: reopened` event first"))
            return
        if e.type == "status":
            self._status(e, ptr, problems)
        elif e.type == "reply" and e.by == "agent" and self.first_agent_reply is None:
            self.first_agent_reply = e

    def _status(self, e: Event, ptr: str, problems: list[Diagnostic]) -> None:
        assert e.status is not None   # a status event has one
        if e.status == self.status:
            problems.append(_diag("ticket_event_status", f"{ptr}/status", f"the ticket is "
                                  f"already `{self.status}`", "a status event is a change"))
            return
        if e.status == "reopened" and self.status not in ("solved", "closed"):
            problems.append(_diag("ticket_event_status", f"{ptr}/status", "`reopened` needs a "
                                  f"solved or closed ticket; it is `{self.status}`"))
            return
        self.status = e.status
        if e.status == "closed":
            self.closed_at = e.index

    def first_response(self, problems: list[Diagnostic]) -> None:
        reply, first = self.first_agent_reply, self.submitted.first_response_at
        if reply is not None and first is not None and reply.at < first:
            problems.append(_diag(
                "ticket_event_first_response", f"/events/{reply.index}/at",
                f"the first agent reply at {reply.at.isoformat()} is before `first_response_at` "
                f"{self.submitted.values['first_response_at']}",
                "the first agent reply is the first response: drop `first_response_at` or "
                "make it that reply's time"))
