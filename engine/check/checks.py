"""Check stage: JSON Schema first (errors translated onto the YAML marks), then meaning.

`check_document` collects every problem it can find and returns the immutable `Policy` model only
when there is no error.
"""

from __future__ import annotations

import json
from functools import cache

import jsonschema

import engine.calendars as cal
from engine.check.fields import check_ignore_fields
from engine.check.metrics import build_metrics
from engine.check.versions import check_dating_and_audit
from engine.core.diagnostics import Diagnostic, Location, did_you_mean, pointer_join
from engine.core.diagnostics import escape_token as _esc
from engine.core.durations import check_target, parse_duration
from engine.core.facts import (
    CORE_FACTS,
    DERIVED_FACTS,
    ENGINE_NAMES,
    NOT_CONDITIONABLE,
    FactSpec,
    engine_number_problem,
)
from engine.core.model import (
    PRIORITY_ACTIONS,
    STAGES,
    Action,
    AddNote,
    AddObligations,
    Condition,
    NoGuarantee,
    OfferChannels,
    Plan,
    Policy,
    Rule,
    SetPriority,
    SetTarget,
    Source,
    Target,
    Test,
    UsePlan,
    WithholdChannels,
)
from engine.core.paths import data_dir
from engine.load import Document

SCHEMA_DIR = data_dir("schemas")
DEFAULT_MAX_FIRINGS = 100
_PATTERN_NAMES = {
    "duration": "an ISO 8601 duration such as `PT3H` or `PT30M`",
    "identifier": "an identifier (letters, digits, `_`, `.`, `-`)",
    "interval": "an interval `HH:MM-HH:MM`",
    "factName": "a fact path such as `customer.segment`",
    "dayRange": "a day or range of days such as `mon` or `mon-fri`",
    "lintReason": "a reason: why the finding is intended",
}
_DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "mon-fri", "sat-sun", "mon-sun"]


@cache
def policy_schema() -> dict:
    return json.loads((SCHEMA_DIR / "policy.schema.json").read_text("utf-8"))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(policy_schema())


def _pointer(path) -> str:
    return pointer_join("", *path)


def _mismatched(branch: list[jsonschema.ValidationError], depth: int) -> bool:
    """Does this oneOf branch expect another kind of value than the author wrote?"""
    for e in branch:
        if len(e.absolute_path) != depth:
            continue
        if e.validator == "type":
            return True
        if e.validator in ("enum", "const") and isinstance(e.instance, (dict, list)):
            return True
    return False


def _pick(error: jsonschema.ValidationError) -> tuple[jsonschema.ValidationError, set[str]]:
    """For oneOf/anyOf, the error of the branch the author most likely meant: a branch whose
    kind of value fits, with the fewest errors. Also every property name the sibling branches
    allow at that place, for "did you mean" hints."""
    names: set[str] = set()
    while error.validator in ("oneOf", "anyOf") and error.context:
        depth = len(error.absolute_path)
        branches: dict[object, list[jsonschema.ValidationError]] = {}
        for e in error.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
            if e.validator == "additionalProperties":
                names |= set((e.schema.get("properties") or {}).keys())
        fitting = [b for b in branches.values() if not _mismatched(b, depth)]
        best = min(fitting or list(branches.values()), key=len)
        error = max(best, key=lambda e: (len(e.absolute_path), e.validator != "required"))
    return error, names


def schema_diagnostics(doc: Document) -> list[Diagnostic]:
    """Every JSON Schema violation as one diagnostic at its YAML location, one per place."""
    seen: dict[tuple, Diagnostic] = {}
    for raw in _validator().iter_errors(doc.data):
        err, names = _pick(raw)
        for diag in _translate(doc, err, names):
            key = (diag.location.line, diag.location.column, diag.code, diag.message)
            seen.setdefault(key, diag)
    return list(seen.values())


def _translate(doc: Document, err: jsonschema.ValidationError,
               sibling_names: set[str] = frozenset()  # type: ignore[assignment]
               ) -> list[Diagnostic]:
    """One schema error as diagnostics (an unknown-properties error names each property)."""
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = list((err.schema.get("properties") or {}).keys())
        return [_unknown_property(doc, err, name, allowed, sibling_names)
                for name in err.instance if name not in allowed]
    if err.validator == "not" and not isinstance(err.instance, dict):
        return []  # the type error at the same place says it better
    return [_translate_one(doc, err, sibling_names)]


def _where(err: jsonschema.ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
    return where.lstrip(".") or "the policy"


def _unknown_property(doc: Document, err: jsonschema.ValidationError, name: str,
                      allowed: list[str], sibling_names: set[str]) -> Diagnostic:
    ptr = _pointer(err.absolute_path)
    others = sorted(set(sibling_names) - set(allowed))
    if name in others:
        hint = (f"`{name}` belongs to another form of `{_where(err)}` and cannot be combined "
                "with the keys written here")
    else:
        hint = did_you_mean(name, allowed) or did_you_mean(name, others) or (
            f"allowed: {', '.join(allowed)}" if allowed else None)
    return Diagnostic("schema_unknown_property", f"unknown property `{name}` in `{_where(err)}`",
                      location=doc.locate(f"{ptr}/{_esc(name)}", key=True), hint=hint,
                      rule=_rule_id(doc.data, err.absolute_path))


def _translate_one(doc: Document, err: jsonschema.ValidationError,
                   sibling_names: set[str]) -> Diagnostic:
    ptr = _pointer(err.absolute_path)
    where = _where(err)
    v = err.validator
    hint = None
    rule = _rule_id(doc.data, err.absolute_path)
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        owner = where if where == "the policy" else f"`{where}`"
        return Diagnostic("schema_required", f"{owner} is missing required property `{missing}`",
                          location=doc.locate(ptr), rule=rule)
    if v == "enum":
        choices = [str(c) for c in err.validator_value]
        hint = did_you_mean(err.instance, choices) or f"expected one of {', '.join(choices)}"
        return Diagnostic("schema_enum", f"`{where}` is `{err.instance}`, not an allowed value",
                          location=doc.locate(ptr), hint=hint, rule=rule)
    if v == "type":
        expected = err.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        shown = " or ".join(_YAML_TYPES.get(t, t) for t in expected)
        return Diagnostic("schema_type", f"`{where}` must be {shown}, got "
                          f"`{json.dumps(err.instance, default=str)[:60]}`",
                          location=doc.locate(ptr), rule=rule)
    if v == "pattern":
        kind = _pattern_kind(err.validator_value)
        if kind.startswith("a day"):
            hint = did_you_mean(err.instance, _DAY_KEYS)
        return Diagnostic("schema_pattern", f"`{where}` is `{err.instance}`, expected {kind}",
                          location=doc.locate(ptr), rule=rule, hint=hint)
    if v == "uniqueItems" and isinstance(err.instance, list):
        repeated = sorted({str(x) for x in err.instance if err.instance.count(x) > 1})
        return Diagnostic("schema_duplicate_items", f"`{where}` lists "
                          f"{', '.join(f'`{x}`' for x in repeated)} more than once",
                          location=doc.locate(ptr), rule=rule, hint="list each value once")
    if v == "propertyNames":
        return Diagnostic("schema_property_name", f"`{err.instance}` is not a valid name in "
                          f"`{where}`", location=doc.locate(ptr), rule=rule)
    if v == "not" and isinstance(err.instance, dict):
        kinds = [k for k in PRIORITY_ACTIONS if k in err.instance]
        return Diagnostic("schema_conflicting_actions", f"a rule changes the priority once: "
                          f"`{'` and `'.join(kinds)}` in one `then`", location=doc.locate(ptr),
                          hint="split them into two rules", rule=rule)
    message = err.message[:1].lower() + err.message[1:]
    return Diagnostic(f"schema_{v}", f"`{where}`: {message}", location=doc.locate(ptr), rule=rule)


_YAML_TYPES = {"array": "a list", "object": "a mapping", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "true or false",
               "null": "null"}


def _rule_id(data: object, path) -> str | None:
    """The id of the rule or table an error sits in, if any."""
    parts = list(path)
    if len(parts) >= 2 and parts[0] in ("rules", "tables") and isinstance(data, dict):
        try:
            item = data[parts[0]][parts[1]]
        except (IndexError, KeyError, TypeError):
            return None
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            return item["id"]
    return None


def _pattern_kind(pattern: str) -> str:
    defs = policy_schema()["$defs"]
    for name, text in _PATTERN_NAMES.items():
        if defs.get(name, {}).get("pattern") == pattern:
            return text
    return f"a value matching `{pattern}`"


class _Checker:
    """Semantic checks over a schema-valid document; builds the model."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.data: dict = doc.data  # type: ignore[assignment]
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
              hint: str | None = None, key: bool = False, severity: str = "error") -> None:
        self.diags.append(Diagnostic(code, message, severity=severity,  # type: ignore[arg-type]
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
                if not _literal_fits(ftype, value):
                    self.error("type_mismatch", f"enum value `{value}` of `{name}` is not "
                               f"{_article(ftype)}", f"{ptr}/enum/{i}")
            default = decl.get("default")
            if default is not None and (not _literal_fits(ftype, default) or
                                        enum and default not in enum):
                self.error("bad_default", f"default `{default}` of `{name}` is not "
                           + ("one of its values" if enum else f"a {ftype}"),
                           f"{ptr}/default", hint=did_you_mean(default, [str(e) for e in enum]))
            self.facts[name] = FactSpec(name, ftype, enum, default=decl.get("default"),  # type: ignore[arg-type]
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

    def target(self, raw: object, ptr: str, default_calendar: str | None,
               rule: str | None) -> Target | None:
        within, calendar = (raw, default_calendar) if isinstance(raw, str) else (
            raw["within"], raw.get("calendar", default_calendar))  # type: ignore[index]
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
            duration = parse_duration(within)  # type: ignore[arg-type]
        except ValueError as exc:
            self.error("bad_duration", str(exc), wptr, rule=rule)
            return None
        try:
            check_target(within, duration)  # type: ignore[arg-type]
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

    # ---- conditions ---------------------------------------------------------------------
    def condition(self, raw: dict, ptr: str, rule: str) -> Condition:
        parts: list[Condition] = []
        for key, value in raw.items():
            kptr = f"{ptr}/{_esc(key)}"
            if key == "all":
                parts.append(Condition("all", tuple(self.condition(c, f"{kptr}/{i}", rule)
                                                    for i, c in enumerate(value))))
            elif key == "any":
                parts.append(Condition("any", tuple(self.condition(c, f"{kptr}/{i}", rule)
                                                    for i, c in enumerate(value))))
            elif key == "not":
                parts.append(Condition("not", (self.condition(value, kptr, rule),)))
            else:
                parts.append(Condition("test", test=self.test(key, value, kptr, rule)))
        return parts[0] if len(parts) == 1 else Condition("all", tuple(parts))

    def test(self, path: str, raw: object, ptr: str, rule: str) -> Test:
        spec = self.facts.get(path)
        if spec is None:
            choices = [p for p in self.facts if p not in NOT_CONDITIONABLE]
            self.error("unknown_fact", f"unknown fact `{path}`", ptr, rule=rule, key=True,
                       hint=did_you_mean(path, choices) or "declare it under `facts`")
            return Test(path, "present", pointer=ptr)
        if path in NOT_CONDITIONABLE:
            self.error("fact_not_conditionable", f"fact `{path}` cannot be used in a condition",
                       ptr, rule=rule, key=True, hint="conditions test categorical facts")
        if isinstance(raw, list):
            op, value, vptr = "in", tuple(raw), ptr
        elif isinstance(raw, dict):
            op, value = next(iter(raw.items()))
            vptr = f"{ptr}/{op}"
            if op == "present":
                op, value = ("present" if value else "absent"), None
            elif op in ("in", "not_in"):
                value = tuple(value)
        else:
            op, value, vptr = "eq", raw, ptr
        if op in ("eq", "ne") and value is None:
            op, value = ("absent" if op == "eq" else "present"), None
        if op in ("lt", "le", "gt", "ge") and not spec.comparable:
            self.error("operator_type", f"`{op}` compares numbers but `{path}` is a {spec.type}",
                       vptr, rule=rule, hint="use a value or a list of values")
        if op in ("lt", "le", "gt", "ge"):  # a bound, not a value the fact must take
            if spec.comparable and engine_number_problem(value):  # type: ignore[arg-type]
                self.error("number_range", f"`{value}`: {engine_number_problem(value)}", vptr,
                           rule=rule)  # type: ignore[arg-type]
            return Test(path, op, value, ptr)
        values = value if isinstance(value, tuple) else (() if value is None else (value,))
        for i, v in enumerate(values):
            self.value(spec, v, f"{vptr}/{i}" if isinstance(value, tuple) else vptr, rule)
        return Test(path, op, value, ptr)

    def value(self, spec: FactSpec, v: object, ptr: str, rule: str | None) -> None:
        """Is literal `v` a possible value of fact `spec`?"""
        if spec.type == "level":
            self.level_ref(v, ptr, rule)
        elif spec.type == "plan":
            self.plan_ref(v, ptr, rule)
        elif spec.type in ("enum", "string") and spec.enum or spec.enum:
            if v not in spec.enum:
                choices = [str(c) for c in spec.enum]
                self.error("unknown_value", f"`{v}` is not a value of `{spec.path}`", ptr,
                           rule=rule, hint=did_you_mean(v, choices) or
                           f"values: {', '.join(choices)}")
        elif not _literal_fits(spec.type, v):
            self.error("type_mismatch", f"`{spec.path}` is {_article(spec.type)}, but the rule "
                       f"compares it with `{v}`", ptr, rule=rule)
        elif isinstance(v, (int, float)) and engine_number_problem(v):
            self.error("number_range", f"`{v}`: {engine_number_problem(v)}", ptr, rule=rule)

    # ---- rules ----------------------------------------------------------------------------
    def claim_id(self, rule_id: str, ptr: str) -> None:
        if rule_id.startswith("plans."):
            self.error("reserved_rule_id", f"rule id `{rule_id}` is reserved for the rules "
                       "generated from `plans`", f"{ptr}/id", hint="choose another id")
        if rule_id in self.rule_ids:
            self.error("duplicate_rule_id", f"rule id `{rule_id}` is used twice",
                       f"{ptr}/id", hint=f"first used at {self.rule_ids[rule_id]}")
        else:
            self.rule_ids[rule_id] = str(self.doc.locate(f"{ptr}/id"))

    def actions(self, raw: dict, ptr: str, rule: str) -> tuple[Action, ...]:
        out: list[Action] = []
        for kind in ("assign", "default", "override", "reclassify"):
            if kind not in raw:
                continue
            value = raw[kind]
            aptr = f"{ptr}/{kind}"
            if isinstance(value, dict) and "fact" in value:
                spec = self.facts.get(value["fact"])
                if spec is None or spec.type != "level" or spec.derived:
                    self.error("fact_not_level", f"`{kind}` takes its level from "
                               f"`{value['fact']}`, "
                               "which is not a ticket fact holding a level", f"{aptr}/fact",
                               rule=rule, hint="e.g. `requested_priority` or `agent_priority`")
            elif isinstance(value, str):
                self.level_ref(value, aptr, rule)
            out.append(SetPriority(kind=kind, level=value))
        if "use_plan" in raw:
            self.plan_ref(raw["use_plan"], f"{ptr}/use_plan", rule)
            out.append(UsePlan(plan=raw["use_plan"]))
        if "no_guarantee" in raw:
            out.append(NoGuarantee(reason=raw["no_guarantee"]))
        if "target" in raw:
            t = raw["target"]
            target = None if t == "contract" else self.target(t, f"{ptr}/target", None, rule)
            if t == "contract" or target is not None:  # a bad target was reported just now
                out.append(SetTarget(target=target))
        if "offer_channels" in raw:
            out.append(OfferChannels(channels=tuple(raw["offer_channels"])))
        if "withhold_channels" in raw:
            out.append(WithholdChannels(channels=tuple(raw["withhold_channels"])))
        if "obligations" in raw:
            out.append(AddObligations(items=tuple((o["party"], o["duty"])
                                                  for o in raw["obligations"])))
        if "note" in raw:
            out.append(AddNote(text=raw["note"]))
        return tuple(out)

    def rule(self, raw: dict, index: int) -> Rule:
        ptr = f"/rules/{index}"
        rid = raw["id"]
        self.claim_id(rid, ptr)
        actions = self.actions(raw["then"], f"{ptr}/then", rid)
        stage = raw.get("stage") or _default_stage(actions)
        when = self.condition(raw["when"], f"{ptr}/when", rid) if raw.get("when") else None
        return Rule(id=rid, stage=stage, actions=actions, when=when,
                    location=self.doc.locate(ptr), because=raw.get("because"),
                    source=self.source(raw.get("source"), f"{ptr}/source", rid),
                    salience=raw.get("salience", 0), group=raw.get("group"),
                    repeat=raw.get("repeat", False), origin="rule", order=index, pointer=ptr,
                    once=raw.get("once", False),
                    lint_ignore=tuple(((raw.get("lint") or {}).get("ignore") or {}).items()))

    def table(self, raw: dict, index: int, order: int) -> list[Rule]:
        ptr = f"/tables/{index}"
        tid = raw["id"]
        self.claim_id(tid, ptr)
        inputs = raw["inputs"]
        for i, name in enumerate(inputs):
            if name not in self.facts or name in NOT_CONDITIONABLE:
                self.error("unknown_fact", f"unknown table input `{name}`", f"{ptr}/inputs/{i}",
                           rule=tid, hint=did_you_mean(name, self.facts))
        action = raw.get("action", "assign")
        stage = raw.get("stage") or action
        shared = self.condition(raw["when"], f"{ptr}/when", tid) if raw.get("when") else None
        source = self.source(raw.get("source"), f"{ptr}/source", tid)
        rows = []
        for r, row in enumerate(raw["rows"]):
            rptr = f"{ptr}/rows/{r}"
            rid = f"{tid}[{r + 1}]"
            if len(row) != len(inputs) + 1:
                self.error("table_row_width", f"row {r + 1} of table `{tid}` has {len(row)} cells; "
                           f"expected {len(inputs)} inputs and 1 outcome", rptr, rule=tid)
                continue
            *cells, outcome = row
            self.level_ref(outcome, f"{rptr}/{len(inputs)}", tid)
            tests = []
            for c, (name, cell) in enumerate(zip(inputs, cells, strict=True)):
                if cell == "*" or name not in self.facts:
                    continue
                tests.append(Condition("test", test=self.test(name, cell, f"{rptr}/{c}", tid)))
            if shared is not None:
                tests.insert(0, shared)
            when = Condition("all", tuple(tests)) if tests else None
            rows.append(Rule(id=rid, stage=stage,
                             actions=(SetPriority(kind=action, level=outcome),), when=when,
                             location=self.doc.locate(rptr), because=raw.get("because"),
                             source=source, group=tid, origin="table", order=order,
                             pointer=rptr))
        return rows

    def plan_rules(self, plans: dict, order: int) -> list[Rule]:
        """A plan's targets and guarantee become rules, so they fire on derived facts."""
        out = []
        for pid, plan in plans.items():
            ptr = f"/plans/{_esc(pid)}"
            on_plan = Test("entitlement.plan", "eq", pid, ptr)
            guaranteed = Test("entitlement.guaranteed", "eq", True, ptr)
            because = self.plans_raw[pid].get("because")
            if not plan.guarantee:
                out.append(Rule(
                    id=f"plans.{pid}.no-guarantee", stage="entitle",
                    actions=(NoGuarantee(reason=f"plan `{pid}` has no guaranteed response"),),
                    when=Condition("test", test=on_plan),
                    location=self.doc.locate(f"{ptr}/guarantee"), because=because,
                    source=plan.source, origin="plan", order=order, pointer=ptr))
            elif plan.targets == "contract":
                when = Condition("all", (Condition("test", test=on_plan),
                                         Condition("test", test=guaranteed)))
                out.append(Rule(id=f"plans.{pid}.contract", stage="target",
                                actions=(SetTarget(target=None),), when=when,
                                location=self.doc.locate(f"{ptr}/targets"), because=because,
                                source=plan.source, origin="plan", order=order, pointer=ptr))
            elif plan.targets:
                for level, target in plan.targets.items():
                    at_level = Test("priority", "eq", level, ptr)
                    when = Condition("all", tuple(Condition("test", test=t)
                                                  for t in (on_plan, guaranteed, at_level)))
                    why, source = plan.cited.get(level, (None, None))
                    out.append(Rule(id=f"plans.{pid}.{level}", stage="target",
                                    actions=(SetTarget(target=target),), when=when,
                                    location=self.doc.locate(f"{ptr}/targets/{_esc(level)}"),
                                    because=why or because, source=source or plan.source,
                                    group=f"plans.{pid}", origin="plan", order=order,
                                    pointer=ptr))
        return out

    def run(self) -> Policy | None:
        self.declared_facts()
        ignore_fields = self.ignored_fields()
        self.check_levels()
        calendars = self.build_calendars()
        plans = self.build_plans()
        # Within a stage: plans first (the defaults), then tables, then rules in file order;
        # a later firing overrides an earlier one, so rules refine what plans say.
        rules: list[Rule] = list(self.plan_rules(plans, 0))
        for i, raw in enumerate(self.data.get("tables") or []):
            rules.extend(self.table(raw, i, len(rules)))
        for i, raw in enumerate(self.data["rules"]):
            rules.append(self.rule(raw, i))
        metrics = build_metrics(self, self.data.get("metrics") or {}, plans)
        ordered = sorted(enumerate(rules), key=lambda ir: (STAGES.index(ir[1].stage),
                                                           -ir[1].salience, ir[0]))
        dating, problems = check_dating_and_audit(self.doc, rules)  # effective dates, audit
        self.diags += problems
        if any(d.severity == "error" for d in self.diags):
            return None
        canonical = json.dumps(self.data, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
        return Policy(
            id=self.data["id"], title=self.data["title"], version=str(self.data["version"]),
            file=self.doc.file, levels=self.levels,
            level_titles=dict(self.data.get("level_titles") or {}),
            sources=self.sources, facts=self.facts, calendars=calendars,
            calendar_specs=dict(self.calendars_raw), plans=plans,
            default_plan=self.data.get("default_plan"),
            rules=tuple(r for _, r in ordered), notes=tuple(self.data.get("notes") or ()),
            readings=tuple(self.data.get("readings") or ()),
            max_firings=self.data.get("max_firings") or max(DEFAULT_MAX_FIRINGS,
                                                            2 * len(rules)),
            canonical=canonical,
            ignore_fields=ignore_fields,
            ignore_locations=tuple(self.doc.locate(f"/ignore_fields/{i}") for i, f in enumerate(
                self.data.get("ignore_fields") or ()) if f in ignore_fields),
            raw=self.data,
            metrics=metrics,
            **dating,
        )


def _default_stage(actions: tuple[Action, ...]) -> str:
    kinds = [a.kind for a in actions]
    for kind in PRIORITY_ACTIONS:
        if kind in kinds:
            return kind
    return "target" if "target" in kinds else "entitle"


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _literal_fits(ftype: str, v: object) -> bool:
    if ftype == "boolean":
        return isinstance(v, bool)
    if ftype == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if ftype == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, str)


def check_document(doc: Document) -> tuple[Policy | None, list[Diagnostic]]:
    """Schema, then semantic checks. Returns the model only when there is no error."""
    diags = schema_diagnostics(doc)
    if diags:
        return None, diags
    checker = _Checker(doc)
    policy = checker.run()
    return policy, checker.diags

