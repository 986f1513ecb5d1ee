"""Lint at scale: a 2,000-rule policy, the indexes that keep pairwise analyses near linear
(checked against the exact questions they stand in for), and the package's size limits.
Timings are printed by benchmarks/bench_lint.py, not asserted here."""

from __future__ import annotations

import ast
import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lint_policies import scale_policy

from engine.author.lint import lint_policy
from engine.author.lint.context import Context
from engine.author.lint.index import OverlapIndex, bits, lowest
from engine.author.lint.product import product_masks, value_masks
from engine.check.files import check_file
from engine.core.model import Test
from engine.load import load_yaml_file
from engine.load.policies import display_path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "engine" / "author" / "lint"


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.endswith(needle))


@pytest.mark.slow   # about 2 s of CPU, mostly checking the 2,000 rules; more on a busy machine
def test_lint_scales_to_2000_rules(tmp_path: Path):
    text = scale_policy(2000)
    path = tmp_path / "policy.yaml"
    path.write_text(text, "utf-8")
    model, diags = check_file(path)
    assert model is not None and diags == []
    assert len(model.rules) > 2000
    doc, _ = load_yaml_file(display_path(path))
    found = lint_policy(model, doc)
    assert [(d.code, d.rule, d.location.line) for d in found] == [
        ("rule_conflict", "planted-down", line_of(text, "- id: planted-down")),
        ("rule_unreachable", "planted-contradiction",
         line_of(text, "- id: planted-contradiction")),
        ("rule_shadowed", "planted-outage-production",
         line_of(text, "- id: planted-outage-production")),
        ("missing_because", "planted-undocumented", line_of(text, "- id: planted-undocumented")),
        ("missing_source", "planted-undocumented", line_of(text, "- id: planted-undocumented")),
    ]
    conflict, dead, shadowed = (d.message for d in found[:3])
    assert conflict == (
        "rules `planted-up` and `planted-down` can both fire on one ticket (e.g. "
        "account=acme-planted, priority=P2, environment=production, category=outage, "
        "channel=phone) and set different priorities (P1 vs P3); the outcome depends on "
        "firing order")
    assert dead == ("rule `planted-contradiction` can never fire: its conditions contradict "
                    'each other: `environment is "production"` and `environment is "staging"` '
                    "cannot hold at once")
    assert shadowed == ("rule `planted-outage-production` never fires: whenever it could, "
                        "`planted-outage` of group `planted` fires first")


# ---- the overlap index never drops a pair the exact question would keep ----------------

FACTS = """
id: index
title: Index
version: "1"
sources: [{id: terms, title: Terms}]
levels: [P1, P2, P3]
calendars: {always: 24x7}
facts:
  seats: {type: integer, minimum: 0}
  score: {type: number}
  region: {type: string}
plans:
  standard: {channels: [portal], calendar: always, targets: {P1: PT1H, P2: PT2H, P3: PT3H},
             because: b, source: {document: terms, quote: q}}
default_plan: standard
rules:
  - {id: fallback, then: {default: P3}, because: b, source: {document: terms, quote: q}}
"""

VALUES = {
    "environment": ["production", "staging", "development"],
    "priority": ["P1", "P2", "P3"],
    "entitlement.plan": ["standard"],
    "customer.reachable": [True, False],
    "region": ["eu", "us", "apac"],
    "seats": [0, 5, 10, 11],
    "score": [0.5, 1, 2.5],
}
OPS = {"eq": 1, "ne": 1, "in": 2, "not_in": 2, "present": 0, "absent": 0,
       "lt": 1, "le": 1, "gt": 1, "ge": 1}


@st.composite
def a_test(draw, paths: list[str]) -> Test:
    path = draw(st.sampled_from(paths))
    numeric = path in ("seats", "score")
    op = draw(st.sampled_from([o for o in OPS if numeric or o not in ("lt", "le", "gt", "ge")]))
    pool = VALUES[path]
    if OPS[op] == 0:
        value: object = None
    elif OPS[op] == 1:
        value = draw(st.sampled_from(pool))
    else:
        value = tuple(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3,
                                    unique=True)))
    return Test(path, op, value)


@st.composite
def conjunction_lists(draw, count: int) -> list[tuple[Test, ...]]:
    """`count` conjunctions over one or two fact paths (so that they often meet)."""
    paths = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=2,
                          unique=True))
    conj = st.lists(a_test(paths), min_size=0, max_size=3).map(tuple)
    return draw(st.lists(conj, min_size=count, max_size=count))


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Context:
    path = tmp_path_factory.mktemp("index") / "policy.yaml"
    path.write_text(FACTS, "utf-8")
    model, diags = check_file(path)
    assert model is not None, diags
    return Context(model, None)


def single_tests(path: str) -> list[Test]:
    """Every test on `path` the strategies below can write (one or two listed values)."""
    pool = VALUES[path]
    ops = [o for o in OPS if path in ("seats", "score") or o not in ("lt", "le", "gt", "ge")]
    out = []
    for op in ops:
        if OPS[op] == 0:
            out.append(Test(path, op, None))
        elif OPS[op] == 1:
            out += [Test(path, op, v) for v in pool]
        else:
            out += [Test(path, op, tuple(c)) for r in (1, 2)
                    for c in itertools.combinations(pool, r)]
    return out


@pytest.mark.parametrize("path", sorted(VALUES))
def test_overlap_index_keeps_every_satisfiable_pair_of_tests(context: Context, path: str):
    tests = single_tests(path)
    pairs = [[(a,), (b,)] for a, b in itertools.combinations(tests, 2)]
    items = [[(t,)] for t in tests] + pairs        # one test, or either of two
    index = OverlapIndex(context.p, items)
    for q in tests:
        kept = index.query((q,))
        for k, conjs in enumerate(items):
            if any(context.sat((q, *c), None) for c in conjs):
                assert kept >> k & 1, (q, conjs)


@settings(max_examples=150, deadline=None)
@given(conjs=st.integers(min_value=2, max_value=9).flatmap(conjunction_lists),
       split=st.integers(min_value=0, max_value=8))
def test_overlap_index_keeps_every_satisfiable_pair(context: Context, conjs, split):
    query, rest = conjs[0], conjs[1:]
    cut = split % len(rest)   # items of one or two conjunctions
    items = [[c] for c in rest[:cut]] + [list(p) for p in zip(rest[cut::2], rest[cut + 1::2],
                                                               strict=False)] or [[()]]
    index = OverlapIndex(context.p, items)
    kept = index.query(query)
    for k, conjs in enumerate(items):
        if any(context.sat(query + c, None) for c in conjs):
            assert kept >> k & 1, (query, conjs)
    assert index.query_any([query, ()]) == index.all


@settings(max_examples=100, deadline=None)
@given(conjs=st.integers(min_value=0, max_value=6).flatmap(conjunction_lists))
def test_product_masks_match_testing_every_combination(context: Context, conjs):
    paths = list(dict.fromkeys(t.path for c in conjs for t in c)) or ["environment"]
    spaces = [context.values(p, [t for c in conjs for t in c if t.path == p], None)
              for p in paths]
    assume_small = math.prod(len(s) for s in spaces) <= 5000
    if not assume_small:
        return
    grouped = [{p: [t for t in c if t.path == p] for p in dict.fromkeys(t.path for t in c)}
               for c in conjs]
    masks = value_masks(paths, spaces, grouped)
    got = list(product_masks(spaces, masks, (1 << len(conjs)) - 1))
    want = []
    for combo in itertools.product(*spaces):
        env = dict(zip(paths, combo, strict=True))
        want.append((combo, sum(1 << k for k, c in enumerate(conjs)
                                if all(t.holds(env[t.path]) for t in c))))
    assert got == want


@given(st.integers(min_value=0, max_value=2**300))
def test_bits_lists_the_set_bits_in_order(mask: int):
    assert list(bits(mask)) == [k for k in range(mask.bit_length()) if mask >> k & 1]
    if mask:
        assert lowest(mask) == next(bits(mask))


# ---- the package stays in small pieces ------------------------------------------------

@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_lint_modules_and_classes_stay_small(path: Path):
    text = path.read_text("utf-8")
    assert len(text.splitlines()) <= 400
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            assert node.end_lineno - node.lineno + 1 <= 250, node.name  # type: ignore[operator]
