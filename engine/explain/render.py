"""Explain stage: the trace is data; these are its renderers (text, markdown, json).

Every sentence about a decision is written here, from the record's structured events."""

from __future__ import annotations

import json

from engine.core.decision import Change, Decision, TraceEvent
from engine.core.durations import format_duration
from engine.core.model import _show
from engine.explain.timeline_story import clock_summaries, has_timeline, timeline_lines

_VERBS = {"assign": "assigned", "default": "defaulted to", "override": "overridden",
          "reclassify": "reclassified"}


def _matched(matched: tuple) -> str:
    shown = dict(matched)  # a fact tested twice (e.g. by an implicit test) is shown once
    return ", ".join(f"{path} is {_show(value)}" for path, value in shown.items())


def describe_change(change: Change) -> str:
    """One structured change as a phrase (`priority P1 → P3`, `offers phone`)."""
    f, before, after = change.field, change.before, change.after
    if f == "priority":
        return f"priority stays {after}" if before == after else \
            f"priority {before or 'none'} → {after}"
    if f == "plan":
        return f"plan in effect {before or 'none'} → {after}"
    if f in ("guaranteed", "sla"):
        return f"no guaranteed response: {change.reason}"
    if f == "target":
        if after is None and before is not None and change.reason:
            return (f"response target {before['within']} on `{before['calendar']}` discarded: "
                    f"{change.reason}")
        if after is None:
            return f"no response target: {change.reason}"
        text = f"response target {after['within']} on `{after['calendar']}`"
        return text + " (from the customer's contract)" if after["basis"] == "contract" else text
    if f == "channels.offered":
        return f"offers {', '.join(after)}"
    if f == "channels.withheld":
        return f"withholds {', '.join(after)}"
    if f == "channels":
        return "channels: " + (", ".join(after) or "none")
    if f == "obligations":
        return f"obligation on the {after['party']}: {after['duty']}"
    if f == "notes":
        return f"note: {after}"
    return f"{f} {_show(before)} → {_show(after)}"


def effect(event: TraceEvent) -> str:
    """What one step did, as one phrase list."""
    if event.kind == "no_match":
        return "no rule matched this ticket"
    return "; ".join(describe_change(c) for c in event.changes) or "no change"


def cite(event: TraceEvent, root: str | None = None) -> str | None:
    """`path:line` of the step's rule, under `root` (e.g. the policy's folder as the reader
    sees it) when given; the record itself never holds a working-directory path."""
    c = event.citation
    if c is None:
        return None
    return f"{root.rstrip('/')}/{c.path}:{c.line}" if root else f"{c.path}:{c.line}"


def story(decision: Decision, root: str | None = None) -> list[str]:
    """The trace as numbered sentences a reviewer can check."""
    pending: dict[str, list] = {}
    for a in decision.actions:  # in firing order, like the trace
        pending.setdefault(a.rule, []).append(a)
    lines = []
    for e in decision.trace:
        if e.rule is None:
            lines.append(f"{e.seq}. {effect(e)}")
            continue
        moved = any(c.field == "priority" and c.before != c.after for c in e.changes)
        action = pending[e.rule].pop(0) if moved and pending.get(e.rule) else None
        if action is not None:
            move = f"{action.from_} → {action.to}" if action.from_ else action.to
            what = f"{_VERBS[action.type]} {move}"
            rest = [describe_change(c) for c in e.changes if c.field != "priority"]
            if rest:
                what += "; " + "; ".join(rest)
        else:
            what = effect(e)
        text = f"{e.seq}. {what} by {e.rule} ({cite(e, root)})"
        if e.matched:
            text += f": {_matched(e.matched)}"
        if e.source:
            text += f" — \"{e.source['quote']}\""
            if e.source.get("gloss"):
                text += f" ({e.source['gloss']})"
        lines.append(text)
    return lines


def _summary(decision: Decision) -> list[str]:
    lines = [f"ticket {decision.ticket_id} under {decision.policy_id} "
             f"{decision.policy_version} ({decision.policy_digest[:19]}…)"]
    requested = decision.requested_priority or "none"
    lines.append(f"priority {decision.priority or 'none'} (requested {requested})")
    sla = decision.sla
    if sla is None:
        lines.append(f"sla: none — {decision.sla_reason or 'no target applies'}")
    else:
        text = (f"sla: first response within {format_duration(sla.target, days=False)} "
                f"({sla.clock} time on "
                f"`{sla.calendar}`, {sla.timezone}), due {sla.due_at.isoformat()}")
        if sla.met is not None:
            text += ", met" if sla.met else ", missed"
        if sla.remaining is not None:
            text += f", remaining {format_duration(sla.remaining, days=False)}"
        lines.append(text)
    lines += clock_summaries(decision)
    lines.append(f"channels: {', '.join(decision.channels) or 'none'}")
    for o in decision.obligations:
        lines.append(f"obligation ({o.party}): {o.duty}")
    for note in decision.notes:
        lines.append(f"note: {' '.join(note.split())}")
    if decision.ignored_fields:
        lines.append(f"ignored (not read by this policy): {', '.join(decision.ignored_fields)}")
    return lines


def render_text(decision: Decision, root: str | None = None) -> str:
    """The summary, the numbered story and, for a ticket with a life after its submission, the
    dated timeline; citations under `root` (see `cite`)."""
    out = [*_summary(decision), "", *story(decision, root)]
    if has_timeline(decision):
        out += ["", "timeline:", *(f"  {line}" for line in timeline_lines(decision, root))]
    return "\n".join(out) + "\n"


def render_markdown(decision: Decision, root: str | None = None) -> str:
    """For pasting into a ticket or an audit report."""
    out = [f"### Decision for ticket `{decision.ticket_id}`", ""]
    out += [f"- {line}" for line in _summary(decision)[1:]]
    out += ["", f"Policy `{decision.policy_id}` version {decision.policy_version}, "
            f"digest `{decision.policy_digest}`", "",
            "| # | rule | where | matched | effect | clause |", "|---|---|---|---|---|---|"]
    for e in decision.trace:
        clause = ""
        if e.source:
            clause = f"“{e.source['quote']}”" + (f" — {e.source['gloss']}" if e.source.get(
                "gloss") else "")
        cells = [str(e.seq), f"`{e.rule}`" if e.rule else "—", cite(e, root) or "—",
                 _matched(e.matched) or "—", effect(e), clause or "—"]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if has_timeline(decision):
        out += ["", "#### Timeline", "", "| when | what |", "|---|---|"]
        for line in timeline_lines(decision, root):
            moment, _, what = line.partition("  ")
            out.append(f"| {_cell(moment)} | {_cell(what)} |" if what else
                       f"| — | {_cell(moment)} |")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def render_json(decision: Decision, root: str | None = None) -> str:
    """The decision record and its story."""
    return json.dumps({"decision": decision.to_json(), "story": story(decision, root),
                       "timeline": timeline_lines(decision, root)},
                      indent=2, ensure_ascii=False) + "\n"


