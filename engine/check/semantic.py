"""Check stage, the semantic checks of rules: conditions against the declared facts, actions,
rules, decision tables and the rules plans imply, then the immutable `Policy` model.

`check_semantics` runs over a schema-valid document (see `engine.check.schema`); the checks of
what the policy declares are in `engine.check.declarations`.
"""

from __future__ import annotations

import json

from engine.check.declarations import Declarations, article, literal_fits
from engine.check.metrics import build_metrics
from engine.check.versions import check_dating_and_audit
from engine.core.diagnostics import Diagnostic, did_you_mean
from engine.core.diagnostics import escape_token as _esc
from engine.core.facts import NOT_CONDITIONABLE, FactSpec, engine_number_problem
from engine.core.model import (
    PRIORITY_ACTIONS,
    STAGES,
    Action,
    AddNote,
    AddObligations,
    Condition,
    NoGuarantee,
    OfferChannels,
    Policy,
    Rule,
    SetPriority,
    SetTarget,
    Test,
    UsePlan,
    WithholdChannels,
)
from engine.load import Document

DEFAULT_MAX_FIRINGS = 100


class Conditions(Declarations):
    """A rule's `when`: every test names a known, conditionable fact and values it can take."""

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
        value: object
        if isinstance(raw, list):
            op, value, vptr = "in", tuple(raw), ptr
        elif isinstance(raw, dict):
            op, operand = next(iter(raw.items()))
            vptr = f"{ptr}/{op}"
            if op == "present":
                op, value = ("present" if operand else "absent"), None
            elif op in ("in", "not_in"):
                value = tuple(operand)
            else:
                value = operand
        else:
            op, value, vptr = "eq", raw, ptr
        if op in ("eq", "ne") and value is None:
            op, value = ("absent" if op == "eq" else "present"), None
        if op in ("lt", "le", "gt", "ge") and not spec.comparable:
            self.error("operator_type", f"`{op}` compares numbers but `{path}` is a {spec.type}",
                       vptr, rule=rule, hint="use a value or a list of values")
        if op in ("lt", "le", "gt", "ge"):  # a bound, not a value the fact must take
            problem = engine_number_problem(value) if spec.comparable and \
                isinstance(value, int | float) else None   # the schema: a bound is a number
            if problem:
                self.error("number_range", f"`{value}`: {problem}", vptr, rule=rule)
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
        elif not literal_fits(spec.type, v):
            self.error("type_mismatch", f"`{spec.path}` is {article(spec.type)}, but the rule "
                       f"compares it with `{v}`", ptr, rule=rule)
        elif isinstance(v, (int, float)) and engine_number_problem(v):
            self.error("number_range", f"`{v}`: {engine_number_problem(v)}", ptr, rule=rule)


class SemanticChecker(Conditions):
    """Semantic checks over a schema-valid document; builds the model."""

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


def check_semantics(doc: Document) -> tuple[Policy | None, list[Diagnostic]]:
    """The semantic checks of a schema-valid document: the model (None on any error) and every
    problem found."""
    checker = SemanticChecker(doc)
    policy = checker.run()
    return policy, checker.diags
