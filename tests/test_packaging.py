"""Non-editable installs carry the schemas and every bundled policy, with its test cases and
the source documents it quotes (pyproject data-files)."""

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
        sources = folder / "sources"
        assert sources.is_dir(), f"rules/{name} ships no sources/ folder"
        assert files[f"share/ticket-policy/rules/{name}/sources"] == [
            f"rules/{name}/sources/*.txt"]
        # the pattern ships every document there (and the folder holds no sub-folders)
        assert sorted(sources.iterdir()) == sorted(sources.glob("*.txt")), name


def test_data_files_name_only_existing_folders():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for target, patterns in data["tool"]["setuptools"]["data-files"].items():
        for pattern in patterns:
            assert list(ROOT.glob(pattern)), f"{target}: `{pattern}` matches no file"
