"""Explain stage, timelines: a ticket's life told as a dated story, from the decision record only
(`history`, `clocks`, `held`).

    2026-03-10 10:00+01:00  submitted: P1 by customer-chosen-priority (policy.yaml:73);
                            first response within PT1H on `office`, due 2026-03-10 11:00+01:00
    2026-03-10 10:20+01:00  event 0, an engineer sets P3: P1 → P3 by agent-reclassification …;
                            first response PT9H counted from the start → due …
    2026-03-10 12:00+01:00–13:30+01:00  first response paused (pending)
    2026-03-10 13:45+01:00  first response given: met (due …)
"""

from __future__ import annotations

from datetime import datetime

from engine.core.clock import Clock, HistoryEntry, Phase
from engine.core.decision import Decision
from engine.core.durations import format_duration
from engine.core.model import _show

_COUNTED = {"start": "counted from the start",
            "from_start": "counted from the start, open time already counted kept",
            "from_change": "counted from the change",
            "sooner": "counted from the change, or what was left if that is less"}


def when(moment: datetime) -> str:
    """`2026-03-10 15:00+01:00` (seconds only when there are some)."""
    text = moment.isoformat(sep=" ", timespec="seconds")
    date_time, offset = text[:19], text[19:]
    if date_time.endswith(":00"):
        date_time = date_time[:16]
    return date_time + ("Z" if offset == "+00:00" else offset)


def _metric(name: str) -> str:
    return name.replace("_", " ")


def _cause(entry: HistoryEntry) -> str:
    c = entry.cause or {}
    kind = c.get("type")
    if kind == "priority_requested":
        what = f"the customer requests {c.get('level') or 'no level'}"
    elif kind == "agent_priority":
        what = f"an engineer sets {c.get('level') or 'no level'}"
    elif kind == "fact":
        what = f"{c.get('fact')} → {_show(c.get('value'))}"
    else:
        what = str(kind)
    return f"event {entry.event}, {what}"


def _rule(entry: HistoryEntry, root: str | None) -> str:
    if entry.rule is None:
        return ""
    text = f" by {entry.rule}"
    if entry.citation is not None:
        path = f"{root.rstrip('/')}/{entry.citation.path}" if root else entry.citation.path
        text += f" ({path}:{entry.citation.line})"
    if entry.source:
        text += f" — \"{entry.source['quote']}\""
        if entry.source.get("gloss"):
            text += f" ({entry.source['gloss']})"
    return text


def _phase(clock: Clock, phase: Phase, previous: Phase | None) -> str:
    name = _metric(clock.metric)
    if phase.target is None:
        return f"{name}: no target — {phase.reason}"
    target = format_duration(phase.target, days=False)
    if previous is None:
        text = f"{name} within {target} on `{phase.calendar}`"
    else:
        text = f"{name} {target} on `{phase.calendar}` {_COUNTED.get(phase.counted or '', '')}"
    if phase.due_at is not None:
        text += f", due {when(phase.due_at)}"
        if previous is not None and previous.due_at is not None and previous.due_at != phase.due_at:
            text += f" (was {when(previous.due_at)})"
        if previous is not None and phase.due_at < phase.at:
            text += " — already exceeded"
    return text


def timeline_lines(decision: Decision, root: str | None = None) -> list[str]:
    """The dated story of the ticket's life, in time order; empty for a decision without a
    timeline."""
    history, clocks = decision.history, decision.clocks
    if history is None or clocks is None:
        return []
    groups: dict[tuple, list[str]] = {}
    order: list[tuple] = []

    def add(moment: datetime, rank: int, text: str, key: object = None) -> None:
        k = (moment, rank, key)
        if k not in groups:
            groups[k] = []
            order.append(k)
        groups[k].append(text)

    start = history[0].at if history else None
    for entry in history:
        text = (f"submitted: {entry.to}" if entry.event is None else
                f"{_cause(entry)}: {entry.from_ or 'none'} → {entry.to or 'none'}")
        add(entry.at, 0, text + _rule(entry, root), entry.event)
    for clock in clocks:
        previous = None
        for phase in clock.phases:
            add(phase.at, 0, _phase(clock, phase, previous), phase.event)
            previous = phase
        for pause in clock.paused:
            end = when(pause.end) if pause.end else "…"
            add(pause.start, 1, f"{_metric(clock.metric)} paused ({pause.status}) until {end}")
        if clock.warn_at is not None and clock.status not in ("met", "not_applicable"):
            add(clock.warn_at, 2, f"{_metric(clock.metric)}: warning, due "
                f"{when(clock.due_at)}" if clock.due_at else "warning")
        if clock.fulfilled_at is not None and clock.status in ("met", "breached"):
            done = "resolved" if clock.metric == "resolution" else f"{_metric(clock.metric)} given"
            add(clock.fulfilled_at, 3, f"{done}: {clock.status} (due {when(clock.due_at)})"
                if clock.due_at else done)
        elif clock.status == "breached" and clock.breached_at is not None:
            add(clock.breached_at, 3, f"{_metric(clock.metric)} overdue (due "
                f"{when(clock.due_at)})" if clock.due_at else "overdue")
        if clock.cycles:
            for cycle in clock.cycles:
                add(cycle.started_at, 1, f"{_metric(clock.metric)} cycle: {cycle.status}"
                    + (f" (due {when(cycle.due_at)})" if cycle.due_at else ""))
    if start is None and not order:
        return []
    lines = [f"{when(k[0])}  " + "; ".join(groups[k]) for k in sorted(
        order, key=lambda k: (k[0], k[1], -1 if k[2] is None else k[2]))]
    return lines + [_state(c) for c in clocks] + [
        f"held: {h.fact} stays {_show(h.value)} since {when(h.since)} by {h.rule} (once per "
        f"ticket); overrode event{'s' if len(h.events) > 1 else ''} "
        f"{', '.join(map(str, h.events))}" for h in decision.held or ()]


def _state(clock: Clock) -> str:
    name = _metric(clock.metric)
    if clock.status == "not_applicable":
        return f"as of {when(clock.as_of)}: {name} not applicable — {clock.reason}"
    text = f"as of {when(clock.as_of)}: {name} {clock.status}"
    if clock.consumed is not None:
        text += f", {format_duration(clock.consumed, days=False)} counted"
    if clock.remaining is not None:
        text += f", {format_duration(clock.remaining, days=False)} left"
    if clock.breached_at is not None:
        text += f", overdue since {when(clock.breached_at)}"
    return text


def has_timeline(decision: Decision) -> bool:
    """Whether the ticket lived beyond its submission: events, pauses, several targets, or
    metrics beside the first response."""
    history, clocks = decision.history or (), decision.clocks or ()
    return any(h.event is not None for h in history) or bool(decision.held) or any(
        len(c.phases) > 1 or c.paused or c.cycles for c in clocks)


def clock_summaries(decision: Decision) -> list[str]:
    """One line per clock beside first_response (the summary's `sla` line tells that one)."""
    return [_state(c).split(": ", 1)[1] for c in (decision.clocks or ())[1:]]
