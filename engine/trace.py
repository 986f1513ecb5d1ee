"""Explain stage: the trace is data; these are its renderers (text, markdown, json) and
the "why not" analysis of a rule that did not fire."""

from __future__ import annotations

import json

from .compiler import CompiledPolicy, to_dnf
from .decision import Decision
from .durations import format_duration
from .model import Test, _show

_VERBS = {"assign": "assigned", "default": "defaulted to", "override": "overridden",
          "reclassify": "reclassified"}


def _matched(matched: tuple) -> str:
    return ", ".join(f"{path} is {_show(value)}" for path, value in matched)


def story(decision: Decision) -> list[str]:
    """The trace as numbered sentences a reviewer can check."""
    by_rule = {a.rule: a for a in decision.actions}
    lines = []
    for e in decision.trace:
        if e.rule is None:
            lines.append(f"{e.seq}. {e.effect}")
            continue
        action = by_rule.get(e.rule)
        if action is not None:
            move = f"{action.from_} → {action.to}" if action.from_ else action.to
            what = f"{_VERBS[action.type]} {move}"
            rest = [x for x in e.effect.split("; ") if not x.startswith("priority ")]
            if rest:
                what += "; " + "; ".join(rest)
        else:
            what = e.effect
        text = f"{e.seq}. {what} by {e.rule} ({e.at})"
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
        lines.append(f"sla: none — {decision.outcome.sla_reason or 'no target applies'}")
    else:
        text = (f"sla: first response within {format_duration(sla.target, days=False)} "
                f"({sla.clock} time on "
                f"`{sla.calendar}`, {sla.timezone}), due {sla.due_at.isoformat()}")
        if sla.met is not None:
            text += ", met" if sla.met else ", missed"
        if sla.remaining is not None:
            text += f", remaining {format_duration(sla.remaining, days=False)}"
        lines.append(text)
    lines.append(f"channels: {', '.join(decision.channels) or 'none'}")
    for o in decision.outcome.obligations:
        lines.append(f"obligation ({o['party']}): {o['duty']}")
    return lines


def render_text(decision: Decision) -> str:
    return "\n".join([*_summary(decision), "", *story(decision)]) + "\n"


def render_markdown(decision: Decision) -> str:
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
        cells = [str(e.seq), f"`{e.rule}`" if e.rule else "—", e.at or "—",
                 _matched(e.matched) or "—", e.effect, clause or "—"]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def render_json(decision: Decision) -> str:
    return json.dumps({"decision": decision.to_json(), "story": story(decision)}, indent=2,
                      ensure_ascii=False) + "\n"


def _priority_history(decision: Decision) -> list[str | None]:
    history: list[str | None] = [None]
    for a in decision.actions:
        history.append(a.to)
    return history


def why_not(policy: CompiledPolicy, decision: Decision, rule_id: str,
            ticket_values: dict) -> dict:
    """Why a rule did not fire: each alternative's failing tests with the fact values seen."""
    rules = [r for r in policy.rules if r.id == rule_id or r.group == rule_id and
             r.origin == "table"]
    if not rules:
        raise KeyError(rule_id)
    history = _priority_history(decision)
    derived = {"entitlement.plan": [decision.outcome.plan],
               "entitlement.guaranteed": [decision.outcome.guaranteed]}
    reports = []
    for rule in rules:
        report: dict = {"rule": rule.id, "at": f"{rule.location.file}:{rule.location.line}"}
        if rule.id in decision.fired:
            seq = next(e.seq for e in decision.trace if e.rule == rule.id)
            report["fired"] = True
            report["explanation"] = f"`{rule.id}` fired at step {seq}"
            reports.append(report)
            continue
        report["fired"] = False
        suppressed = [why for rid, why in decision.outcome.suppressed if rid == rule.id]
        if suppressed:
            report["explanation"] = f"`{rule.id}` matched but did not fire: {suppressed[0]}"
            reports.append(report)
            continue
        alternatives = []
        for conj in to_dnf(rule.when):
            failing = []
            for t in conj:
                seen = history if t.path == "priority" else derived.get(t.path,
                                                                        [ticket_values.get(t.path)])
                if not any(t.holds(v) for v in seen):
                    failing.append(_failure(t, seen))
            alternatives.append(failing)
        report["alternatives"] = [{"failed": f} for f in alternatives]
        if all(alternatives):
            first = alternatives[0]
            report["explanation"] = (f"`{rule.id}` did not fire: " + "; ".join(
                f["text"] for f in first) + (" (and every other alternative failed too)"
                                             if len(alternatives) > 1 else ""))
        else:
            report["explanation"] = (f"`{rule.id}` did not fire although its conditions held "
                                     "on the facts at some point: its stage had passed or the "
                                     "order of firing prevented it")
        reports.append(report)
    return {"rule": rule_id, "reports": reports}


def _failure(t: Test, seen: list) -> dict:
    if t.path == "priority":
        held = " → ".join(v or "none" for v in seen)
        text = f"needs {t.describe()}, but priority was {held}"
    else:
        value = seen[-1]
        text = f"needs {t.describe()}, but {t.path} is {_show(value)}"
    return {"fact": t.path, "test": t.describe(), "values": seen, "text": text}


def render_why_not(report: dict, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    lines = []
    for r in report["reports"]:
        prefix = "- " if fmt == "markdown" else ""
        lines.append(f"{prefix}{r['explanation']} ({r['at']})")
        for i, alt in enumerate(r.get("alternatives", [])):
            if len(r["alternatives"]) > 1:
                lines.append(f"  alternative {i + 1}: " + (
                    "; ".join(f["text"] for f in alt["failed"]) or "holds"))
    return "\n".join(lines) + "\n"
