"""The code base is ruff-clean and mypy-clean, both configured in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import ROOT


def test_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    result = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean():
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[test]')")
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_version():
    assert sys.version_info >= (3, 11)


MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 250


def test_modules_and_classes_stay_small():
    """No module in engine/ over 450 lines, no class over 250: a bigger one holds two jobs."""
    import ast

    big = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        text = path.read_text("utf-8")
        rel = path.relative_to(ROOT)
        if text.count("\n") > MAX_MODULE_LINES:
            big.append(f"{rel}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    big.append(f"{rel}:{node.lineno}: class {node.name} has {size} lines")
    assert not big, "\n".join(big)


@pytest.mark.xdist_group("probe")
def test_xdist_groups_take_effect(request):
    """Tests of one `xdist_group` share a worker (and its module fixtures) only if xdist's
    loadgroup sees the group: pytest 9.2 broke that (pytest-dev/pytest-xdist#1386)."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run by pytest-xdist with --dist loadgroup")
    assert request.node.nodeid.endswith("@probe"), request.node.nodeid
