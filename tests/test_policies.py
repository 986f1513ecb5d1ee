"""Every bundled policy's test cases (rules/<id>/tests/*.yaml), one pytest test per case, plus
the properties the bundled policies promise: full rule coverage, zero validation findings, and
every rule citing its clause verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import load_policy
from engine.author.policytest import check_case, coverage, discover, run_case
from engine.check.files import check_file
from engine.load.policies import bundled
from engine.timeline.evaluator import evaluate as follow

ROOT = Path(__file__).resolve().parent.parent
CASES = discover([ROOT / "rules"])
MODELINE = "# yaml-language-server: $schema=../../schemas/policy.schema.json"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case):
    problems = run_case(case, follow)
    assert not problems, f"{case.where}: {case.note}\n" + "\n".join(problems)


def test_enough_cases():
    assert len(CASES) >= 60


def test_every_bundled_policy_is_fully_covered():
    results = [check_case(c, follow) for c in CASES]
    by_id = {c.policy_id: c for c in coverage(results)}
    assert sorted(by_id) == sorted(bundled())
    for cov in by_id.values():
        assert not cov.uncovered, f"{cov.line()}; not fired: {', '.join(cov.uncovered)}"


@pytest.mark.parametrize("policy_id", sorted(bundled()))
def test_policy_validates_without_findings(policy_id):
    model, diags = check_file(bundled()[policy_id])
    assert model is not None
    assert [d.render() for d in diags] == []


@pytest.mark.parametrize("policy_id", sorted(bundled()))
def test_policy_file_starts_with_modeline(policy_id):
    first = bundled()[policy_id].read_text("utf-8").splitlines()[0]
    assert first == MODELINE


@pytest.mark.parametrize("path", sorted((ROOT / "rules").glob("*/tests/*.yaml")),
                         ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_test_file_starts_with_header_comment(path):
    assert path.read_text("utf-8").startswith("# ")


@pytest.mark.parametrize("policy_id", sorted(bundled()))
def test_every_rule_cites_its_clause(policy_id):
    cp = load_policy(policy_id)
    for rule in cp.rules:
        assert rule.because, f"{rule.id} has no `because`"
        source = rule.source
        assert source is not None, f"{rule.id} cites no source"
        assert source.title, f"{rule.id}: source `{source.document}` has no title"
        assert source.quote.strip() and source.gloss, f"{rule.id}: quote and gloss required"


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _source_files(policy_id: str) -> dict[str, Path]:
    """Each source id -> its document: `location` is relative to the policy file."""
    path = bundled()[policy_id]
    model, _ = check_file(path)
    assert model is not None
    return {sid: path.parent / meta.get("location", "") for sid, meta in model.sources.items()}


@pytest.mark.parametrize("policy_id", sorted(bundled()))
def test_sources_are_shipped_in_the_policy_folder(policy_id):
    """Every source names a file under the policy's own sources/ folder, and every file there
    is a listed source: the repository holds the documents the policy quotes."""
    folder = bundled()[policy_id].parent
    files = _source_files(policy_id)
    for sid, file in files.items():
        assert file.is_file(), f"{policy_id}: source `{sid}`: `{file}` is not a file"
        assert file.resolve().parent == (folder / "sources").resolve(), \
            f"{policy_id}: source `{sid}` lies outside {folder.name}/sources/"
    shipped = {p.resolve() for p in (folder / "sources").glob("*")}
    assert shipped == {f.resolve() for f in files.values()}, "a file in sources/ no source lists"


@pytest.mark.parametrize("policy_id", sorted(bundled()))
def test_quotes_are_verbatim(policy_id):
    """Each quote (pieces joined by " … ") occurs in the source document it cites."""
    cp = load_policy(policy_id)
    texts = {}
    for sid, file in _source_files(policy_id).items():
        assert file.is_file(), f"{policy_id}: source `{sid}`: `{file}` is not a file"
        texts[sid] = _normalise(file.read_text("utf-8"))
    cited = [(r.id, r.source.document, r.source.quote) for r in cp.rules if r.source]
    cited += [(f"readings: {x['topic']}", x["source"]["document"], x["source"]["quote"])
              for x in cp.policy.readings if x.get("source")]
    cited += [(f"metrics: {m.name}", m.source.document, m.source.quote)
              for m in cp.policy.metrics if m.source]
    assert cited
    for where, document, quote in cited:
        for piece in quote.split(" … "):
            assert _normalise(piece) in texts[document], \
                f"{where}: `{piece}` not in {_source_files(policy_id)[document].name}"
