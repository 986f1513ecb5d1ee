"""The README's change-impact example is what `ticket-policy diff` prints, and the committed HTML
report (docs/diff/cloudtalk-target.html) is what it writes.

Regenerate both (and the screenshot docs/diff/cloudtalk-target.png, with Chromium) after a
deliberate change of the report, then review them by hand:

    TP_REGEN_GOLDEN=1 python -m pytest -q tests/test_diff_docs.py
"""

from __future__ import annotations

import os
import re
import shutil

import pytest
from click.testing import CliRunner
from conftest import ROOT

from cli import main

README = ROOT / "README.md"
EXAMPLE = ROOT / "docs" / "diff" / "cloudtalk-target.html"
SHOT = ROOT / "docs" / "diff" / "cloudtalk-target.png"
CORPUS = ROOT / "examples" / "corpus.jsonl"
EDIT = ("P1: PT3H, P2: PT6H", "P1: PT2H, P2: PT6H")   # the README's sed


def _section() -> str:
    text = README.read_text("utf-8")
    return text[text.index("## Change impact"):].split("\n## ", 1)[0]


def _run(tmp_path, monkeypatch, *args: str) -> str:
    """`ticket-policy diff` run as the README's commands do, from a checkout's root (here a
    scratch folder holding the edited copy; the bundled policy is the checkout's)."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "scratch" / "cloudtalk-edited"
    if not folder.exists():
        shutil.copytree(ROOT / "rules" / "cloudtalk", folder)
        path = folder / "policy.yaml"
        text = path.read_text("utf-8")
        assert text.count(EDIT[0]) == 1
        path.write_text(text.replace(*EDIT), "utf-8")
    result = CliRunner().invoke(main, ["diff", "cloudtalk", "scratch/cloudtalk-edited",
                                       str(CORPUS), *args])
    assert result.exit_code == 1, result.output
    return result.output


def test_readme_commands_are_the_example(tmp_path):
    section = _section()
    sed = f"sed -i 's/{EDIT[0]}/{EDIT[1]}/' scratch/cloudtalk-edited/policy.yaml"
    assert sed in section
    assert "cp -r rules/cloudtalk scratch/cloudtalk-edited" in section
    assert ("ticket-policy diff cloudtalk scratch/cloudtalk-edited examples/corpus.jsonl"
            in section)
    assert "docs/diff/cloudtalk-target.html" in section and "cloudtalk-target.png" in section
    assert SHOT.exists() and SHOT.read_bytes()[:4] == b"\x89PNG"


def test_readme_shows_what_diff_prints(tmp_path, monkeypatch):
    printed = _run(tmp_path, monkeypatch)
    pattern = re.compile(r"```\n\$ ticket-policy diff cloudtalk scratch/cloudtalk-edited "
                         r"examples/corpus.jsonl\n(.*?)```", re.S)
    block = pattern.search(_section())
    assert block and block.group(1), "the README's example output block is missing"
    if os.environ.get("TP_REGEN_GOLDEN"):
        text = README.read_text("utf-8")
        found = pattern.search(text)
        assert found is not None
        README.write_text(text[:found.start(1)] + printed + text[found.end(1):], "utf-8")
        pytest.skip("README example regenerated: review it by hand")
    assert block.group(1) == printed


def test_committed_html_report_is_current(tmp_path, monkeypatch):
    _run(tmp_path, monkeypatch, "--format", "html", "-o", "report.html")
    page = (tmp_path / "report.html").read_text("utf-8")
    if os.environ.get("TP_REGEN_GOLDEN"):
        EXAMPLE.parent.mkdir(parents=True, exist_ok=True)
        EXAMPLE.write_text(page, "utf-8")
        _screenshot()
        pytest.skip("docs/diff example regenerated: review it by hand")
    assert page == EXAMPLE.read_text("utf-8")


def _screenshot() -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(EXAMPLE.as_uri(), wait_until="load")
        page.screenshot(path=str(SHOT), full_page=True)
        browser.close()
