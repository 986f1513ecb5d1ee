"""Compile stage: a checked `Policy` becomes an immutable, content-hashed `CompiledPolicy`.

Each rule's condition is brought into disjunctive normal form; each conjunction becomes one
durable_rules rule (JSON ruleset form) whose patterns test the ticket fact and the derived
`priority` / `entitlement` facts. Firing order: stage band, then salience, then file order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import PurePath

from engine.check.tickets import TicketChecker
from engine.core.decision import Citation, PolicyRef
from engine.core.diagnostics import Diagnostic, DiagnosticError, Location
from engine.core.facts import CHANNELS, ENGINE_NAMES
from engine.core.logic import (
    MAX_CONJUNCTIONS,
    TooComplex,
    dedupe,
    domain,
    implicit_tests,
    satisfiable,
    to_dnf,
)
from engine.core.model import STAGES, Policy, Rule, SetPriority, SetTarget, Test

SENTINEL_PRI = 65535
_DERIVED_KIND = {"priority": ("priority", "level"),
                 "entitlement.plan": ("entitlement", "plan"),
                 "entitlement.guaranteed": ("entitlement", "guaranteed")}
_PATTERN_ALIAS = {"ticket": "t", "priority": "p", "entitlement": "e"}



def _literal(test: Test) -> dict:
    """One test as a durable_rules JSON expression on the pattern's fact."""
    kind, fld = _DERIVED_KIND.get(test.path, ("ticket", test.path))
    op, v = test.op, test.value
    if op == "eq":
        return {fld: v}
    if op == "absent":
        return {fld: None}
    if op == "present":
        return {"$neq": {fld: None}}
    if op == "ne":
        return {"$or": [{fld: None}, {"$neq": {fld: v}}]}
    if op == "in":
        return {fld: v[0]} if len(v) == 1 else {"$or": [{fld: x} for x in v]}
    if op == "not_in":
        return {"$or": [{fld: None}, {"$and": [{"$neq": {fld: x}} for x in v]}]}
    return {f"${op.replace('le', 'lte').replace('ge', 'gte')}": {fld: v}}


@dataclass(frozen=True)
class CompiledRule:
    """One durable_rules rule: a conjunction of one policy rule."""

    name: str
    rule_index: int
    conj_index: int
    pri: int
    tests: tuple[Test, ...]
    patterns: tuple[tuple[str, dict], ...]   # (alias, expression)
    paths: tuple[str, ...] = ()              # the fact paths the tests read
    reads_derived: bool = False              # whether any is priority / entitlement.*


@dataclass(frozen=True)
class CompiledPolicy:
    """Immutable and content-hashed; evaluate() takes it with a ticket."""

    policy: Policy
    digest: str
    ruleset_name: str
    rules: tuple[Rule, ...]
    compiled: tuple[CompiledRule, ...]
    ticket_paths: tuple[str, ...]        # ticket facts the conditions read (what the engine sees)
    key_paths: tuple[str, ...]           # everything a decision depends on (the cache key)
    reads_priority: bool
    reads_entitlement: bool
    checker: TicketChecker = field(repr=False, compare=False)
    stage_index: tuple[int, ...] = ()    # per rule
    trace_meta: tuple[tuple[Citation, dict | None], ...] = ()   # per rule: citation, source
    ref: PolicyRef = PolicyRef("", "", "")   # id, version, digest: what a decision cites
    # what a decision depends on: the key paths plus the facts its due time reads
    input_paths: tuple[str, ...] = ()
    key_maps: tuple[str, ...] = ()       # map-valued key paths (contract.response_targets)
    ticket_parts: tuple = ()             # (path, path split at dots) for each ticket path
    plan_channels: dict = field(default_factory=dict)   # plan id -> channels in canonical order
    # The cache key: per key path, None (the raw value) or a map value -> equivalence class.
    key_plan: tuple[tuple[str, dict | None], ...] = ()
    merged_paths: frozenset[str] = frozenset()          # paths keyed by class, not raw value
    merged_order: tuple[str, ...] = ()                    # the same, in a fixed order
    cache_scope: tuple = ()   # digest + cited file + rule lines: outcomes cite provenance, so a
                              # cache entry is only shared by compilations citing the same places

    @property
    def id(self) -> str:
        return self.policy.id

    @property
    def version(self) -> str:
        return self.policy.version

    def ruleset(self, actions) -> dict:
        """A fresh durable_rules ruleset dict (registration mutates it); `actions(cr)` binds."""
        rules: dict = {}
        for cr in self.compiled:
            patterns = [{alias: expr} for alias, expr in cr.patterns]
            rules[cr.name] = {"pri": cr.pri, "all": patterns, "run": actions(cr)}
        # A no-op on every ticket: durable_rules segfaults deleting a session no action ran in.
        rules["$sentinel"] = {"pri": SENTINEL_PRI, "all": [{"m": {"kind": "ticket"}}],
                              "run": actions(None)}
        # Keepers: derived facts must match some pattern or the engine rejects them.
        for kind, needed in (("priority", self.reads_priority),
                             ("entitlement", self.reads_entitlement)):
            if needed:
                rules[f"$keep-{kind}"] = {"pri": SENTINEL_PRI,
                                          "all": [{"k": {"kind": kind}}, {"n": {"kind": "$never"}}],
                                          "run": actions(None)}
        return {self.ruleset_name: rules}


# durable_rules limits (src/rules/*.h), enforced with a margin: past them it hangs, crashes or
# fails with a bare error code.
MAX_VALUES_PER_FIELD = 500      # a field's value table has 512 slots; full = endless probe
MAX_RANGE_TESTS = 60            # > 64 non-equality tests passed at once: error 303
MAX_FACT_PROPERTIES = 250       # MAX_OBJECT_PROPERTIES 255, including kind, id and sid


def fnv1a32(text: str) -> int:
    """durable_rules identifies property names by this 32-bit hash alone."""
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def _engine_limits(policy: Policy, compiled: list[CompiledRule],
                   ticket_paths: set[str]) -> list[Diagnostic]:
    """Policies the engine cannot run, caught at compile time with the rule to blame."""
    problems: list[Diagnostic] = []
    by_id = {r.id: r for r in policy.rules}
    values: dict[str, dict[object, str]] = {}
    ranges: dict[tuple, str] = {}
    for cr in compiled:
        rid = policy.rules[cr.rule_index].id
        for t in cr.tests:
            for v in (t.value if isinstance(t.value, tuple) else (t.value,)):
                values.setdefault(t.path, {}).setdefault(v, rid)
            if t.op not in ("eq", "in", "absent"):
                ranges.setdefault((t.path, t.op, t.value), rid)
    for path, seen in values.items():
        if len(seen) > MAX_VALUES_PER_FIELD:
            last = list(seen.values())[MAX_VALUES_PER_FIELD]
            problems.append(Diagnostic(
                "engine_limit", f"`{path}` is compared with {len(seen)} different values; the "
                f"engine takes at most {MAX_VALUES_PER_FIELD} per fact", location=by_id[
                    last].location, rule=last, hint="group the values into a declared fact "
                "with fewer values, or split the policy"))
    if len(ranges) > MAX_RANGE_TESTS:
        last = list(ranges.values())[MAX_RANGE_TESTS]
        problems.append(Diagnostic(
            "engine_limit", f"the rules use {len(ranges)} distinct comparisons (`lt`, `ne`, "
            f"`present`, ...); the engine takes at most {MAX_RANGE_TESTS}",
            location=by_id[last].location, rule=last,
            hint="use equality or lists where you can; one fact holding a range class helps"))
    names = {p.split(".")[0] for p in ticket_paths} | set(ticket_paths)
    if len(names) + 3 > MAX_FACT_PROPERTIES:
        problems.append(Diagnostic(
            "engine_limit", f"the rules read {len(names)} fact names; the engine takes at most "
            f"{MAX_FACT_PROPERTIES - 3} per ticket", location=Location(file=policy.file),
            hint="split the policy"))
    hashes: dict[int, str] = {}
    for name in sorted(names | {p.split(".")[-1] for p in ticket_paths} | set(ENGINE_NAMES)):
        other = hashes.setdefault(fnv1a32(name), name)
        if other != name:
            problems.append(Diagnostic(
                "engine_name_collision", f"fact names `{other}` and `{name}` look the same to "
                "the engine (their 32-bit hashes collide)", location=Location(file=policy.file),
                hint=f"rename `{name}`"))
    return problems


def _key_plan(policy: Policy, compiled: list[CompiledRule], raw_paths: set[str],
              key_paths: set[str]) -> tuple[tuple[str, dict | None], ...]:
    """How each key path enters the cache key.

    The engine observes a ticket fact only through the tests compiled on it, so two values
    that satisfy exactly the same tests lead to the same firings: they share a class. Facts an
    action reads (`{fact: ...}`, contract targets, the plan) and open domains stay raw.
    """
    tests: dict[str, list[Test]] = {}
    for cr in compiled:
        for t in cr.tests:
            if t not in tests.setdefault(t.path, []):
                tests[t.path].append(t)
    plan = []
    for path in sorted(key_paths):
        spec = policy.facts[path]
        if spec.type == "targets":
            continue  # a map: keyed separately (key_maps)
        values = None if path in raw_paths else domain(spec, policy)
        if values is None:
            plan.append((path, None))
            continue
        signatures: dict[tuple, tuple] = {}
        classes = {}
        for v in values:
            sig = tuple(t.holds(v) for t in tests.get(path, ()))
            classes[v] = signatures.setdefault(sig, ("class", len(signatures)))
        plan.append((path, classes if len(signatures) < len(values) else None))
    return tuple(plan)


def cited_path(file: str) -> str:
    """A rule file's path inside its policy folder: `policy.yaml`, or `versions/<name>.yaml` for
    one of several effective-dated versions."""
    path = PurePath(file)
    return f"versions/{path.name}" if path.parent.name == "versions" else path.name


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile a checked policy. Raises DiagnosticError for limits the engine cannot take."""
    problems: list[Diagnostic] = []
    compiled: list[CompiledRule] = []
    ticket_paths: set[str] = set()
    key_paths: set[str] = {"plan"}
    raw_paths: set[str] = {"plan", "contract.response_targets"}  # read by the engine itself
    reads_priority = reads_entitlement = False
    stage_index = []
    for ri, rule in enumerate(policy.rules):
        stage = STAGES.index(rule.stage)
        stage_index.append(stage)
        pri = 1 + stage * 1000 + (499 - rule.salience)
        implicit = implicit_tests(rule)
        try:
            conjunctions = [dedupe(c + implicit) for c in to_dnf(rule.when)]
        except TooComplex:
            conjunctions = [()] * (MAX_CONJUNCTIONS + 1)  # reported just below
        conjunctions = [c for c in conjunctions if not c or satisfiable(c, policy)]
        if len(conjunctions) > MAX_CONJUNCTIONS:
            problems.append(Diagnostic(
                "condition_too_complex", f"condition expands to more than {MAX_CONJUNCTIONS} "
                "alternatives", location=rule.location, rule=rule.id,
                hint="split the rule or use lists instead of nested any/not"))
            continue
        for action in rule.actions:
            match action:
                case SetPriority(level={"fact": str(fact)}):
                    key_paths.add(fact)
                    raw_paths.add(fact)
                case SetTarget(target=None):
                    key_paths.add("contract.response_targets")
        for ci, conj in enumerate(conjunctions):
            by_kind: dict[str, list[dict]] = {}
            for t in conj:
                kind = _DERIVED_KIND.get(t.path, ("ticket",))[0]
                by_kind.setdefault(kind, []).append(_literal(t))
                if kind == "ticket":
                    ticket_paths.add(t.path)
                    key_paths.add(t.path)
                elif kind == "priority":
                    reads_priority = True
                else:
                    reads_entitlement = True
            if not by_kind:
                by_kind["ticket"] = []
            patterns = tuple(
                (_PATTERN_ALIAS[kind], {"$and": [{"kind": kind}, *exprs]})
                for kind, exprs in sorted(by_kind.items(), key=lambda kv: kv[0] != "ticket"))
            paths = tuple(t.path for t in conj)
            compiled.append(CompiledRule(f"{rule.id}#{ci}", ri, ci, pri, conj, patterns, paths,
                                         any(p in _DERIVED_KIND for p in paths)))
    problems += _engine_limits(policy, compiled, ticket_paths)
    if problems:
        raise DiagnosticError(problems)
    digest = "sha256:" + hashlib.sha256(policy.canonical.encode("utf-8")).hexdigest()
    cited = cited_path(policy.file)  # citations name the file inside the policy's folder
    checker = TicketChecker(policy.facts, policy.levels, tuple(policy.plans))
    key_plan = _key_plan(policy, compiled, raw_paths, key_paths)
    return CompiledPolicy(
        policy=policy, digest=digest, ref=PolicyRef(policy.id, policy.version, digest),
        ruleset_name=f"{policy.id}@{digest[7:23]}",
        rules=policy.rules, compiled=tuple(compiled),
        ticket_paths=tuple(sorted(ticket_paths)), key_paths=tuple(sorted(key_paths)),
        input_paths=tuple(sorted(key_paths | {"id", "submitted_at", "first_response_at",
                                             "customer.timezone"})),
        ticket_parts=tuple((p, tuple(p.split("."))) for p in sorted(ticket_paths)),
        reads_priority=reads_priority, reads_entitlement=reads_entitlement, checker=checker,
        stage_index=tuple(stage_index),
        key_plan=key_plan,
        merged_order=tuple(sorted(p for p, classes in key_plan if classes is not None
                                  or policy.facts[p].type in ("integer", "number"))),
        cache_scope=(digest, cited, tuple(
            (r.location.line, r.location.column) for r in policy.rules)),
        merged_paths=frozenset(p for p, classes in key_plan if classes is not None
                               or policy.facts[p].type in ("integer", "number")),
        plan_channels={pid: tuple(c for c in CHANNELS if c in plan.channels)
                       for pid, plan in policy.plans.items()},
        key_maps=tuple(p for p in sorted(key_paths) if policy.facts[p].type == "targets"),
        trace_meta=tuple((Citation(policy.id, digest, cited, r.location.line),
                          r.source.to_json() if r.source else None) for r in policy.rules),
    )
