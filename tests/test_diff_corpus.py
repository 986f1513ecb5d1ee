"""`ticket-policy diff` over a corpus or a decision log, here and on the batch engine
(`--workers`, `--dask`): the same report whichever host decides."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from log_helpers import build_log, tickets

from cli import main
from engine import load_policy
from engine.ops.diff.corpus import log_tickets

RULES = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture
def zmanda_cell(tmp_path) -> str:
    """zmanda with the matrix cell (high urgency, medium impact) raised from P2 to P1."""
    folder = tmp_path / "zmanda"
    shutil.copytree(RULES / "zmanda", folder)
    path = folder / "policy.yaml"
    text = path.read_text("utf-8")
    assert text.count("- [high, medium, P2]") == 1
    path.write_text(text.replace("- [high, medium, P2]", "- [high, medium, P1]"), "utf-8")
    return str(folder)


@pytest.fixture
def corpus(tmp_path) -> Path:
    """400 generated zmanda tickets and two lines no version can decide."""
    path = tmp_path / "corpus.jsonl"
    generated = list(tickets(load_policy("zmanda"), 380, seed=7))
    # the generator's mix is tuned for benchmarks; 20 tickets the edited cell surely decides
    cell = [{"id": f"CELL-{i}", "submitted_at": f"2026-03-{i + 2:02d}T10:00:00+01:00",
             "plan": "standard", "urgency": "high", "impact": "medium"} for i in range(20)]
    lines = [json.dumps(t) for t in generated[:190] + cell + generated[190:]]
    path.write_text("\n".join(lines[:200] + ["not json", '{"id": "no-time"}'] + lines[200:])
                    + "\n", "utf-8")
    return path


def _diff(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["diff", *args, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)


def _expected_changes(corpus: Path) -> int:
    """Tickets the edited cell decides differently, counted from the tickets themselves: high
    urgency, medium impact, no chosen or engineer's level."""
    n = 0
    for line in corpus.read_text("utf-8").splitlines():
        try:
            t = json.loads(line)
        except ValueError:
            continue
        n += (t.get("urgency") == "high" and t.get("impact") == "medium"
              and "requested_priority" not in t and "agent_priority" not in t
              and "submitted_at" in t)
    return n


@pytest.mark.slow
def test_corpus_diff_counts_exactly_the_changed_tickets(zmanda_cell, corpus):
    code, report = _diff("zmanda", zmanda_cell, str(corpus))
    c = report["corpus"]
    assert code == 1
    assert c["tickets"] == 402 and c["rejected"] == 2
    assert c["changed"] == _expected_changes(corpus) > 0
    assert {g["old"]["priority"] for g in c["groups"]} == {"P2"}
    assert {g["new"]["priority"] for g in c["groups"]} == {"P1"}
    assert sum(g["tickets"] for g in c["groups"]) == c["changed"]
    sample = c["groups"][0]["samples"][0]
    assert any("urgency-impact" in s for s in sample["new_steps"])


@pytest.mark.slow
def test_workers_2_equals_workers_1(zmanda_cell, corpus):
    one = _diff("zmanda", zmanda_cell, str(corpus), "--workers", "1")
    two = _diff("zmanda", zmanda_cell, str(corpus), "--workers", "2")
    here = _diff("zmanda", zmanda_cell, str(corpus))
    assert one == two == here
    assert one[1]["corpus"]["changed"] > 0


@pytest.mark.slow
def test_dask_local_equals_workers_1(zmanda_cell, corpus):
    pytest.importorskip("distributed")
    one = _diff("zmanda", zmanda_cell, str(corpus), "--workers", "1")
    dask = _diff("zmanda", zmanda_cell, str(corpus), "--dask", "local", "--workers", "2")
    assert one == dask


@pytest.mark.slow
def test_diff_over_a_decision_log(tmp_path, zmanda_cell):
    log = tmp_path / "decisions.db"
    build_log(log, 120, policies=("zmanda", "cloudtalk"))
    code, report = _diff("zmanda", zmanda_cell, "--log", str(log))
    c = report["corpus"]
    assert c["tickets"] == 60 and c["rejected"] == 0      # zmanda's records only
    rebuilt = tmp_path / "rebuilt.jsonl"
    rebuilt.write_text("".join(t + "\n" for t in log_tickets(str(log), "zmanda")), "utf-8")
    assert c["changed"] == _expected_changes(rebuilt)
    assert code == 1
    same = _diff("zmanda", "zmanda", "--log", str(log))
    assert same[0] == 0 and same[1]["corpus"]["changed"] == 0


def test_usage_and_input_errors_exit_2(tmp_path, zmanda_cell, corpus):
    runner = CliRunner()
    cases = [["zmanda", zmanda_cell, "--workers", "2"],
             ["zmanda", zmanda_cell, str(corpus), "--log", str(tmp_path / "x.db")],
             ["zmanda", zmanda_cell, str(tmp_path / "missing.jsonl")],
             ["zmanda", zmanda_cell, "--log", str(corpus)]]
    for args in cases:
        result = runner.invoke(main, ["diff", *args])
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert "error[" in result.output.splitlines()[0], result.output
