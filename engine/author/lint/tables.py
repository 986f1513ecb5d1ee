"""Decision tables: gaps (`table_incomplete`), overlapping rows of a `hit: unique` table
(`table_overlap`) and rows of a `hit: first` table that earlier rows cover
(`table_row_unreachable`)."""

from __future__ import annotations

import math

from engine.author.lint.context import DERIVED, MAX_ENUMERATION, MAX_SHOWN, Conj, Context, Info
from engine.author.lint.index import OverlapIndex, bits, lowest
from engine.author.lint.product import Positions, product_masks, value_masks
from engine.author.lint.text import fmt, outcome, tick
from engine.core.logic import domain, to_dnf
from engine.core.model import Test

Cells = dict[str, list[Test]]


def check_tables(ctx: Context) -> None:
    """Every table finding, table by table."""
    for index, raw in enumerate(ctx.tables):
        tid = raw["id"]
        rows = ctx.table_rows(tid)
        inputs = list(dict.fromkeys(raw["inputs"]))
        if not rows:
            continue
        cells = [row_cells(r) for r in rows]
        stage = rows[0].stage
        _completeness(ctx, index, tid, rows, cells, inputs, stage)
        if raw.get("hit", "unique") == "unique":
            _overlaps(ctx, tid, rows, cells, inputs)
        else:
            _dead_rows(ctx, tid, rows, cells, inputs, stage)


def row_cells(row: Info) -> Cells:
    """The tests of a row's own cells (not of the table's shared `when`)."""
    prefix = row.rule.pointer + "/"
    out: Cells = {}
    if row.rule.when is not None:
        for t in row.rule.when.tests():
            if t.pointer.startswith(prefix):
                out.setdefault(t.path, []).append(t)
    return out


def _input_values(ctx: Context, name: str, cells: list[Cells], stage: int) -> tuple:
    tests = [t for c in cells for t in c.get(name, [])]
    return ctx.values(name, tests, stage if name in DERIVED else None)


def shared_conjs(ctx: Context, index: int) -> list[Conj]:
    """The table's shared `when` in DNF (checks puts it first in every row's condition)."""
    raw = ctx.tables[index]
    rows = ctx.table_rows(raw["id"])
    if not raw.get("when") or not rows or rows[0].rule.when is None:
        return []
    return to_dnf(rows[0].rule.when.children[0])


def _completeness(ctx: Context, index: int, tid: str, rows: list[Info], cells: list[Cells],
                  inputs: list[str], stage: int) -> None:
    specs = [ctx.p.facts.get(n) for n in inputs]
    if any(s is None or domain(s, ctx.p) is None for s in specs):
        return
    spaces = [_input_values(ctx, n, cells, stage) for n in inputs]
    if math.prod(len(s) for s in spaces) > MAX_ENUMERATION:
        return
    shared = shared_conjs(ctx, index)

    def applies(env: dict) -> bool:
        if not shared:
            return True
        for conj in shared:
            fixed = [t for t in conj if t.path in env]
            if all(t.holds(env[t.path]) for t in fixed) and ctx.sat(
                    [t for t in conj if t.path not in env], stage):
                return True
        return False

    masks = value_masks(inputs, spaces, cells)
    missing: list[dict] = []
    total = 0
    absent_gap: dict[str, bool] = {}
    for combo, rows_matching in product_masks(spaces, masks, (1 << len(cells)) - 1):
        env = dict(zip(inputs, combo, strict=True))
        if not applies(env):
            continue
        gone = [n for n, v in env.items() if v is None]
        covered = bool(rows_matching)
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
    shown = [", ".join(f"{n}={fmt(v)}" for n, v in env.items()) for env in missing[:MAX_SHOWN]]
    more = f"; and {len(missing) - MAX_SHOWN} more" if len(missing) > MAX_SHOWN else ""
    message = (f"table `{tid}` has no row for {len(missing)} of {total} input combinations: "
               + "; ".join(shown) + more)
    uncovered = [n for n in inputs if absent_gap.get(n) is True]
    with_star = [n for n in inputs if absent_gap.get(n) is False]
    if uncovered:
        message += (f" (absent values: tickets without {tick(uncovered, 'or')} match no "
                    "row either)")
    elif with_star:
        message += f" (absent values: covered by `*` cells for {tick(with_star)})"
    ctx.add("table_incomplete", message, ctx.table_location(index, rows), tid,
            "add rows for the missing combinations, or a rule after the table for the "
            "tickets it leaves without a level")


def _overlaps(ctx: Context, tid: str, rows: list[Info], cells: list[Cells],
              inputs: list[str]) -> None:
    flat = [tuple(t for ts in c.values() for t in ts) for c in cells]
    index = OverlapIndex(ctx.p, [[c] for c in flat])
    for j in range(len(rows)):
        candidates = index.query(flat[j]) & ((1 << j) - 1)
        for i in bits(candidates):
            common = []
            for n in inputs:
                a, b = cells[i].get(n, []), cells[j].get(n, [])
                both = [v for v in ctx.values(n, a + b, None) if all(t.holds(v) for t in a + b)]
                if not both:
                    break
                present = [v for v in both if v is not None]
                common.append(f"{n}={fmt(present[0])}" if present and (a or b) else f"{n}=*")
            else:
                out_i, out_j = outcome(rows[i].rule), outcome(rows[j].rule)
                same = out_i == out_j
                ctx.add(
                    "table_overlap",
                    f"rows {i + 1} and {j + 1} of table `{tid}` (`hit: unique`) both match "
                    f"{', '.join(common)}" + (f" (both {out_i})" if same else
                                              f" ({out_i} vs {out_j})"),
                    rows[j].rule.location, rows[j].id,
                    "merge the two rows" if same else
                    "make the rows disjoint, or declare `hit: first` if the first "
                    "matching row should win")


def _dead_rows(ctx: Context, tid: str, rows: list[Info], cells: list[Cells],
               inputs: list[str], stage: int) -> None:
    values = [_input_values(ctx, n, cells, stage) for n in inputs]
    masks = value_masks(inputs, values, cells)
    positions = [Positions(vals) for vals in values]
    for j in range(1, len(rows)):
        if not rows[j].reached:
            continue
        spaces, row_masks = [], []
        for n, vals, mask, where in zip(inputs, values, masks, positions, strict=True):
            keep = where.matching(cells[j].get(n, []))
            spaces.append([vals[k] for k in keep])
            row_masks.append([mask[k] for k in keep])
        if math.prod(len(s) for s in spaces) > MAX_ENUMERATION:
            continue
        covering: dict[int, None] = {}
        for _, earlier in product_masks(spaces, row_masks, (1 << j) - 1):
            if not earlier:
                break
            covering[lowest(earlier)] = None
        else:
            if not all(spaces):
                continue
            which = tick([str(i + 1) for i in covering]).replace("`", "")
            ctx.add("table_row_unreachable",
                    f"row {j + 1} of table `{tid}` (`hit: first`) never matches: every "
                    f"ticket it matches is taken by row{'s' if len(covering) > 1 else ''} "
                    f"{which}", rows[j].rule.location, rows[j].id,
                    "remove the row, or move it above the rows that cover it")
