"""Golden batch runs: a 1,000-line corpus per bundled policy (valid, invalid and hostile lines,
`tests/golden/batch/<policy>.jsonl`, written by `tests/batch_corpus.py`) → the expected JSON
lines (gzipped), CSV and summary. Regenerate after an intended change, then read the diff:

    python tests/test_batch_golden.py --regen
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from batch_corpus import GOLDEN, GOLDEN_LINES, GOLDEN_NOW  # noqa: E402

from engine import Evaluator, bundled, load_policy  # noqa: E402
from engine.app import run_batch  # noqa: E402
from engine.check.tickets import parse_timestamp  # noqa: E402

POLICIES = sorted(bundled())


def batch(pid: str, fmt: str) -> tuple[bytes, str]:
    """The corpus's output in `fmt` and its text summary."""
    corpus = (GOLDEN / f"{pid}.jsonl").read_bytes().splitlines()
    out = io.BytesIO()
    result = run_batch(corpus, out, Evaluator(), policy=load_policy(pid),
                       now=parse_timestamp(GOLDEN_NOW), source_name=f"{pid}.jsonl", fmt=fmt,
                       header=True, summary=True)
    return out.getvalue(), result.summary.render("text")


@pytest.mark.parametrize("pid", POLICIES)
def test_corpus_has_every_kind_of_line(pid):
    lines = (GOLDEN / f"{pid}.jsonl").read_bytes().splitlines()
    assert len(lines) == GOLDEN_LINES
    assert b"" in lines and any(b"NaN" in x for x in lines) and any(b"\xff" in x for x in lines)


@pytest.mark.parametrize("pid", POLICIES)
def test_jsonl_output_and_summary_match_golden(pid):
    out, summary = batch(pid, "jsonl")
    expected = gzip.decompress((GOLDEN / f"{pid}.out.jsonl.gz").read_bytes())
    assert out.count(b"\n") == GOLDEN_LINES
    assert out == expected, f"run: python {Path(__file__).name} --regen, then read the diff"
    assert summary == (GOLDEN / f"{pid}.summary.txt").read_text("utf-8")


@pytest.mark.parametrize("pid", POLICIES)
def test_csv_output_matches_golden(pid):
    out, _ = batch(pid, "csv")
    assert out.decode("utf-8") == (GOLDEN / f"{pid}.out.csv").read_text("utf-8")


if __name__ == "__main__":
    if "--regen" not in sys.argv:
        sys.exit("usage: python tests/test_batch_golden.py --regen")
    for pid in POLICIES:
        out, summary = batch(pid, "jsonl")
        (GOLDEN / f"{pid}.out.jsonl.gz").write_bytes(gzip.compress(out, 9, mtime=0))
        (GOLDEN / f"{pid}.summary.txt").write_text(summary, "utf-8")
        (GOLDEN / f"{pid}.out.csv").write_bytes(batch(pid, "csv")[0])
        print("wrote", pid)
