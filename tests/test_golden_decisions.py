"""Golden decisions: every example ticket's full decision JSON (trace included) is pinned.

A change to a policy or to the engine that alters any decision shows up as a diff here.
Regenerate after an intended change, then read the diff:

    python tests/test_golden_decisions.py --regen
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import bundled, evaluate, load_policy  # noqa: E402
from engine.check.tickets import parse_timestamp  # noqa: E402

EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
GOLDEN = ROOT / "tests" / "golden" / "decisions"
NOW = "2026-11-21T12:00:00+00:00"  # a fixed `now` so `remaining` is pinned too (for the
# tickets submitted by then: a `now` before the submission is an input error)


def policy_of(example: Path) -> str:
    ids = sorted(bundled(), key=len, reverse=True)
    return next(pid for pid in ids if example.stem.startswith(pid + "-"))


def decide(example: Path) -> dict:
    """The example's decision; citations never depend on the working directory."""
    cp = load_policy(policy_of(example))
    ticket = json.loads(example.read_text("utf-8"))
    now = parse_timestamp(NOW)
    return evaluate(cp, ticket, now=now if parse_timestamp(ticket["submitted_at"]) <= now
                    else None).to_json()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_decision_matches_golden(example):
    golden = GOLDEN / f"{example.stem}.json"
    assert golden.exists(), f"no golden file; run: python {Path(__file__).name} --regen"
    expected = json.loads(golden.read_text("utf-8"))
    assert decide(example) == expected


def test_every_bundled_policy_has_an_example():
    assert {policy_of(e) for e in EXAMPLES} == set(bundled())


if __name__ == "__main__":
    if "--regen" not in sys.argv:
        sys.exit("usage: python tests/test_golden_decisions.py --regen")
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for example in EXAMPLES:
        path = GOLDEN / f"{example.stem}.json"
        path.write_text(json.dumps(decide(example), indent=2, ensure_ascii=False) + "\n",
                        "utf-8")
        print("wrote", path.relative_to(ROOT))
