"""What the pages show, as plain data for the templates: a decision's summary and numbered
story (each clause quoted in its language, with its gloss), why-not reports, clock pictures,
and a policy's levels, plans, targets, decision tables and rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.adapters.ui.clock_picture import Picture, picture
from engine.compile.compiler import CompiledPolicy
from engine.core.decision import Decision, TraceEvent
from engine.core.durations import format_duration
from engine.core.model import _show
from engine.explain import render
from engine.explain import why_not as explain_why_not
from engine.explain.timeline_story import has_timeline, timeline_lines


@dataclass(frozen=True)
class Clause:
    quote: str
    gloss: str | None
    language: str | None
    document: str | None
    section: str | None


@dataclass(frozen=True)
class Step:
    seq: int
    rule: str | None
    citation: str | None
    effect: str
    matched: str
    clause: Clause | None


def clause(policy: CompiledPolicy | None, source: dict | None) -> Clause | None:
    if not source:
        return None
    doc = source.get("document")
    meta = (policy.policy.sources.get(doc) or {}) if policy is not None and doc else {}
    return Clause(source.get("quote") or "", source.get("gloss"), meta.get("language"),
                  source.get("title") or meta.get("title") or doc, source.get("section"))


def steps(decision: Decision, policy: CompiledPolicy | None) -> list[Step]:
    """The trace as numbered steps: what each did, by which rule, where it is written."""
    out = []
    for e in decision.trace:
        out.append(Step(e.seq, e.rule, render.cite(e), render.effect(e), _matched(e),
                        clause(policy, e.source)))
    return out


def _matched(e: TraceEvent) -> str:
    return ", ".join(f"{path} is {_show(value)}" for path, value in dict(e.matched).items())


def summary(decision: Decision) -> list[tuple[str, str]]:
    """(label, value) rows of the decision's outcome."""
    rows = [("ticket", decision.ticket_id),
            ("policy", f"{decision.policy_id} {decision.policy_version}"),
            ("priority", f"{decision.priority or 'none'} (requested "
                         f"{decision.requested_priority or 'none'})"),
            ("plan", decision.plan or "none")]
    sla = decision.sla
    if sla is None:
        rows.append(("SLA", f"none — {decision.sla_reason or 'no target applies'}"))
    else:
        text = (f"first response within {format_duration(sla.target, days=False)} "
                f"({sla.clock} time on {sla.calendar}, {sla.timezone}), due "
                f"{sla.due_at.isoformat()} — {sla.status}")
        if sla.remaining is not None:
            text += f", remaining {format_duration(sla.remaining, days=False)}"
        rows.append(("SLA", text))
    rows.append(("channels", ", ".join(decision.channels) or "none"))
    rows += [(f"obligation ({o.party})", o.duty) for o in decision.obligations]
    rows += [("note", " ".join(n.split())) for n in decision.notes]
    if decision.ignored_fields:
        rows.append(("ignored fields", ", ".join(decision.ignored_fields)))
    return rows


def why_nots(policy: CompiledPolicy, decision: Decision, values: dict | None) -> list[dict]:
    """For every rule that did not fire: its explanation and failing tests (shown on demand)."""
    if values is None:
        return []
    out = []
    for rule in policy.rules:
        if rule.id in decision.fired:
            continue
        report = explain_why_not.why_not(policy, decision, rule.id, values)
        for r in report["reports"]:
            if r["rule"] != rule.id:
                continue
            alts = [[f["text"] for f in alt["failed"]] for alt in r.get("alternatives", [])]
            out.append({"rule": rule.id, "explanation": r["explanation"], "at": r["at"],
                        "alternatives": alts})
    return out


def pictures(decision: Decision, policy: CompiledPolicy | None,
             now: datetime | None = None) -> list[Picture]:
    """One clock picture per metric with a start (the first-response clock first)."""
    specs = policy.policy.calendar_specs if policy is not None else {}
    out = []
    for c in decision.clocks or ():
        pic = picture(c, specs.get(c.calendar) if c.calendar else None,
                      decision.history or (), now or decision.now)
        if pic is not None:
            out.append(pic)
    return out


def timeline(decision: Decision) -> list[str]:
    return timeline_lines(decision) if has_timeline(decision) else []


# --------------------------------------------------------------------------- the policy view


def _target_text(target: object) -> str:
    within = getattr(target, "within", None)
    calendar = getattr(target, "calendar", None)
    if within is None:
        return "contract"
    text = format_duration(within, days=False)
    return f"{text} ({calendar})" if calendar else text


def _cell(value: object) -> str:
    if value == "*":
        return "any"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    return _show(value) if not isinstance(value, str) else value


def policy_view(cp: CompiledPolicy) -> dict:
    """Levels, plans and targets as tables, decision tables as grids, rules with citations."""
    p = cp.policy
    levels = [(lv, (p.level_titles or {}).get(lv, "")) for lv in p.levels]
    plans = []
    for pid, plan in p.plans.items():
        targets = plan.targets if isinstance(plan.targets, dict) else {}
        plans.append({"id": pid, "title": plan.title or "", "channels": ", ".join(plan.channels),
                      "calendar": plan.calendar or "", "guarantee": plan.guarantee,
                      "targets": [_target_text(targets.get(lv)) if lv in targets else
                                  ("contract" if plan.targets == "contract" else "—")
                                  for lv in p.levels],
                      "clause": clause(cp, plan.source.to_json() if plan.source else None)})
    tables: list[dict] = []
    for t in p.raw.get("tables") or ():
        inputs = [str(i) for i in t.get("inputs") or ()]
        tables.append({"id": str(t.get("id")), "hit": str(t.get("hit", "")),
                       "action": str(t.get("action", "")), "inputs": inputs,
                       "rows": [[_cell(c) for c in row] for row in t.get("rows") or ()],
                       "because": str(t.get("because") or "")})
    for t in tables:   # the table's rows are rules of its group: cite them, quote it once
        rows = [r for r in p.rules if r.origin == "table" and r.group == t["id"]]
        if rows:
            t["citation"] = f"{rows[0].location.file}:{rows[0].location.line}"
            t["clause"] = clause(cp, rows[0].source.to_json() if rows[0].source else None)
    rules = [{"id": r.id, "stage": r.stage, "origin": r.origin, "group": r.group or "",
              "when": _when(r), "then": "; ".join(_action(a) for a in r.actions),
              "citation": f"{r.location.file}:{r.location.line}", "because": r.because or "",
              "clause": clause(cp, r.source.to_json() if r.source else None)}
             for r in p.rules if r.origin == "rule"]
    calendars = [(name, cal.describe()) for name, cal in p.calendars.items()]
    return {"id": cp.id, "title": p.title, "version": cp.version, "digest": cp.digest,
            "description": " ".join(str(p.raw.get("description") or "").split()),
            "levels": levels, "plans": plans, "tables": tables, "rules": rules,
            "calendars": calendars, "default_plan": p.default_plan or ""}


def _when(rule) -> str:
    if rule.when is None:
        return "always"
    return ", ".join(t.describe() for t in rule.when.tests())


def _action(action) -> str:
    value = action.value
    if isinstance(value, dict) and "fact" in value:
        return f"{action.kind} the value of {value['fact']}"
    if isinstance(value, tuple):
        return f"{action.kind} " + ", ".join(
            " ".join(str(x) for x in v) if isinstance(v, tuple) else str(v) for v in value)
    return f"{action.kind} {_show(value)}"
