"""What compiling produces: an immutable, content-hashed CompiledPolicy of CompiledRules."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.check.tickets import TicketChecker
from engine.core.decision import Citation, PolicyRef
from engine.core.model import Policy, Rule, Test

SENTINEL_PRI = 65535


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
