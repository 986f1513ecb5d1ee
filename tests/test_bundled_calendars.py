"""The golden calendar tables test exactly the calendars the bundled policies declare."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from engine import load_policy

GOLDEN = sorted((ROOT / "tests" / "golden" / "calendars").glob("*.yaml"))


def _split(path: Path) -> tuple[str, str]:
    for pid in ("csd-group", "cloudtalk", "credenti", "zmanda"):
        if path.stem.startswith(pid + "-"):
            return pid, path.stem[len(pid) + 1:]
    raise AssertionError(f"golden file {path.name} names no bundled policy")


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_spec_is_the_bundled_calendar(path):
    pid, name = _split(path)
    golden = yaml.safe_load(path.read_text())
    policy = load_policy(pid).policy
    spec = dict(policy.calendar_specs[name])
    spec.pop("description", None)
    assert golden["spec"] == spec


def test_every_bundled_calendar_has_a_golden_table():
    from engine import bundled

    have = {_split(p) for p in GOLDEN}
    for pid in bundled():
        for name in load_policy(pid).policy.calendars:
            assert (pid, name) in have, f"no golden table for {pid} calendar {name}"
