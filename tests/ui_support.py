"""Helpers of the UI tests: hostile strings, a policy full of them, a decision log with known
records, a real `ticket-policy serve` process on loopback, and headless Chromium (the
system's)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM = Path(os.environ.get("TICKET_POLICY_CHROMIUM", "/usr/bin/chromium"))
HOW_TO_INSTALL = ("the browser tests need the system Chromium at /usr/bin/chromium and the "
                  "`playwright` package: `apt-get install -y chromium chromium-driver` and "
                  "`pip install -e '.[test]'` (.ci/run installs both)")
ARTIFACTS = ROOT / "tests" / "artifacts"

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
HOSTILE = (SCRIPT, IMG)

# CT-201 of rules/cloudtalk/tests/plans.yaml: Friday 16:30 P1 on Professional (3 business
# hours, Mon-Fri 09:00-17:00 Bratislava) is due Monday 11:30; answered Monday 10:00.
KNOWN = {"id": "CT-201", "submitted_at": "2026-03-06T16:30:00+01:00", "requested_priority": "P1",
         "environment": "production", "plan": "professional",
         "first_response_at": "2026-03-09T10:00:00+01:00"}

HOSTILE_POLICY = f"""\
id: hostile
title: 'Hostile {SCRIPT}'
version: "1"
description: 'described {IMG}'
sources:
  - {{id: doc, title: 'Doc {SCRIPT}', language: nl}}
levels: [P1, P2]
level_titles: {{P1: 'Urgent {IMG}', P2: 'Normal {SCRIPT}'}}
calendars:
  office:
    timezone: Europe/Berlin
    hours: {{mon-fri: ["09:00-17:00"]}}
plans:
  std:
    title: 'Standard {IMG}'
    channels: [email]
    calendar: office
    targets: {{P1: PT1H, P2: PT4H}}
default_plan: std
audit_fields: [subject]
rules:
  - id: outage-is-p1
    when: {{category: outage}}
    then: {{assign: P1, note: 'note {SCRIPT}'}}
    because: 'because {IMG}'
    source:
      document: doc
      quote: 'quote {SCRIPT}'
      gloss: 'gloss {IMG}'
  - id: default-p2
    then: {{default: P2}}
"""


def write_policies(folder: Path) -> list[str]:
    """The `--policies` of the UI server: two bundled policies (one with a decision table)
    and the hostile one."""
    (folder / "hostile").mkdir(parents=True, exist_ok=True)
    (folder / "hostile" / "policy.yaml").write_text(HOSTILE_POLICY, encoding="utf-8")
    return ["cloudtalk", "csd-group", str(folder / "hostile")]


def prepare(base: Path) -> tuple[list[str], Path]:
    """In `base`: the served policies (`write_policies`) and a decision log (`fill_log`)."""
    policies = write_policies(base / "policies")
    fill_log(base / "decisions.db")
    return policies, base / "decisions.db"


def fill_log(path: Path) -> None:
    """A decision log with the known ticket, a hostile ticket id under each policy, and a
    hostile ticket of the hostile policy."""
    from engine import app
    from engine.ops.log import DecisionLog

    tickets = [("cloudtalk", KNOWN)]
    for i, text in enumerate(HOSTILE):
        tickets.append(("cloudtalk", {**KNOWN, "id": f"X{i} {text}"}))
    tickets.append((str(path.parent / "policies" / "hostile"),
                    {"id": f"H {SCRIPT}", "submitted_at": "2026-03-06T10:00:00+01:00",
                     "category": "outage", "subject": f"subject {IMG}"}))
    with DecisionLog.open(path) as log:
        for ref, ticket in tickets:
            result = app.decide(ref, json.dumps(ticket), log=log, request_id=None)
            assert result.ok, result.diagnostics


def ui_server(log: Path, policies: list[str], *extra: str):
    """`ticket-policy serve --log LOG --policies ...` on a free loopback port (one worker);
    `.url`, `.close()`."""
    from service_support import ServerProcess

    args = ["--log", str(log), *extra]
    for p in policies:
        args += ["--policies", p]
    return ServerProcess(*args, workers=1)


def chromium_or_skip():
    """Playwright's Chromium launcher over the system Chromium, or a skip saying how to get
    it (never a silent pass)."""
    import pytest

    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"no Chromium at {CHROMIUM}: {HOW_TO_INSTALL}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(f"playwright is not installed: {HOW_TO_INSTALL}")
    return sync_playwright
