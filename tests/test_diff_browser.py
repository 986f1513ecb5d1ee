"""The HTML diff report in a real browser: headless Chromium opens it without a console message,
a page error or a request for anything outside the page, and shows its charts (a screenshot
whose pixels hold the bars).

Needs Playwright (`pip install -e '.[test]'`) and Chromium at /usr/bin/chromium (Debian:
`apt-get install -y chromium chromium-driver`; Playwright cannot download a browser here).
Without them the test skips saying so; under CI (which installs them) it fails instead.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.ops.diff.html import BAR

CHROMIUM = Path("/usr/bin/chromium")
RULES = Path(__file__).resolve().parent.parent / "rules"
CORPUS = Path(__file__).resolve().parent.parent / "examples" / "corpus.jsonl"
INSTALL = "apt-get install -y chromium chromium-driver (Debian) and pip install -e '.[test]'"


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the browser test ({INSTALL})")
    pytest.skip(f"{why}: install with {INSTALL}")


def pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data, width = 8, b"", 0
    while pos < len(png):
        size, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + size]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0
            channels = 4 if color == 6 else 3
        elif kind == b"IDAT":
            data += body
        pos += 12 + size
    raw = zlib.decompress(data)
    stride = width * channels
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, [tuple(r[i:i + 3]) for r in rows for i in range(0, stride, channels)]


@pytest.fixture
def report(tmp_path) -> Path:
    """The HTML report of cloudtalk against a copy with the Professional P1 target cut to
    two hours, over the example corpus."""
    folder = tmp_path / "cloudtalk"
    shutil.copytree(RULES / "cloudtalk", folder)
    path = folder / "policy.yaml"
    text = path.read_text("utf-8")
    old = "targets: {P1: PT3H, P2: PT6H, P3: PT9H}"
    assert text.count(old) == 1
    path.write_text(text.replace(old, "targets: {P1: PT2H, P2: PT6H, P3: PT9H}"), "utf-8")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["diff", "cloudtalk", str(folder), str(CORPUS),
                                       "--format", "html", "-o", str(out)])
    assert result.exit_code == 1, result.output
    return out


@pytest.fixture
def sync_playwright():
    """Playwright's entry point, checked (skip, or fail under CI) before the report is built."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM}")
    return sync_playwright


@pytest.mark.slow
def test_html_report_opens_in_chromium_and_shows_its_charts(sync_playwright, report, tmp_path):
    console, errors, requests = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            assert page.title().startswith("Policy diff: cloudtalk")
            for chart_id in ("chart-space", "chart-corpus"):
                chart = page.locator(f"#{chart_id}")
                assert chart.is_visible(), chart_id
                box = chart.bounding_box()
                assert box and box["width"] > 100 and box["height"] > 20
                bars = chart.locator("rect")
                assert bars.count() >= 1
                png = chart.screenshot(path=str(tmp_path / f"{chart_id}.png"))
                width, height, rgb = pixels(png)
                want = tuple(int(BAR[i:i + 2], 16) for i in (1, 3, 5))
                painted = sum(1 for px in rgb if px == want)
                # every bar is at least 2 × 20 px; the widest 320 × 20
                assert painted >= 320 * 20 * 0.9, (chart_id, painted, width, height)
        finally:
            browser.close()
    assert console == [] and errors == [], (console, errors)
    assert requests == [report.as_uri()], requests     # nothing loaded but the page itself
