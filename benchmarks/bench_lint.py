"""Benchmark of engine.author.lint: seconds to lint a generated policy of N rules.

    python benchmarks/bench_lint.py [--rules 1000 2000 10000]

Each policy is CloudTalk's plus N generated rules (tests/lint_policies.py `scale_policy`:
notes on combinations of ticket facts, per-account reclassifications, bands of a number fact,
CloudTalk-like reclassifications) and a few planted defects. Loading and checking are timed
apart from lint; lint gets the loaded Document, so the figure is the analysis alone (without
it, `lint_policy` re-reads the file for positions). Wall and CPU seconds are printed: on a
shared machine the CPU figure is the steadier one. Goal: 2,000 rules under 5 s, 10,000 under
60 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from lint_policies import scale_policy  # noqa: E402

from engine.author.lint import lint_policy  # noqa: E402
from engine.check.files import check_file  # noqa: E402
from engine.load import load_yaml_file  # noqa: E402

GOALS = {2000: 5.0, 10000: 60.0}


def bench(rules: int, folder: Path) -> None:
    path = folder / f"policy-{rules}.yaml"
    path.write_text(scale_policy(rules), "utf-8")
    start = time.perf_counter()
    model, diags = check_file(path)
    doc, _ = load_yaml_file(path)
    checked = time.perf_counter() - start
    if model is None or any(d.severity == "error" for d in diags):
        raise SystemExit("\n".join(d.render() for d in diags))
    wall, cpu = time.perf_counter(), time.process_time()
    found = lint_policy(model, doc)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    goal = GOALS.get(rules)
    verdict = "" if goal is None else f"  (goal < {goal:g} s: {'ok' if wall < goal else 'MISSED'})"
    codes = ", ".join(f"{c} {n}" for c, n in sorted(Counter(d.code for d in found).items()))
    print(f"{rules:>6} rules: lint {wall:6.2f} s wall {cpu:6.2f} s cpu   "
          f"(load+check {checked:5.2f} s)   {len(found)} findings: {codes}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, nargs="+", default=[1000, 2000, 10000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for rules in args.rules:
            bench(rules, Path(tmp))


if __name__ == "__main__":
    main()
