"""Check stage, the semantic checks of declarations: a schema-valid policy's facts, levels,
calendars, plans, targets and sources, checked and built into model values.

`engine.check.semantic` builds on it (conditions, rules, tables, the `Policy`).
"""

from __future__ import annotations

import engine.calendars as cal
from engine.check.fields import check_ignore_fields
from engine.core.diagnostics import Diagnostic, Location, Severity, did_you_mean
from engine.core.diagnostics import escape_token as _esc
from engine.core.durations import check_target, parse_duration
from engine.core.facts import CORE_FACTS, DERIVED_FACTS, ENGINE_NAMES, FactSpec
from engine.core.model import Plan, Source, Target
from engine.load import Document


class Declarations:
    """What a schema-valid policy declares, checked and built: facts, ignored fields, levels,
    calendars, plans and their targets, sources; and the references to them. Every problem is
    collected in `diags` (see `error`)."""

    def __init__(self, doc: Document):
        self.doc = doc
        assert isinstance(doc.data, dict)   # the schema checks found a mapping
        self.data: dict = doc.data
        self.diags: list[Diagnostic] = []
        self.levels: tuple[str, ...] = tuple(self.data["levels"])
        self.plans_raw: dict = self.data.get("plans") or {}
        self.calendars_raw: dict = self.data.get("calendars") or {}
        self.sources = {s["id"]: s for s in self.data["sources"]}
        self.facts: dict[str, FactSpec] = {f.path: f for f in (*CORE_FACTS, *DERIVED_FACTS)}
        self.rule_ids: dict[str, str] = {}

    def locate(self, pointer: str) -> Location:
        return self.doc.locate(pointer)

    def error(self, code: str, message: str, pointer: str, *, rule: str | None = None,
              hint: str | None = None, key: bool = False, severity: Severity = "error") -> None:
        self.diags.append(Diagnostic(code, message, severity=severity,
                                     location=self.doc.locate(pointer, key=key), rule=rule,
                                     hint=hint))

    # ---- declarations -------------------------------------------------------------------
    def declared_facts(self) -> None:
        for name, decl in (self.data.get("facts") or {}).items():
            ptr = f"/facts/{_esc(name)}"
            if name.split(".")[0] in ENGINE_NAMES:
                self.error("fact_reserved", f"`{name.split('.')[0]}` is a name the engine uses "
                           "for its own facts", ptr, key=True, hint=f"rename it, e.g. "
                           f"`{name.split('.')[0]}_type`")
                continue
            if name in self.facts or name.split(".")[0] in ("priority", "entitlement"):
                self.error("fact_redeclared", f"fact `{name}` is a core or derived fact and "
                           "cannot be redeclared", ptr, key=True)
                continue
            parent = name.split(".")[0]
            if any(p.startswith(name + ".") for p in self.facts) or (
                    "." in name and parent in self.facts):
                self.error("fact_redeclared", f"fact `{name}` clashes with an existing fact path",
                           ptr, key=True)
                continue
            ftype = decl["type"]
            enum = tuple(decl.get("enum") or ())
            for i, value in enumerate(enum):
                if not literal_fits(ftype, value):
                    self.error("type_mismatch", f"enum value `{value}` of `{name}` is not "
                               f"{article(ftype)}", f"{ptr}/enum/{i}")
            default = decl.get("default")
            if default is not None and (not literal_fits(ftype, default) or
                                        enum and default not in enum):
                self.error("bad_default", f"default `{default}` of `{name}` is not "
                           + ("one of its values" if enum else f"a {ftype}"),
                           f"{ptr}/default", hint=did_you_mean(default, [str(e) for e in enum]))
            self.facts[name] = FactSpec(name, ftype, enum, default=decl.get("default"),
                                        description=decl.get("description", ""),
                                        minimum=decl.get("minimum"), maximum=decl.get("maximum"))

    def ignored_fields(self) -> tuple[str, ...]:
        """`ignore_fields`: ticket fields the policy knowingly ignores."""
        raw = self.data.get("ignore_fields") or ()
        for i, (code, message, hint, severity) in check_ignore_fields(raw, self.facts):
            self.error(code, message, f"/ignore_fields/{i}", hint=hint, severity=severity)
        return tuple(raw)

    def check_levels(self) -> None:
        for level in self.data.get("level_titles") or {}:
            if level not in self.levels:
                self.error("unknown_level", f"`level_titles` names `{level}`, not a level",
                           f"/level_titles/{_esc(level)}", key=True,
                           hint=did_you_mean(level, self.levels))

    def build_calendars(self) -> dict:
        built = {}
        for name, spec in self.calendars_raw.items():
            ptr = f"/calendars/{_esc(name)}"
            if isinstance(spec, dict):  # metadata, not arithmetic
                spec = {k: v for k, v in spec.items() if k != "description"}
            issues = cal.check_calendar_spec(spec)
            for suffix, code, message, hint in issues:
                self.error(code, message, ptr + suffix, hint=hint)
            if not issues:
                built[name] = cal.build_calendar(name, spec)
        return built

    def calendar_ref(self, name: object, ptr: str, rule: str | None = None) -> None:
        if name not in self.calendars_raw:
            self.error("unknown_calendar", f"calendar `{name}` is not declared", ptr, rule=rule,
                       hint=did_you_mean(name, self.calendars_raw) or
                       f"calendars: {', '.join(self.calendars_raw) or 'none declared'}")

    def level_ref(self, level: object, ptr: str, rule: str | None = None) -> None:
        if level not in self.levels:
            self.error("unknown_level", f"`{level}` is not a level of this policy", ptr,
                       rule=rule, hint=did_you_mean(level, self.levels) or
                       f"levels: {', '.join(self.levels)}")

    def plan_ref(self, plan: object, ptr: str, rule: str | None = None) -> None:
        if plan not in self.plans_raw:
            self.error("unknown_plan", f"plan `{plan}` is not declared", ptr, rule=rule,
                       hint=did_you_mean(plan, self.plans_raw) or
                       f"plans: {', '.join(self.plans_raw) or 'none declared'}")

    def source(self, raw: dict | None, ptr: str, rule: str | None) -> Source | None:
        if not raw:
            return None
        doc_id = raw["document"]
        if doc_id not in self.sources:
            self.error("unknown_source", f"source document `{doc_id}` is not listed in `sources`",
                       f"{ptr}/document", rule=rule, hint=did_you_mean(doc_id, self.sources))
        return Source(document=doc_id, quote=raw["quote"], gloss=raw.get("gloss"),
                      section=raw.get("section"),
                      title=(self.sources.get(doc_id) or {}).get("title"))

    def target(self, raw: str | dict, ptr: str, default_calendar: str | None,
               rule: str | None) -> Target | None:
        within, calendar = (raw, default_calendar) if isinstance(raw, str) else (
            raw["within"], raw.get("calendar", default_calendar))
        wptr = ptr if isinstance(raw, str) else f"{ptr}/within"
        if within == "contract":  # the customer's quote, for the ticket's level
            if calendar is None and rule is None:
                self.error("missing_calendar", "a contract target needs a calendar", ptr,
                           hint="give the plan a `calendar`, or write "
                           "`{within: contract, calendar: NAME}`")
                return None
            if isinstance(raw, dict) and "calendar" in raw:
                self.calendar_ref(calendar, f"{ptr}/calendar", rule)
            return Target(None, calendar)
        try:
            duration = parse_duration(within)
        except ValueError as exc:
            self.error("bad_duration", str(exc), wptr, rule=rule)
            return None
        try:
            check_target(within, duration)
        except ValueError as exc:
            self.error("bad_duration", str(exc), wptr, rule=rule)
            return None
        if calendar is None and rule is None:  # a plan's target; a rule's uses the plan's calendar
            self.error("missing_calendar", "a target needs a calendar", ptr, rule=rule,
                       hint="give the plan a `calendar`, or write `{within: PT1H, calendar: NAME}`")
            return None
        if isinstance(raw, dict) and "calendar" in raw:  # the plan's own was checked already
            self.calendar_ref(calendar, f"{ptr}/calendar", rule)
        return Target(duration, calendar)

    def build_plans(self) -> dict:
        plans = {}
        for pid, raw in self.plans_raw.items():
            ptr = f"/plans/{_esc(pid)}"
            calendar = raw.get("calendar")
            if calendar is not None:
                self.calendar_ref(calendar, f"{ptr}/calendar")
            targets_raw = raw.get("targets")
            targets: dict | str | None = None
            cited: dict = {}
            if targets_raw == "contract":
                targets = "contract"
                if calendar is None:
                    self.error("missing_calendar", f"plan `{pid}` takes contract targets but "
                               "names no calendar", ptr, hint="add `calendar: NAME`")
            elif isinstance(targets_raw, dict):
                targets = {}
                for level, t in targets_raw.items():
                    tptr = f"{ptr}/targets/{_esc(level)}"
                    if level not in self.levels:
                        self.error("unknown_level", f"plan `{pid}` sets a target for `{level}`, "
                                   "not a level", tptr, key=True,
                                   hint=did_you_mean(level, self.levels))
                        continue
                    built = self.target(t, tptr, calendar, None)
                    if built:
                        targets[level] = built
                    if isinstance(t, dict) and ("because" in t or "source" in t):
                        cited[level] = (t.get("because"),
                                        self.source(t.get("source"), f"{tptr}/source", None))
            guarantee = raw.get("guarantee", True)
            if not guarantee and targets:
                self.error("plan_guarantee_conflict", f"plan `{pid}` has `guarantee: false` "
                           "and targets", f"{ptr}/guarantee", hint="remove one of them")
            plans[pid] = Plan(id=pid, title=raw.get("title"),
                              channels=tuple(raw.get("channels") or ()), calendar=calendar,
                              guarantee=guarantee, targets=targets, location=self.doc.locate(ptr),
                              source=self.source(raw.get("source"), f"{ptr}/source", None),
                              cited=cited)
        default_plan = self.data.get("default_plan")
        if default_plan is not None:
            self.plan_ref(default_plan, "/default_plan")
        return plans


def article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def literal_fits(ftype: str, v: object) -> bool:
    if ftype == "boolean":
        return isinstance(v, bool)
    if ftype == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if ftype == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, str)
