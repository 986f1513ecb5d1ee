"""What durable_rules cannot take, caught at compile time with the rule to blame."""

from __future__ import annotations

from engine.compile.compiled import CompiledRule
from engine.core.diagnostics import Diagnostic, Location
from engine.core.facts import ENGINE_NAMES
from engine.core.model import Policy

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


def engine_limits(policy: Policy, compiled: list[CompiledRule],
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
