"""Lint stage: static analysis of a checked policy, beyond what validation reports.

`lint_policy(policy, doc=None)` returns diagnostics sorted by location (see docs/lint.md):

- tables: `table_incomplete`, `table_overlap`, `table_row_unreachable`
- rules: `rule_conflict`, `rule_shadowed`, `rule_unreachable`, `default_unreachable`,
  `reclassify_cycle`
- plans: `plan_missing_target`, `plan_no_targets`
- documentation: `missing_because`, `missing_source`
- declarations: `unused_calendar`, `unused_fact`, `unused_source`

Reasoning is over each rule's condition in disjunctive normal form (`compiler.to_dnf`, plus the
tests its action implies). Facts are treated as independent; a fact with a finite domain
(`compiler.domain`) is enumerated, and an open one (strings, numbers) is represented by the
literals the tests name plus one value none of them names, which is exact for the operators
conditions have. The derived facts are narrowed to what the rules can produce: a rule of stage S
only sees the priorities set by rules of stage S or earlier, because later stages suppress it.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field

from engine.core.diagnostics import Diagnostic, Location, escape_token
from engine.core.logic import (
    MAX_CONJUNCTIONS,
    TooComplex,
    dedupe,
    domain,
    implicit_tests,
    resolve_level,
    shift_level,
    to_dnf,
)
from engine.core.model import STAGES, Policy, Rule, Target, Test
from engine.load import Document, load_yaml_file

#: Every lint code and its severity.
CODES: dict[str, str] = {
    "table_incomplete": "warning",
    "table_overlap": "error",
    "table_row_unreachable": "warning",
    "rule_conflict": "warning",
    "rule_shadowed": "warning",
    "rule_unreachable": "warning",
    "default_unreachable": "warning",
    "reclassify_cycle": "error",
    "plan_missing_target": "warning",
    "plan_no_targets": "warning",
    "missing_because": "warning",
    "missing_source": "warning",
    "unused_calendar": "info",
    "unused_fact": "info",
    "unused_source": "info",
}

MAX_SHOWN = 5              # missing combinations / rules named in one message
MAX_ENUMERATION = 200_000  # assignments enumerated for one question; beyond, skip it
MAX_CYCLES = 20
_DERIVED = ("priority", "entitlement.plan", "entitlement.guaranteed")
_ASSIGN = STAGES.index("assign")


class _Other:
    """A value of an open domain that no test names (a fresh string)."""

    def __repr__(self) -> str:
        return "<other>"


OTHER = _Other()


def lint_policy(policy: Policy, doc: Document | None = None) -> list[Diagnostic]:
    """Every lint finding of a checked policy, sorted by location.

    `doc` (the loaded Document) gives exact positions for tables, facts and calendars; without
    it the file named by `policy.file` is re-read when it still holds the same policy.
    """
    return _Linter(policy, _document(policy, doc)).run()


def _document(policy: Policy, doc: Document | None) -> Document | None:
    if doc is not None:
        return doc
    try:
        found, _ = load_yaml_file(policy.file)
    except Exception:  # a missing or changed file only costs precision
        return None
    if found is None:
        return None
    canonical = json.dumps(found.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return found if canonical == policy.canonical else None


@dataclass
class _Info:
    """A rule as the linter sees it."""

    rule: Rule
    index: int                            # position in firing order
    stage: int
    conjs: list[tuple[Test, ...]]
    complex: bool = False                 # too many alternatives: no pairwise analysis
    truncated: bool = False               # DNF cut short: assumed reachable
    reached: bool = False
    live: list[tuple[Test, ...]] = field(default_factory=list)   # conjunctions that can hold

    @property
    def id(self) -> str:
        return self.rule.id


def _fmt(v: object) -> str:
    if v is None:
        return "absent"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _tick(items: list[str], conjunction: str = "and") -> str:
    shown = [f"`{x}`" for x in items]
    if len(shown) <= 2:
        return f" {conjunction} ".join(shown)
    return ", ".join(shown[:-1]) + f" {conjunction} " + shown[-1]


def _by_path(conj: tuple[Test, ...]) -> dict[str, list[Test]]:
    out: dict[str, list[Test]] = {}
    for t in conj:
        out.setdefault(t.path, []).append(t)
    return out


def _literals(tests: list[Test]) -> list[object]:
    out: list[object] = []
    for t in tests:
        vals = t.value if isinstance(t.value, tuple) else (t.value,)
        out.extend(v for v in vals if v is not None)
    return out


class _Linter:
    def __init__(self, policy: Policy, doc: Document | None):
        self.p = policy
        self.doc = doc
        self.diags: list[Diagnostic] = []
        self.infos: list[_Info] = []
        for i, rule in enumerate(policy.rules):
            try:
                conjs = [dedupe(c + implicit_tests(rule)) for c in to_dnf(rule.when)]
                too_big = False
            except TooComplex:  # compile reports it; lint skips what it cannot expand
                conjs, too_big = [], True
            self.infos.append(_Info(rule, i, STAGES.index(rule.stage), conjs,
                                    complex=too_big or len(conjs) > MAX_CONJUNCTIONS,
                                    truncated=too_big))
        n = len(STAGES)
        self.levels_upto: list[set[str]] = [set() for _ in range(n)]
        self.unguaranteed_upto = [False] * n
        self.always_assigns: list[str] | None = None   # the assign rules covering every ticket
        self.tables = list(policy.raw.get("tables") or [])

    # ---- reporting ----------------------------------------------------------------------
    def locate(self, pointer: str, *, key: bool = False, fallback: Location | None = None
               ) -> Location:
        if self.doc is not None:
            return self.doc.locate(pointer, key=key)
        return fallback or Location(file=self.p.file, pointer=pointer)

    def add(self, code: str, message: str, location: Location, rule: str | None,
            hint: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, CODES[code], location,  # type: ignore[arg-type]
                                     rule, hint))

    def run(self) -> list[Diagnostic]:
        self.always_assigns = self.assign_covers_all()
        self.reachability()
        self.check_tables()
        cycles = self.check_cycles()
        self.check_conflicts(cycles)
        self.check_shadowed()
        self.check_unreachable()
        self.check_plans()
        self.check_documentation()
        self.check_unused()
        return sorted(self.diags, key=Diagnostic.sort_key)

    # ---- value domains ------------------------------------------------------------------
    def values(self, path: str, tests: list[Test], stage: int | None) -> tuple:
        """Representative values of `path`: every value, or one per class the tests tell apart."""
        if stage is not None:
            if path == "priority":
                out: list[object] = [lv for lv in self.p.levels if lv in self.levels_upto[stage]]
                if not (self.always_assigns is not None and stage > _ASSIGN):
                    out.append(None)
                return tuple(out)
            if path == "entitlement.plan":
                return (*self.p.plans, *((None,) if self.p.default_plan is None else ()))
            if path == "entitlement.guaranteed":
                return (True, False) if self.unguaranteed_upto[stage] else (True,)
        spec = self.p.facts.get(path)
        if spec is None:
            return (None, OTHER, *dict.fromkeys(_literals(tests)))
        finite = domain(spec, self.p)
        if finite is not None:
            return finite
        absent = (None,) if spec.nullable and spec.default is None else ()
        lits = _literals(tests)
        if not spec.comparable:
            return (*absent, *dict.fromkeys(v for v in lits if v is not None), OTHER)
        nums = sorted({float(v) for v in lits if isinstance(v, (int, float))})
        cands: set[float] = set()
        if spec.type == "integer":
            for c in nums:
                for base in {math.floor(c), math.ceil(c)}:
                    cands.update((base - 1, base, base + 1))
            cands = cands or {0}
        else:
            cands.update(nums)
            cands.update(c - 1 for c in nums[:1])
            cands.update(c + 1 for c in nums[-1:])
            cands.update((a + b) / 2 for a, b in itertools.pairwise(nums))
            cands = cands or {0.0}
        lo, hi = spec.minimum, spec.maximum
        if lo is not None:
            cands = {c for c in cands if c >= lo} | {lo}
        if hi is not None:
            cands = {c for c in cands if c <= hi} | {hi}
        return (*absent, *sorted(cands))

    def allowed(self, path: str, conj: tuple[Test, ...] | list[Test], stage: int | None
                ) -> list:
        """The representative values of `path` that satisfy `conj`'s tests on it."""
        tests = [t for t in conj if t.path == path]
        return [v for v in self.values(path, tests, stage) if all(t.holds(v) for t in tests)]

    def sat(self, conj: tuple[Test, ...] | list[Test], stage: int | None) -> bool:
        return all(any(all(t.holds(v) for t in tests) for v in self.values(path, tests, stage))
                   for path, tests in _by_path(tuple(conj)).items())

    def implies(self, b: tuple[Test, ...], a: tuple[Test, ...], stage: int | None) -> bool:
        """Every assignment satisfying `b` satisfies `a`."""
        if not self.sat(b, stage):
            return True
        bp = _by_path(b)
        for path, tests in _by_path(a).items():
            btests = bp.get(path, [])
            for v in self.values(path, tests + btests, stage):
                if all(t.holds(v) for t in btests) and not all(t.holds(v) for t in tests):
                    return False
        return True

    def witness(self, conj: tuple[Test, ...] | list[Test], stage: int | None) -> str:
        """A readable example of facts satisfying `conj`."""
        parts = []
        for path, tests in _by_path(tuple(conj)).items():
            vals = [v for v in self.values(path, tests, stage) if all(t.holds(v) for t in tests)]
            shown = [v for v in vals if v is not None and v is not OTHER]
            if shown:
                parts.append(f"{path}={_fmt(shown[0])}")
            elif None in vals:
                parts.append(f"{path} absent")
            else:
                parts.append(" and ".join(t.describe() for t in tests))
        return ", ".join(parts) or "any ticket"

    # ---- what the rules can produce -----------------------------------------------------
    def assign_covers_all(self) -> list[str] | None:
        """The assign-stage rules when together they set a priority on every ticket."""
        rules = [i for i in self.infos if i.stage == _ASSIGN and not i.truncated
                 and _priority(i.rule) and _priority(i.rule)[0] != "default"]
        conjs = [(i, c) for i in rules for c in i.conjs]
        if not conjs:
            return None
        start = {"priority": (None,), "entitlement.guaranteed": (True,)}
        paths: dict[str, list[Test]] = {}
        for _, c in conjs:
            for t in c:
                paths.setdefault(t.path, []).append(t)
        spaces = [start.get(p) or self.values(p, ts, None) for p, ts in paths.items()]
        if math.prod(len(s) for s in spaces) > MAX_ENUMERATION:
            return None
        names = list(paths)
        used: dict[str, None] = {}
        for combo in itertools.product(*spaces):
            env = dict(zip(names, combo, strict=True))
            hit = next((i for i, c in conjs if all(t.holds(env[t.path]) for t in c)), None)
            if hit is None:
                return None
            used[hit.rule.group if hit.rule.origin == "table" else hit.id] = None  # type: ignore[index]
        return list(used)

    def productions(self, info: _Info) -> set[str]:
        """Levels a rule can set, given the conjunctions that can hold."""
        action = _priority(info.rule)
        if action is None:
            return set()
        _, value = action
        if isinstance(value, str):
            return {value}
        out: set[str] = set()
        levels = self.p.levels
        for conj in info.live:
            if "fact" in value:  # type: ignore[operator]
                out.update(v for v in self.allowed(value["fact"], conj, info.stage)  # type: ignore[index]
                           if v is not None)
            else:
                for lv in self.allowed("priority", conj, info.stage):
                    if lv is not None:
                        out.add(shift_level(levels, lv, value))  # type: ignore[arg-type]
        return out

    def reachability(self) -> None:
        """Fixpoint: which rules can fire, and which levels each stage can see."""
        changed = True
        while changed:
            changed = False
            for info in self.infos:
                live = [c for c in info.conjs if info.truncated or self.sat(c, info.stage)]
                if len(live) != len(info.live):
                    info.live, info.reached, changed = live, bool(live), True
                if not info.reached:
                    continue
                made = self.productions(info)
                unguarantees = any(k == "no_guarantee" for k, _ in _actions(info.rule))
                for s in range(info.stage, len(STAGES)):
                    if not made <= self.levels_upto[s]:
                        self.levels_upto[s] |= made
                        changed = True
                    if unguarantees and not self.unguaranteed_upto[s]:
                        self.unguaranteed_upto[s] = changed = True

    # ---- tables -------------------------------------------------------------------------
    def table_rows(self, tid: str) -> list[_Info]:
        rows = [i for i in self.infos if i.rule.origin == "table" and i.rule.group == tid]
        return sorted(rows, key=lambda i: _row_number(i.id))

    def table_location(self, index: int, rows: list[_Info]) -> Location:
        return self.locate(f"/tables/{index}", fallback=rows[0].rule.location if rows else None)

    @staticmethod
    def cells(row: _Info) -> dict[str, list[Test]]:
        """The tests of a row's own cells (not of the table's shared `when`)."""
        prefix = row.rule.pointer + "/"
        out: dict[str, list[Test]] = {}
        if row.rule.when is not None:
            for t in row.rule.when.tests():
                if t.pointer.startswith(prefix):
                    out.setdefault(t.path, []).append(t)
        return out

    def check_tables(self) -> None:
        for index, raw in enumerate(self.tables):
            tid = raw["id"]
            rows = self.table_rows(tid)
            inputs = list(dict.fromkeys(raw["inputs"]))
            if not rows:
                continue
            cells = [self.cells(r) for r in rows]
            stage = rows[0].stage
            self.table_completeness(index, raw, tid, rows, cells, inputs, stage)
            if raw.get("hit", "unique") == "unique":
                self.table_overlaps(raw, tid, rows, cells, inputs, stage)
            else:
                self.table_dead_rows(tid, rows, cells, inputs, stage)

    def input_values(self, name: str, cells: list[dict[str, list[Test]]], stage: int) -> tuple:
        tests = [t for c in cells for t in c.get(name, [])]
        return self.values(name, tests, stage if name in _DERIVED else None)

    def table_completeness(self, index: int, raw: dict, tid: str, rows: list[_Info],
                           cells: list[dict], inputs: list[str], stage: int) -> None:
        specs = [self.p.facts.get(n) for n in inputs]
        if any(s is None or domain(s, self.p) is None for s in specs):
            return
        spaces = [self.input_values(n, cells, stage) for n in inputs]
        if math.prod(len(s) for s in spaces) > MAX_ENUMERATION:
            return
        shared = self.shared_conjs(index)

        def applies(env: dict) -> bool:
            if not shared:
                return True
            for conj in shared:
                fixed = [t for t in conj if t.path in env]
                if all(t.holds(env[t.path]) for t in fixed) and self.sat(
                        [t for t in conj if t.path not in env], stage):
                    return True
            return False

        def matched(env: dict) -> bool:
            return any(all(t.holds(env[n]) for n, ts in c.items() for t in ts) for c in cells)

        missing: list[dict] = []
        total = 0
        absent_gap: dict[str, bool] = {}
        for combo in itertools.product(*spaces):
            env = dict(zip(inputs, combo, strict=True))
            if not applies(env):
                continue
            gone = [n for n, v in env.items() if v is None]
            covered = matched(env)
            if not gone:
                total += 1
                if not covered:
                    missing.append(env)
            elif not covered:
                for n in gone:
                    absent_gap[n] = True
            else:
                for n in gone:
                    absent_gap.setdefault(n, False)
        if not missing:
            return
        shown = [", ".join(f"{n}={_fmt(v)}" for n, v in env.items())
                 for env in missing[:MAX_SHOWN]]
        more = f"; and {len(missing) - MAX_SHOWN} more" if len(missing) > MAX_SHOWN else ""
        message = (f"table `{tid}` has no row for {len(missing)} of {total} input combinations: "
                   + "; ".join(shown) + more)
        uncovered = [n for n in inputs if absent_gap.get(n) is True]
        covered = [n for n in inputs if absent_gap.get(n) is False]
        if uncovered:
            message += (f" (absent values: tickets without {_tick(uncovered, 'or')} match no "
                        "row either)")
        elif covered:
            message += f" (absent values: covered by `*` cells for {_tick(covered)})"
        self.add("table_incomplete", message, self.table_location(index, rows), tid,
                 "add rows for the missing combinations, or a rule after the table for the "
                 "tickets it leaves without a level")

    def shared_conjs(self, index: int) -> list[tuple[Test, ...]]:
        """The table's shared `when` in DNF (checks puts it first in every row's condition)."""
        raw = self.tables[index]
        rows = self.table_rows(raw["id"])
        if not raw.get("when") or not rows or rows[0].rule.when is None:
            return []
        return to_dnf(rows[0].rule.when.children[0])

    def table_overlaps(self, raw: dict, tid: str, rows: list[_Info], cells: list[dict],
                       inputs: list[str], stage: int) -> None:
        for j in range(len(rows)):
            for i in range(j):
                common = []
                for n in inputs:
                    a, b = cells[i].get(n, []), cells[j].get(n, [])
                    both = [v for v in self.values(n, a + b, None)
                            if all(t.holds(v) for t in a + b)]
                    if not both:
                        break
                    present = [v for v in both if v is not None]
                    common.append(f"{n}={_fmt(present[0])}" if present and (a or b)
                                  else f"{n}=*")
                else:
                    out_i, out_j = _outcome(rows[i].rule), _outcome(rows[j].rule)
                    same = out_i == out_j
                    self.add(
                        "table_overlap",
                        f"rows {i + 1} and {j + 1} of table `{tid}` (`hit: unique`) both match "
                        f"{', '.join(common)}" + (f" (both {out_i})" if same else
                                                  f" ({out_i} vs {out_j})"),
                        rows[j].rule.location, rows[j].id,
                        "merge the two rows" if same else
                        "make the rows disjoint, or declare `hit: first` if the first "
                        "matching row should win")

    def table_dead_rows(self, tid: str, rows: list[_Info], cells: list[dict],
                        inputs: list[str], stage: int) -> None:
        for j in range(1, len(rows)):
            if not rows[j].reached:
                continue
            spaces = []
            for n in inputs:
                own = cells[j].get(n, [])
                spaces.append([v for v in self.input_values(n, cells, stage)
                               if all(t.holds(v) for t in own)])
            if math.prod(len(s) for s in spaces) > MAX_ENUMERATION:
                continue
            covering: dict[int, None] = {}
            for combo in itertools.product(*spaces):
                env = dict(zip(inputs, combo, strict=True))
                hit = next((i for i in range(j) if all(
                    t.holds(env[n]) for n, ts in cells[i].items() for t in ts)), None)
                if hit is None:
                    break
                covering[hit] = None
            else:
                if not all(spaces):
                    continue
                which = _tick([str(i + 1) for i in covering]).replace("`", "")
                self.add("table_row_unreachable",
                         f"row {j + 1} of table `{tid}` (`hit: first`) never matches: every "
                         f"ticket it matches is taken by row{'s' if len(covering) > 1 else ''} "
                         f"{which}", rows[j].rule.location, rows[j].id,
                         "remove the row, or move it above the rows that cover it")

    # ---- conflicts ----------------------------------------------------------------------
    def analysed(self) -> list[_Info]:
        return [i for i in self.infos if i.reached and not i.complex]

    def check_conflicts(self, cycles: list[frozenset[str]]) -> None:
        rules = self.analysed()
        plan_pairs: set[tuple[str, str]] = set()
        for bi, b in enumerate(rules):
            for a in rules[:bi]:
                if a.stage != b.stage or (a.rule.group and a.rule.group == b.rule.group):
                    continue
                if any({a.id, b.id} <= c for c in cycles):
                    continue
                plan = next((r for r in (a, b) if r.rule.origin == "plan"), None)
                other = b if plan is a else a
                if plan is not None:
                    pid = plan.id.removeprefix("plans.").rpartition(".")[0]
                    if (other.id, pid) in plan_pairs:
                        continue
                found = self.conflict(a, b)
                if not found:
                    continue
                what, example = found
                if plan is not None:  # one finding per rule and plan, at the author's rule
                    plan_pairs.add((other.id, pid))
                    self.add("rule_conflict",
                             f"rule `{other.id}` and the targets of plan `{pid}` can both apply "
                             f"to one ticket (e.g. {example}) and set {what}; the plan's "
                             "target fires " + ("after" if plan is b else "before") +
                             " the rule's", other.rule.location, other.id,
                             f"exclude plan `{pid}` in the rule's condition "
                             "(`entitlement.plan: {ne: ...}`), or change the plan's targets")
                    continue
                self.add("rule_conflict",
                         f"rules `{a.id}` and `{b.id}` can both fire on one ticket "
                         f"(e.g. {example}) and set {what}; the outcome depends on "
                         "firing order", b.rule.location, b.id,
                         "make the conditions exclusive, or put both rules in one `group` "
                         "so that only the first fires")

    def conflict(self, a: _Info, b: _Info) -> tuple[str, str] | None:
        stage = a.stage
        kinds_a = dict(_actions(a.rule))
        kinds_b = dict(_actions(b.rule))
        pa, pb = _priority(a.rule), _priority(b.rule)
        for ca in a.live:
            for cb in b.live:
                joint = dedupe(ca + cb)
                if not self.sat(joint, stage):
                    continue
                if pa and pb and not self.first_match_wins(a, b, joint):
                    diff = self.priority_differs(pa[1], pb[1], joint, stage)
                    if diff:
                        return f"different priorities ({diff[0]} vs {diff[1]})", diff[2]
                ta, tb = kinds_a.get("target"), kinds_b.get("target")
                if ta is not None and tb is not None and ta != tb:
                    return (f"different response targets ({_show_target(ta)} vs "
                            f"{_show_target(tb)})", self.witness(joint, stage))
                ua, ub = kinds_a.get("use_plan"), kinds_b.get("use_plan")
                if ua is not None and ub is not None and ua != ub:
                    return f"different plans (`{ua}` vs `{ub}`)", self.witness(joint, stage)
        return None

    def first_match_wins(self, a: _Info, b: _Info, joint: tuple[Test, ...]) -> bool:
        """`a` is explicitly ordered before `b` (a higher `salience`) and, once it has set its
        level, `b`'s condition on `priority` no longer holds: the specific-before-general
        pattern (e.g. a `default` for some categories above a general `default`)."""
        if a.rule.salience == b.rule.salience:
            return False
        action = _priority(a.rule)
        assert action is not None
        value = action[1]
        stage = a.stage
        if isinstance(value, str):
            made = [value]
        elif "fact" in value:  # type: ignore[operator]
            made = [v for v in self.allowed(value["fact"], joint, stage) if v is not None]  # type: ignore[index]
        else:
            made = [shift_level(self.p.levels, lv, value)  # type: ignore[arg-type]
                    for lv in self.allowed("priority", joint, stage) if lv is not None]
        return all(not all(t.holds(level) for t in cb if t.path == "priority")
                   for level in made for cb in b.live)

    def priority_differs(self, va: object, vb: object, joint: tuple[Test, ...], stage: int
                         ) -> tuple[str, str, str] | None:
        needed: list[str] = []
        for v in (va, vb):
            if isinstance(v, dict):
                needed.append(v["fact"] if "fact" in v else "priority")
        names = list(dict.fromkeys(needed))
        spaces = [[x for x in self.allowed(n, joint, stage) if x is not None] for n in names]
        for combo in itertools.product(*spaces):
            env = dict(zip(names, combo, strict=True))
            la, lb = resolve_level(self.p.levels, va, env), resolve_level(self.p.levels, vb, env)
            if la != lb:
                fixed = [Test(n, "eq", x) for n, x in env.items()]
                example = self.witness(
                    [t for t in joint if t.path not in env] + fixed, stage)
                return _show_level(va, la), _show_level(vb, lb), example
        return None

    # ---- shadowing ----------------------------------------------------------------------
    def check_shadowed(self) -> None:
        rules = self.analysed()
        for bi, b in enumerate(rules):
            group = b.rule.group
            if not group or b.rule.origin != "rule":
                continue
            earlier = [a for a in rules[:bi] if a.rule.group == group and self.can_shadow(a, b)]
            if not earlier:
                continue
            single = next((a for a in earlier if all(
                any(self.implies(cb, ca, b.stage) for ca in a.live) for cb in b.live)), None)
            covering = [single] if single else self.covered_by_union(b, earlier)
            if covering:
                names = _tick([a.id for a in covering])
                self.add("rule_shadowed",
                         f"rule `{b.id}` never fires: whenever it could, {names} of group "
                         f"`{group}` fire{'s' if len(covering) == 1 else ''} first",
                         b.rule.location, b.id,
                         "remove the rule, narrow the earlier rule, or give this rule a higher "
                         "`salience` if it is the more specific case")

    @staticmethod
    def can_shadow(a: _Info, b: _Info) -> bool:
        """Does `a` firing whenever its condition holds say anything at `b`'s time?"""
        if a.stage == b.stage:
            return True
        return not any(t.path in _DERIVED for c in a.live for t in c)

    def covered_by_union(self, b: _Info, earlier: list[_Info]) -> list[_Info]:
        conjs = [(a, c) for a in earlier for c in a.live]
        used: dict[str, _Info] = {}
        for cb in b.live:
            paths: dict[str, list[Test]] = {}
            for t in cb + tuple(t for _, c in conjs for t in c):
                paths.setdefault(t.path, []).append(t)
            own = _by_path(cb)
            spaces = [[v for v in self.values(p, ts, b.stage)
                       if all(t.holds(v) for t in own.get(p, []))] for p, ts in paths.items()]
            if math.prod(len(s) for s in spaces) > MAX_ENUMERATION:
                return []
            names = list(paths)
            for combo in itertools.product(*spaces):
                env = dict(zip(names, combo, strict=True))
                hit = next((a for a, c in conjs if all(t.holds(env[t.path]) for t in c)), None)
                if hit is None:
                    return []
                used[hit.id] = hit
        return list(used.values())

    # ---- unreachable --------------------------------------------------------------------
    def check_unreachable(self) -> None:
        dead = [i for i in self.infos if not i.reached]
        tables_done: set[str] = set()
        for info in dead:
            rule = info.rule
            if rule.origin == "table":
                tid = rule.group or ""
                rows = self.table_rows(tid)
                if all(not r.reached for r in rows):
                    if tid not in tables_done:
                        tables_done.add(tid)
                        index = next(k for k, t in enumerate(self.tables) if t["id"] == tid)
                        code, why, hint = self.why_dead(info)
                        self.add(code, f"no row of table `{tid}` can ever match: {why}",
                                 self.table_location(index, rows), tid, hint)
                    continue
            code, why, hint = self.why_dead(info)
            if rule.origin == "plan":
                pid, _, level = rule.id.removeprefix("plans.").rpartition(".")
                what = f"the {level} target of plan `{pid}` never applies"
                hint = f"remove the target, or check the rules that should set {level}"
            elif rule.origin == "table":
                what = f"row {_row_number(rule.id)} of table `{rule.group}` can never match"
            else:
                what = f"rule `{rule.id}` can never fire"
            self.add(code, f"{what}: {why}", rule.location, rule.id, hint)

    def why_dead(self, info: _Info) -> tuple[str, str, str]:
        conjs = info.conjs
        if not any(self.sat(c, None) for c in conjs):
            reasons = []
            for c in conjs:
                for tests in _by_path(c).values():
                    if not self.sat(tests, None):
                        said = list(dict.fromkeys(t.describe() for t in tests))
                        reasons.append(f"`{said[0]}` can never hold" if len(said) == 1 else
                                       " and ".join(f"`{x}`" for x in said) +
                                       " cannot hold at once")
                        break
            shown = "; ".join(dict.fromkeys(reasons))
            return ("rule_unreachable", f"its conditions contradict each other: {shown}",
                    "remove the contradictory test")
        needs = []
        only_absent = True
        for c in conjs:
            if not self.sat(c, None):
                continue
            for path, tests in _by_path(c).items():
                if path in _DERIVED and not self.sat(tests, info.stage):
                    wanted = [v for v in self.values(path, tests, None)
                              if all(t.holds(v) for t in tests)]
                    if path != "priority" or any(v is not None for v in wanted):
                        only_absent = False
                    needs.append((path, wanted))
        if needs and only_absent and self.always_assigns:
            return ("default_unreachable",
                    "it needs the ticket to have no priority yet, but the assign stage always "
                    f"sets one ({_tick(self.always_assigns)} cover"
                    f"{'s' if len(self.always_assigns) == 1 else ''} every ticket)",
                    "remove the default, or narrow the assign rules so some tickets reach it")
        parts = []
        stage = STAGES[info.stage]
        for path, wanted in dict((p, w) for p, w in needs).items():
            shown = " or ".join(_fmt(v) for v in wanted)
            if path == "priority":
                parts.append(f"it needs `priority` {shown}, which no rule sets at or before "
                             f"stage `{stage}`")
            elif path == "entitlement.guaranteed":
                parts.append("it needs `entitlement.guaranteed` false, but no rule removes the "
                             f"guarantee at or before stage `{stage}`")
            else:
                parts.append(f"it needs `entitlement.plan` {shown}, which no ticket or rule "
                             "produces")
        return ("rule_unreachable", "; ".join(parts) or "no combination of facts satisfies it",
                "check the level or plan it tests, and the stage of the rules that set them")

    # ---- cycles -------------------------------------------------------------------------
    def check_cycles(self) -> list[frozenset[str]]:
        found: list[tuple[list[_Info], list[str], list[Test]]] = []
        for stage in range(len(STAGES)):
            found += self.stage_cycles(stage)
        reported = []
        for members, path, tests in found:
            first = min(members, key=lambda i: i.index)
            steps = " → ".join(path)
            named = _tick([f"{m.id}` ({a} → {b})`" for m, a, b in
                           zip(members, path, path[1:], strict=False)]).replace(")``", ")")
            example = self.witness(tests, first.stage)
            repeat = all(m.rule.repeat for m in members)
            self.add("reclassify_cycle",
                     f"rules {named} change the priority in a cycle {steps} (e.g. {example}); "
                     + ("with `repeat: true` they re-trigger each other until the firing bound "
                        "stops evaluation" if repeat else "each fires once, so the result "
                        "depends on where the ticket enters the cycle"),
                     first.rule.location, first.id,
                     "make the conditions of one rule exclude the others, or test the "
                     "customer's original level (`requested_priority`) instead of `priority`")
            reported.append(frozenset(m.id for m in members))
        return reported

    def stage_cycles(self, stage: int) -> list[tuple[list[_Info], list[str], list[Test]]]:
        levels = self.p.levels
        edges: dict[str, list[tuple[str, _Info, tuple[Test, ...]]]] = {lv: [] for lv in levels}
        for info in self.analysed():
            action = _priority(info.rule)
            if info.stage != stage or action is None:
                continue
            _, value = action
            for conj in info.live:
                if not any(t.path == "priority" and t.op != "absent" for t in conj):
                    continue  # does not test the level: changing it cannot re-trigger the rule
                rest = tuple(t for t in conj if t.path != "priority")
                for lv in self.allowed("priority", conj, stage):
                    if lv is None:
                        continue
                    for to, extra in self.targets(value, lv, conj, stage):
                        if to != lv:
                            edges[lv].append((to, info, rest + extra))
        cycles: list[tuple[list[_Info], list[str], list[Test]]] = []
        seen: list[frozenset[str]] = []

        def dfs(start: int, cap: int, members: list[_Info], path: list[str],
                tests: tuple[Test, ...]) -> None:
            if len(cycles) >= MAX_CYCLES or len(members) >= cap:
                return
            for to, info, extra in edges[path[-1]]:
                groups = {m.rule.group for m in members if m.rule.group}
                if info in members or info.rule.group in groups or levels.index(to) < start:
                    continue
                joint = dedupe(tests + extra)
                if not self.sat(joint, stage):
                    continue
                if levels.index(to) == start:
                    key = frozenset(m.id for m in members) | {info.id}
                    if not any(s <= key for s in seen):
                        seen.append(key)
                        cycles.append(([*members, info], [*path, to], list(joint)))
                elif to not in path:
                    dfs(start, cap, [*members, info], [*path, to], joint)

        for cap in range(2, len(levels) + 1):   # shortest cycles first: supersets are skipped
            for start, lv in enumerate(levels):
                dfs(start, cap, [], [lv], ())
        return cycles

    def targets(self, value: object, level: str, conj: tuple[Test, ...], stage: int
                ) -> list[tuple[str, tuple[Test, ...]]]:
        if isinstance(value, str):
            return [(value, ())]
        assert isinstance(value, dict)
        if "fact" in value:
            return [(v, (Test(value["fact"], "eq", v),))
                    for v in self.allowed(value["fact"], conj, stage) if v is not None]
        return [(shift_level(self.p.levels, level, value), ())]

    # ---- plans --------------------------------------------------------------------------
    def check_plans(self) -> None:
        for pid, plan in self.p.plans.items():
            if not plan.guarantee or plan.targets == "contract":
                continue
            where = self.locate(f"/plans/{_esc(pid)}", key=True, fallback=plan.location)
            if not plan.targets:
                if self.rules_target(pid, None):
                    continue
                self.add("plan_no_targets", f"plan `{pid}` has no response targets and does "
                         "not say `guarantee: false`", where, f"plans.{pid}",
                         "add `targets` per level, `targets: contract`, or `guarantee: false`")
                continue
            reachable = self.levels_upto[STAGES.index("target")]
            missing = [lv for lv in self.p.levels if lv not in plan.targets and lv in reachable
                       and not self.rules_target(pid, lv)
                       and not self.rules_target(pid, lv, "no_guarantee")]
            if missing:
                where = self.locate(f"/plans/{_esc(pid)}/targets", key=True,
                                    fallback=plan.location)
                self.add("plan_missing_target",
                         f"plan `{pid}` sets no response target for {_tick(missing)}: "
                         f"tickets at {'that level' if len(missing) == 1 else 'those levels'} "
                         "get no SLA", where, f"plans.{pid}",
                         f"add {', '.join(f'{lv}: PT…' for lv in missing)} to its targets")

    def rules_target(self, pid: str, level: str | None, action: str = "target") -> bool:
        """Does an author's rule set a target (or `action`) for *every* ticket on this plan
        (at this level)? A rule that needs any other fact (e.g. beta products only) covers
        only some tickets, so it does not excuse a missing target."""
        given = {"entitlement.plan": pid, "entitlement.guaranteed": True}
        for info in self.analysed():
            if info.rule.origin != "rule" or not any(k == action for k, _ in _actions(info.rule)):
                continue
            for conj in info.live:
                if any(t.path not in (*given, "priority") for t in conj):
                    continue  # depends on a ticket fact: covers only some tickets
                if all(t.holds(given[t.path]) for t in conj if t.path in given) and (
                        all(t.holds(level) for t in conj if t.path == "priority")
                        if level is not None else not any(t.path == "priority" for t in conj)):
                    return True
        return False

    # ---- documentation ------------------------------------------------------------------
    def check_documentation(self) -> None:
        for info in self.infos:
            rule = info.rule
            if rule.origin == "rule":
                self.document(rule.id, rule.because, rule.source, rule.location, "rule")
        for index, raw in enumerate(self.tables):
            rows = self.table_rows(raw["id"])
            self.document(raw["id"], raw.get("because"), raw.get("source"),
                          self.table_location(index, rows), "table")
        for pid, plan in self.p.plans.items():
            raw = (self.p.raw.get("plans") or {}).get(pid) or {}
            self.document(f"plans.{pid}", raw.get("because"), plan.source,
                          self.locate(f"/plans/{_esc(pid)}", key=True, fallback=plan.location),
                          "plan")

    def document(self, rid: str, because: object, source: object, where: Location,
                 kind: str) -> None:
        name = rid.removeprefix("plans.") if kind == "plan" else rid
        if not because:
            self.add("missing_because", f"{kind} `{name}` has no `because`", where, rid,
                     "add `because:` — one sentence a reviewer can check against the source")
        if not source:
            self.add("missing_source", f"{kind} `{name}` cites no `source`", where, rid,
                     "add `source: {document: ID, quote: \"...\"}` quoting the clause")

    # ---- unused declarations ------------------------------------------------------------
    def check_unused(self) -> None:
        used_calendars: set[str] = set()
        for plan in self.p.plans.values():
            if plan.calendar:
                used_calendars.add(plan.calendar)
            if isinstance(plan.targets, dict):
                used_calendars.update(t.calendar for t in plan.targets.values())
        used_facts: set[str] = set()
        cited: set[str] = set()
        for info in self.infos:
            rule = info.rule
            if rule.when is not None:
                used_facts.update(t.path for t in rule.when.tests())
            for _, value in _actions(rule):
                if isinstance(value, Target):
                    used_calendars.add(value.calendar)
                elif isinstance(value, dict) and "fact" in value:
                    used_facts.add(value["fact"])
            if rule.source is not None:
                cited.add(rule.source.document)
        for raw in self.tables:
            used_facts.update(raw["inputs"])
            if raw.get("source"):
                cited.add(raw["source"]["document"])
        for plan in self.p.plans.values():
            if plan.source is not None:
                cited.add(plan.source.document)
        for reading in self.p.readings:
            if reading.get("source"):
                cited.add(reading["source"]["document"])
        for name in self.p.calendar_specs:
            if name not in used_calendars:
                self.add("unused_calendar", f"calendar `{name}` is declared but no plan or "
                         "target uses it", self.locate(f"/calendars/{_esc(name)}", key=True),
                         None, "remove it, or name it in a plan's `calendar` or a target")
        for name in self.p.raw.get("facts") or {}:
            if name not in used_facts:
                self.add("unused_fact", f"fact `{name}` is declared but no condition, table or "
                         "action reads it", self.locate(f"/facts/{_esc(name)}", key=True), None,
                         "remove the declaration, or use the fact in a rule")
        for k, src in enumerate(self.p.raw.get("sources") or []):
            if src["id"] not in cited:
                self.add("unused_source", f"source `{src['id']}` is listed but no rule, table, "
                         "plan or reading cites it", self.locate(f"/sources/{k}"), None,
                         "cite it in a `source`, or remove it")


def _show_level(value: object, level: str) -> str:
    if isinstance(value, str):
        return value
    assert isinstance(value, dict)
    if "fact" in value:
        return f"{level} from `{value['fact']}`"
    key = "down" if "down" in value else "up"
    return f"{level} by `{key}: {value[key]}`"


def _show_target(value: object) -> str:
    if isinstance(value, Target):
        hours = value.within.total_seconds() / 3600
        shown = f"{hours:g}h" if hours >= 1 else f"{value.within.total_seconds() / 60:g}min"
        where = f"`{value.calendar}`" if value.calendar else "the plan's calendar"
        return f"{shown} on {where}"
    return str(value)


def _outcome(rule: Rule) -> str:
    action = _priority(rule)
    return str(action[1]) if action else "?"


def _row_number(rule_id: str) -> int:
    try:
        return int(rule_id.rsplit("[", 1)[1].rstrip("]"))
    except (IndexError, ValueError):
        return 0


_esc = escape_token


def _actions(rule: Rule) -> tuple[tuple[str, object], ...]:
    """The rule's actions as (kind, value) pairs (a contract target's value is `contract`)."""
    return tuple((a.kind, a.value) for a in rule.actions)


def _priority(rule: Rule) -> tuple[str, object] | None:
    action = rule.priority_action
    return (action.kind, action.level) if action else None
