"""Helpers of the service tests: a synchronous client over the ASGI app (httpx, run on this
thread's event loop) and a real `ticket-policy serve` process on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from conftest import BASE, ROOT

from engine.adapters.service import ServiceConfig, create_app

TOKEN = "s3cret-token-for-tests"
EXAMPLE = ROOT / "examples" / "cloudtalk-staging-p1.json"
JSON_HEADERS = {"Content-Type": "application/json"}

# a policy whose two rules re-trigger each other on outage tickets: it fails to decide (500)
CYCLE = BASE.replace("id: mini", "id: cycle") + """\
rules:
  - id: start
    when: {category: outage}
    then: {assign: P2}
  - id: demote
    repeat: true
    when: {priority: P2}
    then: {reclassify: P3}
  - id: promote
    repeat: true
    when: {priority: P3}
    then: {reclassify: P2}
"""
MINI = BASE + """\
rules:
  - id: outage-is-p1
    when: {category: outage}
    then: {assign: P1}
"""


def write_policies(folder: Path) -> Path:
    """A folder of two test policies: `mini` and `cycle`."""
    for name, text in (("mini", MINI), ("cycle", CYCLE)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "policy.yaml").write_text(text, encoding="utf-8")
    return folder


class AsgiClient:
    """httpx over the ASGI app, in-process; the event loop runs on the calling thread (the one
    that owns the service's Evaluator)."""

    kind = "asgi"

    def __init__(self, app):
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://testserver")

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, url, **kw))

    def get(self, url: str, **kw) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return self.request("POST", url, **kw)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


def asgi_client(policies: tuple[str, ...], token_file: Path | None = None, load: bool = True,
                **config) -> AsgiClient:
    app = create_app(ServiceConfig(policies=policies, echo=True,
                                   admin_token_file=str(token_file) if token_file else None,
                                   **config))
    if load:
        assert app.service.load().accepted
    return AsgiClient(app)


class ServerProcess:
    """`ticket-policy serve --port 0 ...` (loopback only), its log lines collected."""

    kind = "process"

    def __init__(self, *args: str, workers: int = 2, cwd: Path = ROOT, session: bool = False):
        """`session`: in a process group of its own (its workers too), for `os.killpg`."""
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "serve", "--host", "127.0.0.1", "--port", "0",
             "--workers", str(workers), *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=session)
        self.lines: list[dict] = []
        self.url = self._listening()
        threading.Thread(target=self._drain, daemon=True).start()
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self.wait_ready(workers)

    def _listening(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError(f"serve exited with {self.proc.wait()}")
            event = self._parse(line)
            if event.get("message") == "listening":
                assert event["host"] == "127.0.0.1"
                return event["url"]
        raise RuntimeError("serve did not listen in time")

    def _parse(self, line: str) -> dict:
        try:
            event = json.loads(line)
        except ValueError:
            event = {"message": line.rstrip()}
        self.lines.append(event)
        return event

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self._parse(line)

    def fresh(self, method: str, path: str, **kw) -> httpx.Response:
        """A request on a new connection (so any worker may answer it)."""
        with httpx.Client(base_url=self.url, timeout=30) as c:
            return c.request(method, path, **kw)

    def worker_pids(self, expected: int, timeout: float = 30) -> set[int]:
        """The pids of the workers answering /readyz, once `expected` distinct ones did."""
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                r = self.fresh("GET", "/readyz")
            except httpx.TransportError:
                continue
            if r.status_code == 200:
                seen.add(r.json()["pid"])
                if len(seen) >= expected:
                    return seen
        raise AssertionError(f"only workers {seen} became ready")

    def wait_ready(self, workers: int) -> None:
        self.worker_pids(workers)

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        return self.client.request(method, url, **kw)

    def get(self, url: str, **kw) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return self.request("POST", url, **kw)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def close(self) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
