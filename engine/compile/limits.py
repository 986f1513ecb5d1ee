"""Compile stage: the durable_rules network a compiled policy builds, checked against the engine.

durable_rules compiles a ruleset into a Rete network of alpha nodes (one per test) and fails past
fixed sizes: with a bare error code when the ruleset is created or a fact is asserted, with a
segmentation fault, or by looping forever. `check_engine_limits` rebuilds that network in Python
from the exact ruleset the adapter registers — sharing nodes where the engine shares them
(src/rules/rete.c, `findAlpha` / `linkAlpha`) — and reports every limit a policy would exceed
as a located `engine_limit` diagnostic. `tests/test_engine_limits.py` measures each limit on the
engine itself, at the limit and one past it.

What the engine does (2.0.28):

- an alpha node's children testing a property live in a 512-slot table: the 512th fills it and
  every later lookup in it loops forever (at registration or at assert time) — at most 511;
- a node's list of rule patterns ending on it has 256 slots and no terminator: filling it
  overruns it (a segfault, or memory silently overwritten), 258 fail with error 108 — at most
  255;
- each `$or` ends in a new "forward" node, listed on every alternative's node: 128 slots, no
  terminator; 130 fail with error 107 — at most 127;
- each pattern's expression sequence (`$and` / `$or` and their ends) has 32 slots: error 113
  at 32 — at most 31;
- asserting a fact walks the matching nodes depth first on a 64-entry stack: a 65th pending
  node fails with error 303;
- tests against `null` are never shared (`compareValue` has no case for it): every `present`,
  `absent`, `ne` and `not_in` test, and every `default` rule's `priority absent`, is a node of
  its own;
- `pri` must be a JSON integer (a float or string fails with error 102); it is read as an
  unsigned 16-bit number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeGuard

from engine.core.diagnostics import Diagnostic, Location
from engine.core.facts import ENGINE_NAMES
from engine.core.logic import domain

MAX_TABLE_CHILDREN = 511     # 512-slot child table per node; full = an endless probe
MAX_PATTERNS_PER_NODE = 255  # 256-slot list, overrun at 256, error 108 at 257
MAX_FORWARDS_PER_NODE = 127  # 128-slot list, error 107 at 129
MAX_EXPRESSIONS = 31         # per pattern; error 113 at 32
MAX_STACK = 64               # pending nodes while a fact is matched; error 303 beyond
MAX_FACT_PROPERTIES = 250    # MAX_OBJECT_PROPERTIES 255, including kind, id and sid
MAX_PRI = 65535              # pri is an unsigned 16-bit number
_OPS = {"$neq": "ne", "$lt": "lt", "$lte": "le", "$gt": "gt", "$gte": "ge"}


def fnv1a32(text: str) -> int:
    """durable_rules identifies property names by this 32-bit hash alone."""
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


class _Other:
    """A value of an open domain that no literal of the policy equals."""

    def __repr__(self) -> str:
        return "<other>"


OTHER = _Other()


@dataclass(eq=False)
class Node:
    """One alpha node: a test (`op` on `prop` against `value`), or a forward node (`prop` None)
    that ends an `$or`."""

    kind: str                      # the fact kind the node's pattern tests
    prop: str | None
    op: str = "eq"
    value: object = None
    table: list[Node] = field(default_factory=list)      # children by property (hashset)
    forwards: list[Node] = field(default_factory=list)   # `$or` ends (next list)
    patterns: list[str] = field(default_factory=list)    # engine rules whose pattern ends here
    rules: list[str] = field(default_factory=list)       # engine rules passing through
    _shared: dict[tuple, Node] = field(default_factory=dict, repr=False)

    def holds(self, v: object) -> bool:
        """Whether the node's test matches a fact value (None: null or absent)."""
        op, value = self.op, self.value
        if op == "eq":
            return v is None if value is None else v is not None and _same(v, value)
        if op == "ne":
            return v is not None if value is None else v is not None and not _same(v, value)
        if not _number(v) or not _number(value):   # a bound is a number (the policy schema)
            return False
        return {"lt": v < value, "le": v <= value, "gt": v > value, "ge": v >= value}[op]


def _number(v: object) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _same(a: object, b: object) -> bool:
    return a is not OTHER and type(a) is type(b) and a == b


def _share_key(prop: str, op: str, value: object) -> tuple | None:
    """Nodes with equal keys under one parent are one node; the engine never shares null."""
    if value is None:
        return None
    return (fnv1a32(prop), op, type(value).__name__, value)


class Network:
    """The alpha network of one ruleset, built as durable_rules builds it."""

    def __init__(self) -> None:
        self.root = Node("", None)
        self.expressions: dict[str, int] = {}   # engine rule -> longest pattern sequence

    def add_rule(self, name: str, patterns: Iterable[dict]) -> None:
        for pattern in patterns:
            ((_alias, expr),) = pattern.items()
            counter = [0]
            last = self._create(expr, self.root, name, counter, "")
            last.patterns.append(name)
            self.expressions[name] = max(self.expressions.get(name, 0), counter[0])

    def _create(self, expr: dict, parent: Node, rule: str, counter: list[int],
                kind: str) -> Node:
        ((key, body),) = expr.items()
        if key == "$and":
            counter[0] += 2
            node = parent
            for part in body:
                node = self._create(part, node, rule, counter, kind)
                kind = kind or _kind(part)   # the tests after `kind: x` are on an x fact
            return node
        if key == "$or":
            counter[0] += 2
            forward = Node(kind, None)
            forward.rules.append(rule)
            for part in body:
                self._create(part, parent, rule, counter, kind).forwards.append(forward)
            return forward
        if key in _OPS:
            ((prop, value),) = body.items()
            op = _OPS[key]
        else:
            prop, value, op = key, body, "eq"
        share = _share_key(prop, op, value)
        test = parent._shared.get(share) if share is not None else None
        if test is None:
            test = Node(kind, prop, op, value)
            parent.table.append(test)
            if share is not None:
                parent._shared[share] = test
        test.rules.append(rule)
        return test

    def nodes(self) -> Iterable[Node]:
        """Every node once, parents before children."""
        seen: set[int] = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            yield node
            stack.extend(reversed(node.forwards))
            stack.extend(reversed(node.table))


def _kind(part: dict) -> str:
    value = part.get("kind")
    return value if isinstance(value, str) else ""


class _Stack:
    """An upper bound of the engine's match stack: for a node, the children that can match one
    fact at once (every forward node, and per property the most tests one value passes), and
    recursively theirs (depth first: k children pending, then the deepest child's own)."""

    def __init__(self, values) -> None:
        self.values = values       # (kind, prop) -> representative values
        self.memo: dict[int, tuple[int, Node | None, int]] = {}

    def width(self, node: Node) -> tuple[int, list[Node]]:
        """How many children can match at once, and the children of the widest value."""
        by_prop: dict[str | None, list[Node]] = {}   # a table child always has a prop
        for child in node.table:
            by_prop.setdefault(child.prop, []).append(child)
        count, chosen = len(node.forwards), list(node.forwards)
        for prop, children in by_prop.items():
            best: list[Node] = []
            for v in self.values(children[0].kind, prop):
                matching = [c for c in children if c.holds(v)]
                if len(matching) > len(best):
                    best = matching
            count += len(best)
            chosen += best
        return count, chosen

    def depth(self, node: Node) -> tuple[int, Node | None, int]:
        """(bound, the widest node on the deepest path, its width)."""
        hit = self.memo.get(id(node))
        if hit is not None:
            return hit
        self.memo[id(node)] = (0, None, 0)  # the network is a DAG; guards a revisit
        k, _ = self.width(node)
        result: tuple[int, Node | None, int] = (0, None, 0)
        if k:  # any child may be the one matched last, so the deepest of all counts
            deepest = max((self.depth(c) for c in (*node.forwards, *node.table)),
                          key=lambda r: r[0])
            below, widest, width = deepest
            result = (k - 1 + max(1, below), *((node, k) if k >= width else (widest, width)))
        self.memo[id(node)] = result
        return result


def _representatives(literals: list, known: tuple | None) -> tuple:
    """Values that behave like every value of a fact as far as these tests can tell."""
    if known is not None:
        return known
    reps: list = [None, OTHER, *literals]
    numbers = sorted({v for v in literals if _number(v)})
    if numbers:
        reps += [numbers[0] - 1, numbers[-1] + 1]
        reps += [(a + b) / 2 for a, b in zip(numbers, numbers[1:], strict=False)]
    return tuple(reps)


def _where(node: Node) -> str:
    if node.prop is None:
        return "a list of alternatives (`in`, `ne`, `not_in`)" if node.kind else "the start"
    if node.prop == "kind":
        return f"the `{node.value}` fact's type test"
    shown = {"eq": "is", "ne": "is not", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[node.op]
    value = "null" if node.value is None else f"`{node.value}`"
    return f"the test `{node.prop}` {shown} {value}"


def check_engine_limits(cp) -> list[Diagnostic]:
    """Every engine limit the compiled policy `cp` exceeds, located at the rule to blame."""
    policy = cp.policy
    by_name = {cr.name: policy.rules[cr.rule_index] for cr in cp.compiled}
    problems: list[Diagnostic] = []

    def report(engine_rules: Iterable[str], message: str, hint: str) -> None:
        blamed = [by_name[n] for n in engine_rules if n in by_name]
        rule = blamed[-1] if blamed else None
        problems.append(Diagnostic(
            "engine_limit", message, location=rule.location if rule else Location(
                file=policy.file), rule=rule.id if rule else None, hint=hint))

    ruleset = cp.ruleset(lambda cr: None)[cp.ruleset_name]
    net = Network()
    for name, spec in ruleset.items():
        pri = spec["pri"]
        if not isinstance(pri, int) or isinstance(pri, bool) or not 0 <= pri <= MAX_PRI:
            report([name], f"rule order `{pri!r}` is not a whole number from 0 to {MAX_PRI}; "
                   "the engine fails on it (error 102)", "`salience` must be a whole number")
        net.add_rule(name, spec["all"])
    for name, length in net.expressions.items():
        if length > MAX_EXPRESSIONS:
            report([name], f"one alternative of the condition needs {length} engine "
                   f"expressions; the engine takes at most {MAX_EXPRESSIONS} (each list, `ne` "
                   "and `not_in` test takes 2 or 4)", "split the rule, or declare a fact "
                   "that holds the combination")
    for node in net.nodes():
        if len(node.table) > MAX_TABLE_CHILDREN:
            props: dict[str | None, int] = {}
            for child in node.table:
                props[child.prop] = props.get(child.prop, 0) + 1
            prop = max(props, key=props.__getitem__)
            report(node.table[MAX_TABLE_CHILDREN].rules[:1],
                   f"`{prop}` is compared with {props[prop]} different values after "
                   f"{_where(node)} ({len(node.table)} tests there); the engine hangs beyond "
                   f"{MAX_TABLE_CHILDREN}", "group the values into a declared fact with fewer "
                   "values, or split the policy")
        if len(node.patterns) > MAX_PATTERNS_PER_NODE:
            report(node.patterns[MAX_PATTERNS_PER_NODE:MAX_PATTERNS_PER_NODE + 1],
                   f"{len(node.patterns)} rule alternatives end on {_where(node)}; the engine "
                   f"takes at most {MAX_PATTERNS_PER_NODE} (error 108)",
                   "merge rules with the same condition (a rule may have several actions), "
                   "or split the policy")
        if len(node.forwards) > MAX_FORWARDS_PER_NODE:
            report(node.forwards[MAX_FORWARDS_PER_NODE].rules,
                   f"{len(node.forwards)} lists of alternatives share {_where(node)}; the "
                   f"engine takes at most {MAX_FORWARDS_PER_NODE} (error 107)",
                   "merge rules with the same list, or split the policy")
    values = _values(cp, net)
    bound, widest, width = _Stack(values).depth(net.root)
    if bound > MAX_STACK and widest is not None:
        _, chosen = _Stack(values).width(widest)
        names = list(dict.fromkeys(r for c in chosen for r in c.rules if r in by_name))
        ids = list(dict.fromkeys(by_name[n].id for n in names))
        shown = ", ".join(f"`{i}`" for i in ids[:3]) + (f" and {len(ids) - 3} more"
                                                           if len(ids) > 3 else "")
        unshared = any(c.value is None for c in chosen)
        report(names, f"up to {bound} tests can hold at once when the engine matches one "
               f"fact — {width} after {_where(widest)} (rules {shown}); the engine fails "
               f"beyond {MAX_STACK} (error 303)",
               "the engine never shares a test against an absent fact (`present`, `absent`, "
               "`ne`, `not_in`, a `default`) between rules: merge such rules, or split the "
               "policy" if unshared else "fewer rules whose conditions can hold together, "
               "or split the policy")
    problems += _fact_names(policy, cp.ticket_paths)
    return problems


def _values(cp, net: Network):
    """(kind, property) -> representative values: the fact's domain, or ones built from the
    literals the rules compare it with."""
    policy = cp.policy
    literals: dict[tuple[str, str], list] = {}
    for node in net.nodes():
        if node.prop is not None and node.value is not None:
            seen = literals.setdefault((node.kind, node.prop), [])
            if node.value not in seen:
                seen.append(node.value)
    known: dict[tuple[str, str], tuple] = {
        ("priority", "level"): (*policy.levels, None),
        ("entitlement", "plan"): (*policy.plans, None),
        ("entitlement", "guaranteed"): (True, False)}
    for path in cp.ticket_paths:
        spec = policy.facts.get(path)
        values = domain(spec, policy) if spec is not None else None
        if values is not None:
            known[("ticket", path)] = values
    memo: dict[tuple[str, str], tuple] = {}

    def values_of(kind: str, prop: str) -> tuple:
        key = (kind, prop)
        if key not in memo:
            memo[key] = _representatives(literals.get(key, []), known.get(key))
        return memo[key]
    return values_of


def _fact_names(policy, ticket_paths: Iterable[str]) -> list[Diagnostic]:
    """Property count and 32-bit name hashes of the ticket fact."""
    problems: list[Diagnostic] = []
    ticket_paths = set(ticket_paths)
    names = {p.split(".")[0] for p in ticket_paths} | ticket_paths
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
