"""Why a rule did not fire: each alternative's failing tests, judged by the values the facts
held while the rule's stage ran."""

from __future__ import annotations

import json

from engine.compile.compiler import CompiledPolicy
from engine.core.decision import Decision
from engine.core.model import STAGES, Test, _show


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
    plan: list[tuple[object, str | None]]
    guaranteed: list[tuple[object, str | None]]
    initial_plan = ticket_values.get("plan") or policy.policy.default_plan
    if order < entitle:
        plan, guaranteed = [(initial_plan, None)], [(True, None)]
    elif order == entitle:
        plan = [(initial_plan, None)] + ([(decision.plan, "a `use_plan`")]
                                         if decision.plan != initial_plan else [])
        guaranteed = [(True, None)] + ([(False, "a `no_guarantee`")]
                                       if not decision.outcome.guaranteed else [])
    else:
        plan, guaranteed = [(decision.plan, None)], [(decision.outcome.guaranteed, None)]
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
        suppressed = [why for rid, why in decision.suppressed if rid == rule.id]
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
