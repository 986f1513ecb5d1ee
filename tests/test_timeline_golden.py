"""Golden timelines: for each bundled policy, tickets with events (examples/timelines/*.json)
whose full decision (history and clocks included) and explain story are pinned.

Regenerate after an intended change, then read the diff:

    python tests/test_timeline_golden.py --regen
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import bundled, evaluate, load_policy  # noqa: E402
from engine.explain.render import render_text  # noqa: E402

EXAMPLES = sorted((ROOT / "examples" / "timelines").glob("*.json"))
GOLDEN = ROOT / "tests" / "golden" / "timelines"


def policy_of(example: Path) -> str:
    ids = sorted(bundled(), key=len, reverse=True)
    return next(pid for pid in ids if example.stem.startswith(pid + "-"))


def outputs(example: Path) -> tuple[dict, str]:
    """The decision (as of the last event) and its explain text, citations inside the folder."""
    decision = evaluate(load_policy(policy_of(example)),
                        json.loads(example.read_text("utf-8")))
    return decision.to_json(), render_text(decision, f"rules/{policy_of(example)}")


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_timeline_matches_golden(example):
    decision, text = outputs(example)
    golden = GOLDEN / f"{example.stem}.json"
    assert golden.exists(), f"no golden file; run: python {Path(__file__).name} --regen"
    assert decision == json.loads(golden.read_text("utf-8"))
    assert text == (GOLDEN / f"{example.stem}.txt").read_text("utf-8")


def test_every_bundled_policy_has_a_timeline():
    assert {policy_of(e) for e in EXAMPLES} == set(bundled())


if __name__ == "__main__":
    if "--regen" not in sys.argv:
        sys.exit("usage: python tests/test_timeline_golden.py --regen")
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for example in EXAMPLES:
        decision, text = outputs(example)
        (GOLDEN / f"{example.stem}.json").write_text(
            json.dumps(decision, indent=2, ensure_ascii=False) + "\n", "utf-8")
        (GOLDEN / f"{example.stem}.txt").write_text(text, "utf-8")
        print("wrote", (GOLDEN / example.stem).relative_to(ROOT), ".json/.txt")
