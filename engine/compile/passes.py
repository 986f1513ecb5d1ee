"""The compile stage as an ordered list of named passes over one build state.

`conjunctions` brings each rule's condition into DNF (with the tests its actions imply) and
drops impossible alternatives; `action inputs` notes the facts actions read; `patterns` turns
each conjunction into one durable_rules rule; `ignored fields` checks `ignore_fields`;
`digest` hashes the canonical content; `cache plan` decides how each fact enters the decision
cache key; `provenance` fixes every rule's citation. Then `engine.compile.limits` checks the
exact ruleset against what durable_rules can take.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

from engine.check.tickets import TicketChecker
from engine.compile.compiled import CompiledPolicy, CompiledRule
from engine.compile.keys import key_plan
from engine.core.decision import Citation, PolicyRef
from engine.core.diagnostics import Diagnostic, Location
from engine.core.facts import CHANNELS
from engine.core.logic import (
    MAX_CONJUNCTIONS,
    TooComplex,
    dedupe,
    implicit_tests,
    satisfiable,
    to_dnf,
)
from engine.core.model import STAGES, Policy, SetPriority, SetTarget, Test

_DERIVED_KIND = {"priority": ("priority", "level"),
                 "entitlement.plan": ("entitlement", "plan"),
                 "entitlement.guaranteed": ("entitlement", "guaranteed")}
_PATTERN_ALIAS = {"ticket": "t", "priority": "p", "entitlement": "e"}


def _literal(test: Test) -> dict:
    """One test as a durable_rules JSON expression on the pattern's fact."""
    kind, fld = _DERIVED_KIND.get(test.path, ("ticket", test.path))
    op, v = test.op, test.value
    values = v if isinstance(v, tuple) else (v,)  # `in` / `not_in` hold a tuple
    if op == "eq":
        return {fld: v}
    if op == "absent":
        return {fld: None}
    if op == "present":
        return {"$neq": {fld: None}}
    if op == "ne":
        return {"$or": [{fld: None}, {"$neq": {fld: v}}]}
    if op == "in":
        return {fld: values[0]} if len(values) == 1 else {"$or": [{fld: x} for x in values]}
    if op == "not_in":
        return {"$or": [{fld: None}, {"$and": [{"$neq": {fld: x}} for x in values]}]}
    return {f"${op.replace('le', 'lte').replace('ge', 'gte')}": {fld: v}}


#: facts a decision's due time reads besides the rules' facts (they enter `input_paths`)
TIME_FACTS = frozenset({"id", "submitted_at", "first_response_at", "customer.timezone"})


@dataclass
class Build:
    """What the passes know so far about one policy's compilation."""

    policy: Policy
    problems: list[Diagnostic] = field(default_factory=list)
    stop: bool = False        # a pass found problems the later passes cannot work around
    conjunctions: list[list[tuple[Test, ...]]] = field(default_factory=list)   # per rule
    compiled: list[CompiledRule] = field(default_factory=list)
    ticket_paths: set[str] = field(default_factory=set)
    key_paths: set[str] = field(default_factory=lambda: {"plan"})
    # read by the engine itself (actions, the plan), so never merged into classes
    raw_paths: set[str] = field(default_factory=lambda: {"plan", "contract.response_targets"})
    reads_priority: bool = False
    reads_entitlement: bool = False
    digest: str = ""
    key_plan: tuple[tuple[str, dict | None], ...] = ()
    cited: str = ""
    trace_meta: tuple[tuple[Citation, dict | None], ...] = ()

    def result(self) -> CompiledPolicy:
        """The immutable compiled policy (after every pass ran without problems)."""
        policy, plan, digest = self.policy, self.key_plan, self.digest
        merged = sorted(p for p, classes in plan if classes is not None
                        or policy.facts[p].type in ("integer", "number"))
        return CompiledPolicy(
            policy=policy, digest=digest, ref=PolicyRef(policy.id, policy.version, digest),
            ruleset_name=f"{policy.id}@{digest[7:23]}",
            rules=policy.rules, compiled=tuple(self.compiled),
            ticket_paths=tuple(sorted(self.ticket_paths)),
            key_paths=tuple(sorted(self.key_paths)),
            input_paths=tuple(sorted(self.key_paths | TIME_FACTS)),
            ticket_parts=tuple((p, tuple(p.split("."))) for p in sorted(self.ticket_paths)),
            reads_priority=self.reads_priority, reads_entitlement=self.reads_entitlement,
            checker=TicketChecker(policy.facts, policy.levels, tuple(policy.plans),
                                  read=tuple(sorted(self.key_paths | TIME_FACTS | {"events"})),
                                  ignore=policy.ignore_fields),
            stage_index=tuple(STAGES.index(r.stage) for r in policy.rules),
            key_plan=plan, merged_order=tuple(merged), merged_paths=frozenset(merged),
            cache_scope=(digest, self.cited, tuple(
                (r.location.line, r.location.column) for r in policy.rules)),
            plan_channels={pid: tuple(c for c in CHANNELS if c in plan.channels)
                           for pid, plan in policy.plans.items()},
            key_maps=tuple(p for p in sorted(self.key_paths)
                           if policy.facts[p].type == "targets"),
            trace_meta=self.trace_meta,
        )


def conjunctions(b: Build) -> None:
    """Each rule's condition in DNF, with the tests its actions imply; impossible
    alternatives dropped; more than MAX_CONJUNCTIONS is an error."""
    for rule in b.policy.rules:
        implicit = implicit_tests(rule)
        try:
            conjs = [dedupe(c + implicit) for c in to_dnf(rule.when)]
        except TooComplex:
            conjs = [()] * (MAX_CONJUNCTIONS + 1)  # reported just below
        conjs = [c for c in conjs if not c or satisfiable(c, b.policy)]
        if len(conjs) > MAX_CONJUNCTIONS:
            b.problems.append(Diagnostic(
                "condition_too_complex", f"condition expands to more than {MAX_CONJUNCTIONS} "
                "alternatives", location=rule.location, rule=rule.id,
                hint="split the rule or use lists instead of nested any/not"))
            conjs = []
        b.conjunctions.append(conjs)


def action_inputs(b: Build) -> None:
    """Facts actions read enter the cache key raw: `{fact: x}` levels, contract targets."""
    for rule in b.policy.rules:
        for action in rule.actions:
            match action:
                case SetPriority(level={"fact": str(fact)}):
                    b.key_paths.add(fact)
                    b.raw_paths.add(fact)
                case SetTarget() if action.from_contract:
                    b.key_paths.add("contract.response_targets")


def patterns(b: Build) -> None:
    """One durable_rules rule per conjunction: a pattern per fact kind it tests (the ticket,
    the derived priority, the entitlement); `pri` = stage band, then salience."""
    for ri, (rule, conjs) in enumerate(zip(b.policy.rules, b.conjunctions, strict=True)):
        # a JSON Schema integer may be written `1.0`; the engine takes only JSON integers
        salience = int(rule.salience) if float(rule.salience).is_integer() else rule.salience
        pri = 1 + STAGES.index(rule.stage) * 1000 + (499 - salience)
        for ci, conj in enumerate(conjs):
            by_kind: dict[str, list[dict]] = {}
            for t in conj:
                kind = _DERIVED_KIND.get(t.path, ("ticket",))[0]
                by_kind.setdefault(kind, []).append(_literal(t))
                if kind == "ticket":
                    b.ticket_paths.add(t.path)
                    b.key_paths.add(t.path)
                elif kind == "priority":
                    b.reads_priority = True
                else:
                    b.reads_entitlement = True
            if not by_kind:
                by_kind["ticket"] = []
            pats = tuple(
                (_PATTERN_ALIAS[kind], {"$and": [{"kind": kind}, *exprs]})
                for kind, exprs in sorted(by_kind.items(), key=lambda kv: kv[0] != "ticket"))
            paths = tuple(t.path for t in conj)
            b.compiled.append(CompiledRule(f"{rule.id}#{ci}", ri, ci, pri, conj, pats, paths,
                                           any(p in _DERIVED_KIND for p in paths)))


def ignored_fields(b: Build) -> None:
    """`ignore_fields` may not name a fact the policy's decisions read."""
    read = b.key_paths | TIME_FACTS
    policy = b.policy
    for i, path in enumerate(policy.ignore_fields):
        if path in read:
            where = policy.ignore_locations[i] if i < len(policy.ignore_locations) else \
                Location(file=policy.file, pointer=f"/ignore_fields/{i}")
            b.problems.append(Diagnostic(
                "fact_ignored_but_read", f"`{path}` is listed in `ignore_fields` but the "
                "policy's decisions read it", location=where,
                hint=f"remove `{path}` from `ignore_fields`"))


def digest(b: Build) -> None:
    """sha256 of the policy's canonical content."""
    b.digest = "sha256:" + hashlib.sha256(b.policy.canonical.encode("utf-8")).hexdigest()


def cache_plan(b: Build) -> None:
    """How each fact enters the decision cache key (raw, or by equivalence class)."""
    b.key_plan = key_plan(b.policy, b.compiled, b.raw_paths, b.key_paths)


def cited_path(file: str) -> str:
    """A rule file's path inside its policy folder: `policy.yaml`, or `versions/<name>.yaml` for
    one of several effective-dated versions."""
    path = PurePath(file)
    return f"versions/{path.name}" if path.parent.name == "versions" else path.name


def provenance(b: Build) -> None:
    """Every rule's citation: policy, digest, the file inside the policy folder, line."""
    b.cited = cited_path(b.policy.file)
    b.trace_meta = tuple((Citation(b.policy.id, b.digest, b.cited, r.location.line or 0),
                          r.source.to_json() if r.source else None) for r in b.policy.rules)


PASSES: tuple[tuple[str, Callable[[Build], None]], ...] = (
    ("conjunctions", conjunctions),
    ("action inputs", action_inputs),
    ("patterns", patterns),
    ("ignored fields", ignored_fields),
    ("digest", digest),
    ("cache plan", cache_plan),
    ("provenance", provenance),
)
