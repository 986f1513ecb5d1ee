"""Helpers of the UI tests: hostile strings, a policy full of them, a decision log with known
records, a real server process on loopback, and headless Chromium (the system's).

Run as a script, this is the server: `python tests/ui_support.py --log LOG --policies P...`
serves the service app (UI included) with `LOG` as its decision log and prints its URL."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
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
                     "category": "outage"}))
    with DecisionLog.open(path) as log:
        for ref, ticket in tickets:
            result = app.decide(ref, json.dumps(ticket), log=log, request_id=None)
            assert result.ok, result.diagnostics


class UiServer:
    """This file run as a server on a free loopback port (stopped by `stop`)."""

    def __init__(self, log: Path, policies: list[str], *extra: str):
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--log", str(log), *extra, "--policies", *policies],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"the UI server did not start: {line!r} "
                               f"{self.proc.stderr.read() if self.proc.stderr else ''}")
        self.url = line.split()[1]
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the UI server did not get ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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


def _serve(argv: list[str]) -> None:
    import uvicorn

    from engine.adapters.service import ServiceConfig, create_app
    from engine.ops.log import DecisionLog

    parser = argparse.ArgumentParser()
    parser.add_argument("--log")
    parser.add_argument("--ui-log-tries", action="store_true")
    parser.add_argument("--policies", nargs="+", default=[])
    args = parser.parse_args(argv)
    config = ServiceConfig(policies=tuple(args.policies), ui_log_tries=args.ui_log_tries)
    app = create_app(config)
    if args.log:
        app.service.log = DecisionLog.open(args.log)  # what `serve --log` sets up
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"listening http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    _serve(sys.argv[1:])
