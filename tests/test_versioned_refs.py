"""A folder of effective-dated versions (`versions/*.yaml`, no policy.yaml) where one rule file
is wanted: `diff` compares its latest version (or the one `@VERSION` names), as `policies`
lists it; `load_policy` says why it cannot take the folder instead of calling it no policy."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from versions_support import versioned_folder

from cli import main
from engine import load_policy
from engine.core.diagnostics import DiagnosticError


def _diff(*args: str):
    return CliRunner().invoke(main, ["diff", "--format", "json", *args])


def test_diff_takes_the_latest_version_of_a_versions_folder(tmp_path):
    folder = versioned_folder(tmp_path)
    same = _diff(str(folder / "versions" / "2026.2.yaml"), str(folder))
    assert same.exit_code == 0, same.output + same.stderr
    changed = _diff(str(folder / "versions" / "2026.1.yaml"), str(folder))
    assert changed.exit_code == 1, changed.output + changed.stderr
    assert json.loads(changed.stdout)["decisions_change"]


def test_diff_takes_a_named_version(tmp_path):
    folder = versioned_folder(tmp_path)
    r = _diff(f"{folder}@2026.1", str(folder / "versions" / "2026.1.yaml"))
    assert r.exit_code == 0, r.output + r.stderr


def test_load_policy_names_the_versions_a_folder_holds(tmp_path):
    folder = versioned_folder(tmp_path)
    with pytest.raises(DiagnosticError) as err:
        load_policy(folder)
    (d,) = err.value.diagnostics
    assert d.code == "unknown_policy"
    assert "holds versions (`2026.1`, `2026.2`) and no policy.yaml" in d.message
    assert "2026.2.yaml" in (d.hint or "")
