"""An index that keeps lint's pairwise questions near linear: `OverlapIndex` names the items
(rules, cycle edges, table rows) whose tests may hold together with a given conjunction, so
an analysis asks its exact, costly question of those only. Sets of items are Python ints,
item k = bit k.

The overlap test is per fact path and only ever too generous. A fact with a finite domain is
compared by the values each side allows; a number fact by the absent value and the closed
hull of the numbers allowed; any other fact by the values `eq`, `in` or `absent` pin it to,
and a test that pins nothing (`ne`, `not_in`, `present`) is taken to overlap everything.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeGuard

from engine.author.lint.context import Conj, by_path
from engine.core.logic import domain
from engine.core.model import Policy, Test

_INF = float("inf")
_BLOCK = 64   # items per precomputed prefix of an interval list


def bits(mask: int) -> Iterator[int]:
    """The positions of the set bits of `mask`, lowest first."""
    text = bin(mask)
    last = len(text) - 1
    i = text.rfind("1")
    while i > 1:
        yield last - i
        i = text.rfind("1", 0, i)


def lowest(mask: int) -> int:
    """The position of the lowest set bit of a non-zero `mask`."""
    return (mask & -mask).bit_length() - 1


def pins(tests: Sequence[Test]) -> tuple | None:
    """Values one of the tests restricts its path to (None: no test pins the path down)."""
    for t in tests:
        if t.op == "eq":
            return (t.value,)
        if t.op == "absent":
            return (None,)
        if t.op == "in" and isinstance(t.value, tuple):
            return t.value
    return None


def _number(v: object) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class _Range:
    """What tests allow a number fact: absence or not, and numbers in [lo, hi] (none if
    lo > hi)."""

    absent: bool
    lo: float
    hi: float

    @staticmethod
    def of(tests: Sequence[Test]) -> _Range:
        lo, hi = -_INF, _INF
        for t in tests:
            op, c = t.op, t.value
            if op in ("lt", "le") and _number(c):
                hi = min(hi, c)
            elif op in ("gt", "ge") and _number(c):
                lo = max(lo, c)
            elif op == "eq" and _number(c):
                lo, hi = max(lo, c), min(hi, c)
            elif op == "absent" or (op == "eq" and c is None):
                lo, hi = _INF, -_INF
            elif op == "in" and isinstance(c, tuple) and all(_number(v) or v is None for v in c):
                nums = [v for v in c if v is not None]
                lo, hi = (max(lo, min(nums)), min(hi, max(nums))) if nums else (_INF, -_INF)
        return _Range(all(t.holds(None) for t in tests), lo, hi)

    @property
    def numbers(self) -> bool:
        return self.lo <= self.hi

    @property
    def wide(self) -> bool:
        return self.absent and self.lo == -_INF and self.hi == _INF

    def union(self, other: _Range) -> _Range:
        if not other.numbers:
            lo, hi = self.lo, self.hi
        elif not self.numbers:
            lo, hi = other.lo, other.hi
        else:
            lo, hi = min(self.lo, other.lo), max(self.hi, other.hi)
        return _Range(self.absent or other.absent, lo, hi)


class _Intervals:
    """Items with closed intervals; `overlapping(lo, hi)` is the set of those meeting [lo, hi]."""

    def __init__(self, entries: list[tuple[float, float, int]]):
        by_lo = sorted(entries, key=lambda e: e[0])
        by_hi = sorted(entries, key=lambda e: e[1])
        self.los = [e[0] for e in by_lo]
        self.lo_bits = [e[2] for e in by_lo]
        self.his = [e[1] for e in by_hi]
        self.hi_bits = [e[2] for e in by_hi]
        blocks = -(-len(entries) // _BLOCK)
        self.prefix = [0] * (blocks + 1)     # prefix[j]: OR of lo_bits[:j * _BLOCK]
        for j in range(1, blocks + 1):
            self.prefix[j] = self.prefix[j - 1] | _or(self.lo_bits[(j - 1) * _BLOCK:j * _BLOCK])
        self.suffix = [0] * (blocks + 1)     # suffix[j]: OR of hi_bits[j * _BLOCK:]
        for j in range(blocks - 1, -1, -1):
            self.suffix[j] = self.suffix[j + 1] | _or(self.hi_bits[j * _BLOCK:(j + 1) * _BLOCK])

    def overlapping(self, lo: float, hi: float) -> int:
        m = bisect_right(self.los, hi)       # items starting at or before hi
        j = m // _BLOCK
        starts = self.prefix[j] | _or(self.lo_bits[j * _BLOCK:m])
        m = bisect_left(self.his, lo)        # items ending at or after lo
        j = -(-m // _BLOCK)
        ends = self.suffix[j] | _or(self.hi_bits[m:j * _BLOCK])
        return starts & ends


def _or(masks: Sequence[int]) -> int:
    out = 0
    for m in masks:
        out |= m
    return out


Constraint = set | _Range


class OverlapIndex:
    """Which of a list of items (each a disjunction of conjunctions) may hold together with a
    conjunction. `query` answers a superset of the items some of whose conjunctions are
    jointly satisfiable with it; callers then ask the exact question of those only."""

    def __init__(self, policy: Policy, items: Sequence[Sequence[Conj]]):
        self.policy = policy
        self.all = (1 << len(items)) - 1
        self._kinds: dict[str, tuple | str] = {}
        self.bounded: dict[str, int] = {}                 # path -> items limited there
        self.by_value: dict[str, dict[object, int]] = {}  # path -> value -> items allowing it
        self.absent: dict[str, int] = {}                  # number path -> items allowing absent
        entries: dict[str, list[tuple[float, float, int]]] = {}
        for k, conjs in enumerate(items):
            bit = 1 << k
            for path, limit in self._item_constraints(conjs).items():
                self.bounded[path] = self.bounded.get(path, 0) | bit
                if isinstance(limit, _Range):
                    if limit.absent:
                        self.absent[path] = self.absent.get(path, 0) | bit
                    if limit.numbers:
                        entries.setdefault(path, []).append((limit.lo, limit.hi, bit))
                    continue
                slot = self.by_value.setdefault(path, {})
                for v in limit:
                    slot[v] = slot.get(v, 0) | bit
        self.intervals = {p: _Intervals(e) for p, e in entries.items()}

    def _kind(self, path: str) -> tuple | str:
        """A finite domain's values, "number" for a number fact, or "open"."""
        if path not in self._kinds:
            spec = self.policy.facts.get(path)
            values = domain(spec, self.policy) if spec is not None else None
            self._kinds[path] = (values if values is not None else
                                 "number" if spec is not None and spec.comparable else "open")
        return self._kinds[path]

    def constraint(self, path: str, tests: Sequence[Test]) -> Constraint | None:
        """What the tests allow `path`: a set of values, a `_Range` for a number fact, or
        None when that is not bounded."""
        kind = self._kind(path)
        if kind == "number":
            limit = _Range.of(tests)
            return None if limit.wide else limit
        candidates = kind if isinstance(kind, tuple) else pins(tests)
        if candidates is None:
            return None
        try:
            return {v for v in candidates if all(t.holds(v) for t in tests)}
        except TypeError:  # an unhashable value: do not filter on this path
            return None

    def _item_constraints(self, conjs: Sequence[Conj]) -> dict[str, Constraint]:
        out: dict[str, Constraint] | None = None
        for conj in conjs:
            limits = {}
            for path, tests in by_path(conj).items():
                limit = self.constraint(path, tests)
                if limit is not None:
                    limits[path] = limit
            if out is None:
                out = limits
                continue
            joined: dict[str, Constraint] = {}
            for p, limit in limits.items():
                if p in out:
                    seen = out[p]
                    joined[p] = (seen.union(limit) if isinstance(seen, _Range) else  # type: ignore[arg-type]
                                 seen | limit)  # type: ignore[operator]
            out = joined
        return out or {}

    def query(self, conj: Conj | Sequence[Test]) -> int:
        """The items that may hold together with `conj`."""
        mask = self.all
        for path, tests in by_path(tuple(conj)).items():
            limit = self.constraint(path, tests)
            if limit is None:
                continue
            m = self.all & ~self.bounded.get(path, 0)
            if isinstance(limit, _Range):
                if limit.absent:
                    m |= self.absent.get(path, 0)
                if limit.numbers and path in self.intervals:
                    m |= self.intervals[path].overlapping(limit.lo, limit.hi)
            else:
                slot = self.by_value.get(path, {})
                for v in limit:
                    m |= slot.get(v, 0)
            mask &= m
            if not mask:
                break
        return mask

    def query_any(self, conjs: Sequence[Conj]) -> int:
        """The items that may hold together with one of `conjs`."""
        mask = 0
        for conj in conjs:
            mask |= self.query(conj)
        return mask
