"""What every lint analysis shares: the policy and its document, each rule's conditions in DNF,
the levels each stage can see, representative fact values, and the findings collected so far."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from engine.author.lint.text import fmt
from engine.core.diagnostics import Diagnostic, Location, Severity
from engine.core.logic import MAX_CONJUNCTIONS, TooComplex, dedupe, domain, implicit_tests, to_dnf
from engine.core.model import STAGES, Policy, Rule, Test
from engine.load import Document

#: Every lint code and its severity.
CODES: dict[str, Severity] = {
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
DERIVED = ("priority", "entitlement.plan", "entitlement.guaranteed")
ASSIGN = STAGES.index("assign")

Conj = tuple[Test, ...]


class _Other:
    """A value of an open domain that no test names (a fresh string)."""

    def __repr__(self) -> str:
        return "<other>"


OTHER = _Other()


@dataclass(eq=False)
class Info:
    """A rule as the linter sees it (compared by identity: `index` is unique)."""

    rule: Rule
    index: int                            # position in firing order
    stage: int
    conjs: list[Conj]
    complex: bool = False                 # too many alternatives: no pairwise analysis
    truncated: bool = False               # DNF cut short: assumed reachable
    reached: bool = False
    live: list[Conj] = field(default_factory=list)   # conjunctions that can hold

    @property
    def id(self) -> str:
        return self.rule.id


def by_path(conj: Conj) -> dict[str, list[Test]]:
    """A conjunction's tests grouped by fact path, in order of first appearance."""
    out: dict[str, list[Test]] = {}
    for t in conj:
        out.setdefault(t.path, []).append(t)
    return out


def literals(tests: list[Test]) -> list[object]:
    """The non-null values the tests name, in order (repeats kept)."""
    out: list[object] = []
    for t in tests:
        vals = t.value if isinstance(t.value, tuple) else (t.value,)
        out.extend(v for v in vals if v is not None)
    return out


def row_number(rule_id: str) -> int:
    """The 1-based row of a table rule id `table[row]` (0 when it is not one)."""
    try:
        return int(rule_id.rsplit("[", 1)[1].rstrip("]"))
    except (IndexError, ValueError):
        return 0


class Context:
    """The policy under lint, what the analyses precompute from it, and their findings."""

    def __init__(self, policy: Policy, doc: Document | None):
        self.p = policy
        self.doc = doc
        self.diags: list[Diagnostic] = []
        self.infos: list[Info] = []
        for i, rule in enumerate(policy.rules):
            try:
                conjs = [dedupe(c + implicit_tests(rule)) for c in to_dnf(rule.when)]
                too_big = False
            except TooComplex:  # compile reports it; lint skips what it cannot expand
                conjs, too_big = [], True
            self.infos.append(Info(rule, i, STAGES.index(rule.stage), conjs,
                                   complex=too_big or len(conjs) > MAX_CONJUNCTIONS,
                                   truncated=too_big))
        n = len(STAGES)
        self.levels_upto: list[set[str]] = [set() for _ in range(n)]
        self.unguaranteed_upto = [False] * n
        self.always_assigns: list[str] | None = None   # the assign rules covering every ticket
        self.tables = list(policy.raw.get("tables") or [])
        self._rows: dict[str, list[Info]] | None = None
        self._analysed: list[Info] | None = None

    # ---- reporting ----------------------------------------------------------------------
    def locate(self, pointer: str, *, key: bool = False, fallback: Location | None = None
               ) -> Location:
        """The position of a JSON pointer in the document, or `fallback` without one."""
        if self.doc is not None:
            return self.doc.locate(pointer, key=key)
        return fallback or Location(file=self.p.file, pointer=pointer)

    def add(self, code: str, message: str, location: Location, rule: str | None,
            hint: str | None = None) -> None:
        """Record one finding of `code` (its severity from CODES)."""
        self.diags.append(Diagnostic(code, message, CODES[code], location,  # type: ignore[arg-type]
                                     rule, hint))

    # ---- rules --------------------------------------------------------------------------
    def analysed(self) -> list[Info]:
        """The rules that can fire and are simple enough to compare (after reachability)."""
        if self._analysed is None:
            self._analysed = [i for i in self.infos if i.reached and not i.complex]
        return self._analysed

    def table_rows(self, tid: str) -> list[Info]:
        """The rules generated from table `tid`, in row order."""
        if self._rows is None:
            rows: dict[str, list[Info]] = {}
            for i in self.infos:
                if i.rule.origin == "table":
                    rows.setdefault(i.rule.group, []).append(i)  # type: ignore[arg-type]
            self._rows = {t: sorted(r, key=lambda i: row_number(i.id)) for t, r in rows.items()}
        return self._rows.get(tid, [])

    def table_location(self, index: int, rows: list[Info]) -> Location:
        """Where table number `index` starts."""
        return self.locate(f"/tables/{index}", fallback=rows[0].rule.location if rows else None)

    # ---- value domains ------------------------------------------------------------------
    def values(self, path: str, tests: list[Test], stage: int | None) -> tuple:
        """Representative values of `path`: every value, or one per class the tests tell apart."""
        if stage is not None:
            if path == "priority":
                out: list[object] = [lv for lv in self.p.levels if lv in self.levels_upto[stage]]
                if not (self.always_assigns is not None and stage > ASSIGN):
                    out.append(None)
                return tuple(out)
            if path == "entitlement.plan":
                return (*self.p.plans, *((None,) if self.p.default_plan is None else ()))
            if path == "entitlement.guaranteed":
                return (True, False) if self.unguaranteed_upto[stage] else (True,)
        spec = self.p.facts.get(path)
        if spec is None:
            return (None, OTHER, *dict.fromkeys(literals(tests)))
        finite = domain(spec, self.p)
        if finite is not None:
            return finite
        absent = (None,) if spec.nullable and spec.default is None else ()
        lits = literals(tests)
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

    def allowed(self, path: str, conj: Conj | list[Test], stage: int | None) -> list:
        """The representative values of `path` that satisfy `conj`'s tests on it."""
        tests = [t for t in conj if t.path == path]
        return [v for v in self.values(path, tests, stage) if all(t.holds(v) for t in tests)]

    def sat(self, conj: Conj | list[Test], stage: int | None) -> bool:
        """Can every test of `conj` hold at once (at `stage`, for the derived facts)?"""
        return all(any(all(t.holds(v) for t in tests) for v in self.values(path, tests, stage))
                   for path, tests in by_path(tuple(conj)).items())

    def implies(self, b: Conj, a: Conj, stage: int | None) -> bool:
        """Every assignment satisfying `b` satisfies `a`."""
        if not self.sat(b, stage):
            return True
        bp = by_path(b)
        for path, tests in by_path(a).items():
            btests = bp.get(path, [])
            for v in self.values(path, tests + btests, stage):
                if all(t.holds(v) for t in btests) and not all(t.holds(v) for t in tests):
                    return False
        return True

    def witness(self, conj: Conj | list[Test], stage: int | None) -> str:
        """A readable example of facts satisfying `conj`."""
        parts = []
        for path, tests in by_path(tuple(conj)).items():
            vals = [v for v in self.values(path, tests, stage) if all(t.holds(v) for t in tests)]
            shown = [v for v in vals if v is not None and v is not OTHER]
            if shown:
                parts.append(f"{path}={fmt(shown[0])}")
            elif None in vals:
                parts.append(f"{path} absent")
            else:
                parts.append(" and ".join(t.describe() for t in tests))
        return ", ".join(parts) or "any ticket"

