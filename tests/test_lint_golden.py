"""Lint findings pinned: every lint fixture and bundled policy in full, and generated policies
(tests/lint_policies.py) by a digest of their findings and a count per code.

The findings were recorded with the single-module linter, before it became the package
engine/author/lint/ with indexed pairwise analyses; any change to a finding — code, message,
order, position, hint — fails here. Regenerate after an intended change, then read the diff:

    python tests/test_lint_golden.py --regen
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from lint_policies import random_policy  # noqa: E402

from engine.author.lint import lint_policy  # noqa: E402
from engine.check.files import check_file  # noqa: E402
from engine.load import load_yaml_file  # noqa: E402
from engine.load.policies import display_path  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "lint" / "findings.json"
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "lint").glob("*.yaml"))
BUNDLED = sorted(ROOT.glob("rules/*/policy.yaml"))
GENERATED = [(seed, None) for seed in range(36)] + [(seed, 40) for seed in range(100, 104)]


def cases() -> dict[str, Callable[[Path], Path]]:
    """Case name -> a function writing (or finding) the policy file, given a scratch folder."""
    out: dict[str, Callable[[Path], Path]] = {}
    for path in FIXTURES:
        out[f"fixture/{path.stem}"] = lambda _, p=path: p
    for path in BUNDLED:
        out[f"bundled/{path.parent.name}"] = lambda _, p=path: p
    for seed, rules in GENERATED:
        name = f"generated/{seed}" + (f"-{rules}-rules" if rules else "")

        def write(folder: Path, seed: int = seed, rules: int | None = rules) -> Path:
            path = folder / f"generated-{seed}-{rules}.yaml"
            path.write_text(random_policy(seed, rules), "utf-8")
            return path

        out[name] = write
    return out


def findings(path: Path, lint: Callable = lint_policy) -> list[dict]:
    """The findings on one policy as JSON, the file reduced to its name."""
    model, diags = check_file(path)
    assert model is not None and not [d for d in diags if d.severity == "error"], \
        "\n".join(d.render() for d in diags)
    doc, _ = load_yaml_file(display_path(path))
    found = lint(model, doc)
    return [{**d.to_json(), "file": Path(d.location.file or "").name} for d in found]


def pinned(name: str, found: list[dict]) -> list[dict] | dict:
    """What the golden file keeps of a case: the findings, or for a generated policy (many
    long messages) a count per code and the SHA-256 of the findings' canonical JSON."""
    if not name.startswith("generated/"):
        return found
    text = json.dumps(found, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return {"codes": dict(sorted(Counter(f["code"] for f in found).items())),
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def record(lint: Callable = lint_policy) -> dict[str, list[dict] | dict]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return {name: pinned(name, findings(make(Path(tmp)), lint))
                for name, make in cases().items()}


@pytest.fixture(scope="module")
def golden() -> dict[str, list[dict] | dict]:
    return json.loads(GOLDEN.read_text("utf-8"))


def test_golden_covers_every_case(golden):
    assert sorted(golden) == sorted(cases())


def test_generated_policies_reach_every_code(golden):
    from engine.author.lint import CODES

    found = {code for name, pin in golden.items() if name.startswith("generated/")
             for code in pin["codes"]}
    assert found == set(CODES)


@pytest.mark.parametrize("name", sorted(cases()))
def test_findings_as_recorded(name: str, golden, tmp_path: Path):
    got = pinned(name, findings(cases()[name](tmp_path)))
    assert got == golden[name]


if __name__ == "__main__":
    if sys.argv[1:] != ["--regen"]:
        raise SystemExit(__doc__)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(record(), indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {GOLDEN.relative_to(ROOT)}")
