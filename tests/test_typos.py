"""Typos in every bundled policy are reported at the line of the typo, with a "did you mean".

Mutations are derived from each policy itself: its loaded document says where each fact name,
enum value, level, category and plan id is written (the loader's marks), so policies added later
are covered too. Each mutation makes one typo in the YAML text, writes it to a temporary file and
runs validation (`check_file`) and, when the policy still validates, `lint_policy`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.author.lint import lint_policy
from engine.check.files import check_file
from engine.core.diagnostics import Diagnostic
from engine.core.facts import NOT_CONDITIONABLE
from engine.load import load_yaml_file
from engine.load.policies import display_path

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(ROOT.glob("rules/*/policy.yaml"))
KINDS = ("fact", "enum", "category", "level", "plan")
MAX_PER_KIND = 25
EXPECTED_CODE = {"fact": "unknown_fact", "enum": "unknown_value", "category": "unknown_value",
                 "level": "unknown_level", "plan": "unknown_plan"}


@dataclass(frozen=True)
class Site:
    """One place a name is written: what, where (1-based line/column), and the valid names."""

    kind: str
    word: str
    line: int
    column: int
    choices: frozenset[str]
    pointer: str


def _esc(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def sites(path: Path) -> dict[str, list[Site]]:
    """Every fact name, enum value, level, category and plan id in the policy's rules."""
    doc, diags = load_yaml_file(path)
    assert doc is not None, diags
    model, diags = check_file(path)
    assert model is not None, "\n".join(d.render() for d in diags)
    facts = model.facts
    levels, plans = frozenset(model.levels), frozenset(model.plans)
    conditionable = frozenset(p for p in facts if p not in NOT_CONDITIONABLE)
    found: dict[str, list[Site]] = {k: [] for k in KINDS}

    def add(kind: str, word: object, pointer: str, choices: frozenset[str], key: bool = False):
        if not isinstance(word, str):
            return
        loc = doc.key_marks.get(pointer) if key else doc.marks.get(pointer)
        if loc is None or loc.line is None:
            return
        found[kind].append(Site(kind, word, loc.line, loc.column or 1, choices, pointer))

    def value(path_: str, v: object, pointer: str) -> None:
        spec = facts.get(path_)
        if spec is None:
            return
        if spec.type == "level":
            add("level", v, pointer, levels)
        elif spec.type == "plan":
            add("plan", v, pointer, plans)
        elif spec.enum and all(isinstance(x, str) for x in spec.enum):
            add("category" if path_ == "category" else "enum", v, pointer,
                frozenset(spec.enum))

    def condition(raw: object, pointer: str) -> None:
        if not isinstance(raw, dict):
            return
        for key, test in raw.items():
            kptr = f"{pointer}/{_esc(key)}"
            if key in ("all", "any"):
                for i, sub in enumerate(test):
                    condition(sub, f"{kptr}/{i}")
                continue
            if key == "not":
                condition(test, kptr)
                continue
            add("fact", key, kptr, conditionable, key=True)
            if isinstance(test, list):
                for i, v in enumerate(test):
                    value(key, v, f"{kptr}/{i}")
            elif isinstance(test, dict):
                for op, operand in test.items():
                    if op in ("in", "not_in"):
                        for i, v in enumerate(operand):
                            value(key, v, f"{kptr}/{op}/{i}")
                    elif op in ("eq", "ne"):
                        value(key, operand, f"{kptr}/{op}")
            else:
                value(key, test, kptr)

    data = doc.data
    assert isinstance(data, dict)
    for t, table in enumerate(data.get("tables") or []):
        tptr = f"/tables/{t}"
        condition(table.get("when"), f"{tptr}/when")
        for r, row in enumerate(table["rows"]):
            *cells, outcome = row
            for c, (name, cell) in enumerate(zip(table["inputs"], cells, strict=True)):
                if isinstance(cell, list):
                    for i, v in enumerate(cell):
                        value(name, v, f"{tptr}/rows/{r}/{c}/{i}")
                elif cell != "*":
                    value(name, cell, f"{tptr}/rows/{r}/{c}")
            add("level", outcome, f"{tptr}/rows/{r}/{len(cells)}", levels)
    for i, rule in enumerate(data.get("rules") or []):
        rptr = f"/rules/{i}"
        condition(rule.get("when"), f"{rptr}/when")
        for kind in ("assign", "default", "override", "reclassify"):
            if isinstance(rule["then"].get(kind), str):
                add("level", rule["then"][kind], f"{rptr}/then/{kind}", levels)
        if "use_plan" in rule["then"]:
            add("plan", rule["then"]["use_plan"], f"{rptr}/then/use_plan", plans)
    if "default_plan" in data:
        add("plan", data["default_plan"], "/default_plan", plans)
    return found


def typo(word: str, choices: frozenset[str]) -> str | None:
    """A misspelling of `word` that is not valid and whose closest valid name is `word`."""
    candidates = [word[:i] + word[i + 1:] for i in (len(word) // 2, len(word) // 2 + 1,
                                                     len(word) - 2) if 0 < i < len(word)] \
        if len(word) >= 4 else []
    candidates += [word + word[-1], word[:1] + word]
    for cand in candidates:
        if cand in choices or not cand:
            continue
        if difflib.get_close_matches(cand, list(choices), n=1, cutoff=0.6) == [word]:
            return cand
    return None


def mutate(text: str, site: Site, wrong: str) -> str | None:
    """The policy text with `site`'s word replaced by `wrong` (None if it is not found there)."""
    lines = text.split("\n")
    line = lines[site.line - 1]
    start = site.column - 1
    if line[start:start + 1] in ("'", '"'):
        start += 1
    if line[start:start + len(site.word)] != site.word:
        return None
    lines[site.line - 1] = line[:start] + wrong + line[start + len(site.word):]
    return "\n".join(lines)


def reported(path: Path) -> list[Diagnostic]:
    model, diags = check_file(path)
    if model is not None and not any(d.severity == "error" for d in diags):
        diags = diags + lint_policy(model)
    return diags


def cases() -> Iterator[object]:
    for path in BUNDLED:
        for kind in KINDS:
            yield pytest.param(path, kind, id=f"{path.parent.name}-{kind}")


@pytest.mark.parametrize(("policy", "kind"), list(cases()))
def test_typo_is_reported_at_its_line(policy: Path, kind: str, tmp_path: Path):
    found = sites(policy)[kind]
    if not found:
        pytest.skip(f"{policy.parent.name} has no {kind} in its rules")
    text = policy.read_text("utf-8")
    checked = 0
    for site in found[:MAX_PER_KIND]:
        wrong = typo(site.word, site.choices)
        assert wrong is not None, f"no usable typo for {site.word!r}"
        mutated = mutate(text, site, wrong)
        assert mutated is not None, f"{site.word!r} not at {site.line}:{site.column}"
        target = tmp_path / f"{kind}-{checked}.yaml"
        target.write_text(mutated, "utf-8")
        diags = reported(target)
        where = f"{site.word!r} → {wrong!r} at line {site.line} ({site.pointer})"
        hits = [d for d in diags if d.location.line == site.line
                and d.location.file == display_path(target)]
        assert hits, f"{where}: not reported at its line; got:\n" + \
            "\n".join(d.render() for d in diags)
        best = hits[0]
        assert best.severity == "error", f"{where}: {best.render()}"
        assert best.code == EXPECTED_CODE[kind], f"{where}: {best.render()}"
        assert wrong in best.message, f"{where}: {best.render()}"
        assert best.hint and f"did you mean `{site.word}`?" in best.hint, \
            f"{where}: {best.render()}"
        checked += 1
    assert checked


def test_sites_cover_the_documented_example():
    """The CloudTalk policy's `environment: [staging, development]` is found and mutable."""
    path = ROOT / "rules" / "cloudtalk" / "policy.yaml"
    if not path.exists():
        pytest.skip("cloudtalk policy not present")
    found = sites(path)
    assert any(s.word == "environment" for s in found["fact"])
    assert any(s.word == "staging" for s in found["enum"])
    assert any(s.word == "how_to" for s in found["category"])
    assert typo("environment", found["fact"][0].choices) == "envirnment"
    assert typo("how_to", frozenset({"how_to", "question", "outage"})) == "howto"


def test_mutate_handles_quoted_and_flow_values():
    levels = frozenset({"P1", "P2"})
    quoted = '    when: {prio: "P1"}'
    site = Site("level", "P1", 1, quoted.index('"') + 1, levels, "/x")   # marks point at quote
    assert mutate(quoted, site, "P11") == '    when: {prio: "P11"}'
    flow = "    then: {reclassify: P1}"
    site = Site("level", "P1", 1, flow.index("P1") + 1, levels, "/x")
    assert mutate(flow, site, "P11") == "    then: {reclassify: P11}"
    assert mutate(flow, Site("level", "P1", 1, 2, levels, "/x"), "P11") is None
