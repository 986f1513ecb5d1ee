"""`ticket-policy diff`: static entries, semantic regions against brute force, CLI exit codes."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.ops.diff import diff_policies, render
from engine.ops.diff.semantic import changed_points, fact_space
from engine.ops.diff.sources import load_side
from engine.ops.diff.static import changed_rules, static_diff

RULES = Path(__file__).resolve().parent.parent / "rules"


def _edit(tmp_path: Path, policy: str, old: str, new: str) -> str:
    folder = tmp_path / policy
    shutil.copytree(RULES / policy, folder)
    text = (folder / "policy.yaml").read_text(encoding="utf-8")
    assert old in text
    (folder / "policy.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return str(folder)


@pytest.fixture(scope="module")
def zmanda_cell(tmp_path_factory):
    """(folder, diff): zmanda with the matrix cell (high, medium) raised from P2 to P1, and its
    diff from zmanda, made once for this module (the semantic part decides ~3,600 points twice)."""
    new = _edit(tmp_path_factory.mktemp("zmanda-cell"), "zmanda", "- [high, medium, P2]",
                "- [high, medium, P1]")
    return new, diff_policies("zmanda", new)


def _expand(region, space) -> set[tuple]:
    cells = [space[p] if v == "*" else v for p, v in region.facts]
    return set(itertools.product(*cells))


def test_self_diff_reports_nothing_and_exits_0():
    d = diff_policies("cloudtalk", "cloudtalk")
    assert d.entries == () and d.semantic.changed == 0 and not d.decisions_change
    result = CliRunner().invoke(main, ["diff", "cloudtalk", "cloudtalk"])
    assert result.exit_code == 0, result.output


def test_target_change(tmp_path):
    new = _edit(tmp_path, "cloudtalk", "targets: {P1: PT3H, P2: PT6H, P3: PT9H}",
                "targets: {P1: PT2H, P2: PT6H, P3: PT9H}")
    d = diff_policies("cloudtalk", new)
    [entry] = d.entries
    assert (entry.section, entry.id, entry.change) == ("plans", "professional", "changed")
    assert [(f.field, f.old, f.new) for f in entry.fields] == [("targets.P1", "PT3H", "PT2H")]
    assert entry.old_at.endswith(":47") and entry.new_at.endswith(":47")
    assert d.semantic.changed > 0
    assert {(o, n) for o, n, _ in d.semantic.by_priority} == {("P1", "P1")}
    for r in d.semantic.regions:
        assert dict(r.facts)["plan"] == ("professional",)
        assert r.old["target"]["within"] == "3:00:00" and r.new["target"]["within"] == "2:00:00"


@pytest.mark.xdist_group("diff-zmanda-cell")  # one worker builds `zmanda_cell`
def test_matrix_cell_change(zmanda_cell):
    _, d = zmanda_cell
    [entry] = d.entries
    assert entry.section == "cells" and entry.rule == "urgency-impact[2]"
    assert [(f.old, f.new) for f in entry.fields] == [("P2", "P1")]
    assert d.semantic.by_priority == (("P2", "P1", 9),)
    assert all(dict(r.facts)["urgency"] == ("high",) for r in d.semantic.regions)
    assert all(any(c.startswith("urgency-impact[2] (") for c in r.causes)
               for r in d.semantic.regions)


@pytest.mark.parametrize("policy,old,new,section", [
    ("cloudtalk", "  - id: p1-how-to-is-general\n", "  - id: p1-how-to-is-generalx\n", "rules"),
    ("cloudtalk", 'mon-fri: ["09:00-17:00"]', 'mon-fri: ["08:00-17:00"]', "calendars"),
    ("cloudtalk", "product_stage: [beta, preview]", "product_stage: [beta, preview, ga]",
     "rules"),
])
def test_semantic_agrees_with_brute_force(tmp_path, policy, old, new, section):
    folder = _edit(tmp_path, policy, old, new)
    a, b = load_side(policy), load_side(folder)
    d = diff_policies(policy, folder)
    assert {e.section for e in d.entries} == {section}
    space, why = fact_space(a, b)
    assert why is None
    brute = {p[0] for p in changed_points(a, b, space, changed_rules(static_diff(
        a.document, b.document)))}
    covered: list[tuple] = []
    for r in d.semantic.regions:
        pts = _expand(r, space)
        assert len(pts) == r.count
        covered += pts
    assert len(covered) == len(set(covered))          # regions are disjoint
    assert set(covered) == brute
    if section == "calendars":   # hours change due times, not the decision signature
        assert d.semantic.changed == 0


def test_removed_rule_changes_p1_how_to(tmp_path):
    folder = _edit(tmp_path, "cloudtalk", "  - id: p1-how-to-is-general\n",
                   "  - id: p1-how-to-is-general\n    stage: reclassify\n")
    d = diff_policies("cloudtalk", folder)
    assert d.entries[0].fields[0].field == "stage"


@pytest.mark.slow
@pytest.mark.xdist_group("diff-zmanda-cell")  # one worker builds `zmanda_cell`
def test_cli_exit_codes_and_html_is_escaped(tmp_path, zmanda_cell):
    _, d = zmanda_cell
    page = render(d, "html")
    assert "<svg" in page and "P2 → P1" in page
    urls = re.findall(r"(?:https?:)?//[^\s\"'<>]+", page)
    assert set(urls) <= {"http://www.w3.org/2000/svg"}, urls      # no external asset
    assert "<script" not in page and "src=" not in page
    assert "<script>" not in render(d, "html").replace("<script>", "&lt;")
    assert '"decisions_change": true' in render(d, "json")
    new = _edit(tmp_path, "cloudtalk", "targets: {P1: PT3H, P2: PT6H, P3: PT9H}",
                "targets: {P1: PT2H, P2: PT6H, P3: PT9H}")      # a diff quicker than zmanda's
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["diff", "cloudtalk", new, "--format", "html", "-o",
                                       str(out)])
    assert result.exit_code == 1, result.output
    assert out.read_text(encoding="utf-8") == render(diff_policies("cloudtalk", new), "html")
    assert CliRunner().invoke(main, ["diff", "nope", "zmanda"]).exit_code == 2


def test_unwritable_report_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "nonexistent" / "r.html"
    r = CliRunner().invoke(main, ["diff", "cloudtalk", "cloudtalk", "--format", "html", "-o",
                                  str(missing)])
    assert r.exit_code == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "error[output_unwritable]" in r.stderr
    assert f"cannot write `{missing}`: no such file or directory; hint: " in r.stderr


def test_report_is_written_atomically(tmp_path, monkeypatch):
    import os

    out = tmp_path / "r.md"
    out.write_text("the old report")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    r = CliRunner().invoke(main, ["diff", "cloudtalk", "cloudtalk", "--format", "markdown", "-o",
                                  str(out)])
    assert r.exit_code == 2 and "no space left on device" in r.stderr
    assert out.read_text() == "the old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md"]   # no temporary file left
    monkeypatch.undo()
    assert CliRunner().invoke(main, ["diff", "cloudtalk", "cloudtalk", "--format", "markdown", "-o",
                                     str(out)]).exit_code == 0
    assert out.read_text() != "the old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md"]
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.slow
@pytest.mark.xdist_group("diff-zmanda-cell")  # one worker builds `zmanda_cell`
def test_corpus_groups_changes(tmp_path, zmanda_cell):
    new, _ = zmanda_cell
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        '{"id": "a", "submitted_at": "2026-01-05T10:00:00+00:00", "urgency": "high", '
        '"impact": "medium"}\n{"id": "b", "submitted_at": "2026-01-05T10:00:00+00:00"}\n',
        encoding="utf-8")
    result = CliRunner().invoke(main, ["diff", "zmanda", new, str(corpus)])
    assert result.exit_code == 1
    assert "1 of 2 tickets change" in result.output and "P2 → P1" in result.output


def test_git_reference_against_the_working_copy(monkeypatch):
    root = RULES.parent
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=root,
                            capture_output=True, text=True, check=False)
    if inside.returncode != 0 or subprocess.run(
            ["git", "cat-file", "-e", "HEAD:rules/cloudtalk/policy.yaml"], cwd=root,
            capture_output=True, check=False).returncode != 0:
        pytest.skip("not a git checkout holding rules/cloudtalk")
    monkeypatch.chdir(root)
    committed = subprocess.run(["git", "show", "HEAD:rules/cloudtalk/policy.yaml"],
                               capture_output=True, text=True, check=True).stdout
    expected = 0 if committed == (RULES / "cloudtalk" / "policy.yaml").read_text("utf-8") \
        else None
    result = CliRunner().invoke(main, ["diff", "git:HEAD:rules/cloudtalk", "rules/cloudtalk"])
    assert result.exit_code in (0, 1), result.output
    if expected is not None:
        assert result.exit_code == expected and "none" in result.output
    bad = CliRunner().invoke(main, ["diff", "git:no-such-rev:rules/cloudtalk", "cloudtalk"])
    assert bad.exit_code == 2 and "git cannot show" in bad.output


@pytest.mark.xdist_group("diff-zmanda-cell")  # one worker builds `zmanda_cell`
def test_markdown_report_for_a_pull_request(zmanda_cell):
    md = render(zmanda_cell[1], "markdown")
    assert md.startswith("# Policy diff: zmanda → ")
    assert "## Static changes" in md and "## Decision changes over the fact space" in md
    assert "- P2 → P1: 9" in md


def test_open_fact_space_is_skipped_with_the_reason(tmp_path):
    """The policy-format doc's example reads a number (`seats`): no enumeration, said why."""
    from test_docs import example

    path = str(example(tmp_path))
    d = diff_policies(path, path)
    assert d.semantic.skipped == "fact `seats` is not categorical: the fact space is open"
    assert not d.decisions_change
    assert "skipped: fact `seats` is not categorical" in render(d)
