"""Explain stage: the trace is data; these are its renderers (text, markdown, json) and
the "why not" analysis of a rule that did not fire."""

from __future__ import annotations

import json

from engine.compile.compiler import CompiledPolicy
from engine.core.decision import Decision
from engine.core.durations import format_duration
from engine.core.model import STAGES, Test, _show

_VERBS = {"assign": "assigned", "default": "defaulted to", "override": "overridden",
          "reclassify": "reclassified"}


def _matched(matched: tuple) -> str:
    shown = dict(matched)  # a fact tested twice (e.g. by an implicit test) is shown once
    return ", ".join(f"{path} is {_show(value)}" for path, value in shown.items())


def story(decision: Decision) -> list[str]:
    """The trace as numbered sentences a reviewer can check."""
    pending: dict[str, list] = {}
    for a in decision.actions:  # in firing order, like the trace
        pending.setdefault(a.rule, []).append(a)
    lines = []
    for e in decision.trace:
        if e.rule is None:
            lines.append(f"{e.seq}. {e.effect}")
            continue
        changes = any(part.startswith("priority ") and "→" in part
                      for part in e.effect.split("; "))
        action = pending[e.rule].pop(0) if changes and pending.get(e.rule) else None
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
    for note in decision.outcome.notes:
        lines.append(f"note: {' '.join(note.split())}")
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
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def render_json(decision: Decision) -> str:
    return json.dumps({"decision": decision.to_json(), "story": story(decision)}, indent=2,
                      ensure_ascii=False) + "\n"


def _seen_during(policy: CompiledPolicy, decision: Decision, ticket_values: dict,
                 stage: str) -> dict[str, list[tuple[object, str | None]]]:
    """The values each derived fact held while `stage` ran, each with the step that set it.

    Stages only move forward, so a rule saw the value left by earlier stages and those set
    during its own stage."""
    order = STAGES.index(stage)
    stage_of = {r.id: STAGES.index(r.stage) for r in policy.rules}
    step_of = {e.rule: e.seq for e in decision.trace if e.rule}
    priority: list[tuple[object, str | None]] = [(None, None)]
    for a in decision.actions:
        where = f"step {step_of.get(a.rule)} by `{a.rule}`"
        if stage_of[a.rule] < order:
            priority = [(a.to, where)]
        elif stage_of[a.rule] == order:
            priority.append((a.to, where))
    entitle = STAGES.index("entitle")
    initial_plan = ticket_values.get("plan") or policy.policy.default_plan
    o = decision.outcome
    if order < entitle:
        plan, guaranteed = [(initial_plan, None)], [(True, None)]
    elif order == entitle:
        plan = [(initial_plan, None)] + ([(o.plan, "a `use_plan`")]
                                         if o.plan != initial_plan else [])
        guaranteed = [(True, None)] + ([(False, "a `no_guarantee`")] if not o.guaranteed else [])
    else:
        plan, guaranteed = [(o.plan, None)], [(o.guaranteed, None)]
    return {"priority": priority, "entitlement.plan": plan, "entitlement.guaranteed": guaranteed}


def why_not(policy: CompiledPolicy, decision: Decision, rule_id: str,
            ticket_values: dict) -> dict:
    """Why a rule (or every rule of a group or table) did not fire: each alternative's failing
    tests, with the values the facts held while the rule's stage ran."""
    rules = [r for r in policy.rules if rule_id in (r.id, r.group)]
    if not rules:
        raise KeyError(rule_id)
    index = {id(r): i for i, r in enumerate(policy.rules)}
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
        # what the engine evaluated: the compiled alternatives, implicit tests included
        alternatives_tests = [cr.tests for cr in policy.compiled
                              if cr.rule_index == index[id(rule)]]
        if not alternatives_tests:
            report["explanation"] = f"`{rule.id}` can never fire: its conditions contradict"
            reports.append(report)
            continue
        seen = _seen_during(policy, decision, ticket_values, rule.stage)
        alternatives = []
        for conj in alternatives_tests:
            failing = []
            for t in conj:
                values = seen.get(t.path) or [(ticket_values.get(t.path), None)]
                if not any(t.holds(v) for v, _ in values):
                    failing.append(_failure(t, values, rule.stage))
            alternatives.append(failing)
        report["alternatives"] = [{"failed": f} for f in alternatives]
        if all(alternatives):
            report["explanation"] = (f"`{rule.id}` did not fire: " + "; ".join(
                f["text"] for f in alternatives[0]) + (" (and every other alternative failed too)"
                                                       if len(alternatives) > 1 else ""))
        else:
            report["explanation"] = (f"`{rule.id}` did not fire although its conditions held "
                                     f"during its stage `{rule.stage}`: it is at most once per "
                                     "ticket and a rule of its stage changed a fact it needed "
                                     "first")
        reports.append(report)
    return {"rule": rule_id, "reports": reports}


def _failure(t: Test, values: list[tuple[object, str | None]], stage: str) -> dict:
    shown = []
    for value, where in values:
        shown.append(_show(value) if where is None else f"{_show(value)} ({where})")
    held = " then ".join(shown)
    if t.path in ("priority", "entitlement.plan", "entitlement.guaranteed"):
        text = f"needs {t.describe()}, but {t.path} was {held} when its stage `{stage}` ran"
    else:
        text = f"needs {t.describe()}, but {t.path} is {held}"
    return {"fact": t.path, "test": t.describe(), "values": [v for v, _ in values],
            "text": text}


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
