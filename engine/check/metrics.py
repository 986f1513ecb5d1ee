"""Check stage, `metrics:` — the SLA metrics a policy promises, checked into `Metric` models.

The schema has checked the shape; here: what each metric may start and stop on, its targets'
plans, levels, durations and calendars, and its warning threshold. Problems go to the policy
checker (`engine.check.semantic.SemanticChecker`) so they are reported with every other one.
"""

from __future__ import annotations

from typing import Protocol, TypedDict

from engine.core.diagnostics import Location, Severity, did_you_mean
from engine.core.diagnostics import escape_token as _esc
from engine.core.durations import parse_duration
from engine.core.model import METRICS, Metric, Plan, Source, Target

#: What may start each metric (the first is its default), and what fulfils it by default.
STARTS = {"first_response": ("submitted",), "next_response": ("customer_reply",),
          "resolution": ("submitted",)}
FULFILLED_BY = {"first_response": ("agent_reply",), "next_response": ("agent_reply",),
                "resolution": ("solved", "closed")}


class _Reporter(Protocol):
    levels: tuple[str, ...]
    calendars_raw: dict

    def error(self, code: str, message: str, pointer: str, *, rule: str | None = None,
              hint: str | None = None, key: bool = False, severity: Severity = "error") -> None: ...
    def calendar_ref(self, name: object, ptr: str, rule: str | None = None) -> None: ...
    def target(self, raw: str | dict, ptr: str, default_calendar: str | None,
               rule: str | None) -> Target | None: ...
    def source(self, raw: dict | None, ptr: str, rule: str | None) -> Source | None: ...
    def locate(self, ptr: str) -> Location: ...


def build_metrics(ck: _Reporter, raw: dict, plans: dict[str, Plan]) -> tuple[Metric, ...]:
    """The declared metrics in canonical order (first_response, next_response, resolution)."""
    out = []
    for name in METRICS:
        if name in raw:
            metric = _metric(ck, name, raw[name], f"/metrics/{name}", plans)
            if metric is not None:
                out.append(metric)
    return tuple(out)


class _Common(TypedDict):
    """What every metric, promised or not, is built with."""

    name: str
    title: str | None
    because: str | None
    source: Source | None
    location: Location


def _metric(ck: _Reporter, name: str, spec: dict, ptr: str,
            plans: dict[str, Plan]) -> Metric | None:
    common = _Common(name=name, title=spec.get("title"), because=spec.get("because"),
                     source=ck.source(spec.get("source"), f"{ptr}/source", None),
                     location=ck.locate(ptr))
    if "not_promised" in spec:
        if name == "first_response":
            ck.error("metric_not_promised", "`first_response` is promised by the plans' targets "
                     "and cannot be `not_promised`", f"{ptr}/not_promised",
                     hint="a plan without a guaranteed response says `guarantee: false`")
            return None
        return Metric(**common, not_promised=spec["not_promised"])
    starts = spec.get("starts", STARTS[name][0])
    if starts not in STARTS[name]:
        ck.error("metric_start", f"`{name}` starts on `{STARTS[name][0]}`, not `{starts}`",
                 f"{ptr}/starts", hint=f"write `starts: {STARTS[name][0]}` or leave it out")
    on_change = spec.get("on_priority_change", "from_start")
    on_raise, on_lower = (on_change, on_change) if isinstance(on_change, str) else (
        on_change.get("raise", "from_start"), on_change.get("lower", "from_start"))
    warn = spec.get("warn_before")
    warn_before = warn_fraction = None
    if isinstance(warn, str):
        try:
            warn_before = parse_duration(warn)
        except ValueError as exc:
            ck.error("bad_duration", str(exc), f"{ptr}/warn_before")
    elif warn is not None:
        warn_fraction = float(warn)
    targets = _targets(ck, name, spec, ptr, plans)
    return Metric(**common, starts=starts,
                  fulfilled_by=tuple(spec.get("fulfilled_by", FULFILLED_BY[name])),
                  pauses=tuple(spec.get("pauses", ())), reopen=spec.get("reopen", "keep"),
                  calendar=spec.get("calendar"), targets=targets, on_raise=on_raise,
                  on_lower=on_lower, warn_before=warn_before, warn_fraction=warn_fraction)


def _targets(ck: _Reporter, name: str, spec: dict, ptr: str,
             plans: dict[str, Plan]) -> dict:
    """plan -> level -> Target for next_response and resolution."""
    raw = spec.get("targets")
    calendar = spec.get("calendar")
    if calendar is not None:
        ck.calendar_ref(calendar, f"{ptr}/calendar")
    if name == "first_response":
        if raw is not None:
            ck.error("metric_targets", "`first_response` takes its targets from the plans and "
                     "rules", f"{ptr}/targets", key=True,
                     hint="write them under `plans: <plan>: targets`")
        return {}
    if not raw:
        ck.error("metric_targets", f"metric `{name}` declares no targets", ptr, key=True,
                 hint="add `targets: {<plan>: {<level>: PT8H}}`, or say "
                 "`not_promised: <why>`")
        return {}
    out: dict = {}
    for pid, by_level in raw.items():
        pptr = f"{ptr}/targets/{_esc(pid)}"
        plan = plans.get(pid)
        if plan is None:
            ck.error("unknown_plan", f"plan `{pid}` is not declared", pptr, key=True,
                     hint=did_you_mean(pid, plans) or f"plans: {', '.join(plans) or 'none'}")
            continue
        default = calendar or plan.calendar
        out[pid] = {}
        for level, raw_target in by_level.items():
            tptr = f"{pptr}/{_esc(level)}"
            if level not in ck.levels:
                ck.error("unknown_level", f"metric `{name}` sets a target for `{level}`, not a "
                         "level", tptr, key=True, hint=did_you_mean(level, ck.levels))
                continue
            if default is None and (isinstance(raw_target, str) or "calendar" not in raw_target):
                ck.error("missing_calendar", f"the `{name}` target of plan `{pid}` for {level} "
                         "has no calendar", tptr, hint=f"give plan `{pid}` a calendar, the "
                         "metric a `calendar`, or write `{within: PT8H, calendar: NAME}`")
                continue
            built = ck.target(raw_target, tptr, default, None)
            if built is not None:
                out[pid][level] = Target(built.within, built.calendar, name)
    return out
