"""Non-editable installs carry the schemas and every bundled policy (pyproject data-files)."""

from __future__ import annotations

import tomllib

from conftest import ROOT


def test_data_files_list_every_bundled_policy():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    files = data["tool"]["setuptools"]["data-files"]
    assert files["share/ticket-policy/schemas"] == ["schemas/*.json"]
    assert files["share/ticket-policy/mappings"] == ["mappings/*.yaml"]  # bundled mappings
    for folder in sorted(p.parent for p in (ROOT / "rules").glob("*/policy.yaml")):
        name = folder.name
        assert files[f"share/ticket-policy/rules/{name}"] == [f"rules/{name}/policy.yaml"]
        if (folder / "tests").is_dir():
            assert files[f"share/ticket-policy/rules/{name}/tests"] == [
                f"rules/{name}/tests/*.yaml"]
