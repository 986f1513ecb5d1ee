"""Service behaviour only reachable in-process: not ready (503), a body that never arrives
(408), disabled admin endpoints, an unexpected error (500 without a traceback), the mapping
pass-through, `serve --check`, and the README's curl example against a real server."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import shutil
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner
from conftest import ROOT
from service_support import EXAMPLE, JSON_HEADERS, TOKEN, ServerProcess, asgi_client

from cli import main
from engine.adapters.service import routes

DECIDE = "/v1/policies/cloudtalk/decisions"


def _problem(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert code in [d["code"] for d in r.json()["diagnostics"]]
    return r.json()


def test_not_ready_is_503_until_the_policies_are_compiled():
    c = asgi_client(("cloudtalk",), load=False)
    try:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        _problem(r, 503, "not_ready")
        assert r.headers["retry-after"] == "1"
        _problem(c.post(DECIDE, content=EXAMPLE.read_bytes(), headers=JSON_HEADERS), 503,
                 "not_ready")
        _problem(c.get("/v1/policies"), 503, "not_ready")
        assert c.app.service.load().accepted
        assert c.get("/readyz").status_code == 200
    finally:
        c.close()


def test_a_body_that_does_not_arrive_in_time_is_408():
    c = asgi_client(("cloudtalk",), request_timeout=0.2)

    async def call():
        sent = []

        async def receive():
            await asyncio.sleep(5)
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": DECIDE, "raw_path": DECIDE.encode(),
                 "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 80), "headers": [(b"content-type", b"application/json"),
                                                          (b"host", b"t")]}
        await c.app(scope, receive, send)
        return sent

    try:
        sent = c.loop.run_until_complete(call())
        assert sent[0]["status"] == 408
        body = json.loads(sent[1]["body"])
        assert body["diagnostics"][0]["code"] == "request_timeout"
    finally:
        c.close()


def test_a_client_that_disconnects_mid_body_is_logged_499_not_an_error(caplog):
    c = asgi_client(("cloudtalk",))

    async def call():
        sent = []
        messages = [{"type": "http.disconnect"},
                    {"type": "http.request", "body": b'{"id":', "more_body": True}]

        async def receive():
            return messages.pop()

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": DECIDE, "raw_path": DECIDE.encode(),
                 "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 80), "headers": [(b"content-type", b"application/json"),
                                                          (b"host", b"t")]}
        await c.app(scope, receive, send)
        return sent

    caplog.set_level("INFO", logger="ticket_policy")
    try:
        sent = c.loop.run_until_complete(call())
        assert sent[0]["status"] == 499
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
    finally:
        c.close()


def test_admin_endpoints_are_disabled_without_a_token():
    c = asgi_client(("cloudtalk",))
    try:
        r = c.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        _problem(r, 404, "admin_disabled")
    finally:
        c.close()


def test_an_unexpected_error_is_a_500_problem_without_traceback(monkeypatch):
    c = asgi_client(("cloudtalk",))

    def boom(*a, **k):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(routes.app, "decide", boom)
    try:
        body = _problem(c.post(DECIDE, content=EXAMPLE.read_bytes(), headers=JSON_HEADERS),
                        500, "internal_error")
        assert "internal detail" not in json.dumps(body) and "Traceback" not in json.dumps(body)
    finally:
        c.close()


def test_mapping_is_passed_to_the_use_case_when_the_build_has_mappings(monkeypatch):
    seen = {}
    real = routes.app.decide

    def decide(*args, mapping=None, **kwargs):
        seen["mapping"] = mapping
        return real(*args, **kwargs)

    monkeypatch.setattr(routes, "MAPPINGS", True)
    monkeypatch.setattr(routes.app, "decide", decide)
    c = asgi_client(("cloudtalk",), mapping="jira")
    try:
        r = c.post(DECIDE, content=EXAMPLE.read_bytes(), headers=JSON_HEADERS,
                   params={"mapping": "zendesk"})
        assert r.status_code == 200 and seen["mapping"] == "zendesk"
        c.post(DECIDE, content=EXAMPLE.read_bytes(), headers=JSON_HEADERS)
        assert seen["mapping"] == "jira"   # --mapping: the default
    finally:
        c.close()


def test_serve_check_validates_and_exits(tmp_path):
    r = CliRunner().invoke(main, ["serve", "--check"])
    assert r.exit_code == 0, r.output
    assert "ok: 4 policies (cloudtalk, credenti, csd-group, zmanda)" in r.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "policy.yaml").write_text("id: broken\nlevels: [P1\n")
    empty = tmp_path / "empty.token"
    empty.write_text("\n")
    r = CliRunner().invoke(main, ["serve", "--check", "--policies", str(broken), "--workers", "0",
                                  "--admin-token-file", str(empty)])
    assert r.exit_code == 2
    assert "error[yaml_syntax]" in r.stderr and "error[bad_option]" in r.stderr
    assert "error[admin_token_unreadable]" in r.stderr and "Traceback" not in r.output


def test_serve_mapping_option_is_refused_by_a_build_without_mappings():
    if routes.MAPPINGS:
        pytest.skip("this build has mappings")
    r = CliRunner().invoke(main, ["serve", "--check", "--mapping", "zendesk"])
    assert r.exit_code == 2
    assert "mappings are not available in this build" in r.stderr


@pytest.mark.slow
def test_readme_curl_example_works_as_written():
    readme = (ROOT / "README.md").read_text()
    serve = re.search(r"^\$? ?(ticket-policy serve[^\n]*)$", readme, re.M)
    curl = re.search(r"^\$? ?(curl [^\n]*)$", readme, re.M)
    assert serve and curl, "the README shows `ticket-policy serve` and a curl call"
    args = shlex.split(curl.group(1))
    url = next(a for a in args if a.startswith("http://"))
    assert url.startswith("http://127.0.0.1:8080/")
    server = ServerProcess(workers=1)
    try:
        args = [a.replace("http://127.0.0.1:8080", server.url) for a in args]
        if shutil.which("curl"):
            out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True,
                                 timeout=30).stdout
        else:  # the same request, read from the curl call's options
            out = _as_httpx(args).text
        decision = json.loads(out)
        assert decision["ticket_id"] == "CT-1042" and decision["priority"] == "P3"
        assert "request_id" in decision
    finally:
        assert server.close() == 0


def _as_httpx(args: list[str]) -> httpx.Response:
    headers, data, url = {}, None, None
    it = iter(args[1:])
    for a in it:
        if a in ("-H", "--header"):
            k, v = next(it).split(":", 1)
            headers[k.strip()] = v.strip()
        elif a in ("-d", "--data", "--data-binary"):
            value = next(it)
            data = (ROOT / value[1:]).read_bytes() if value.startswith("@") else value.encode()
        elif a.startswith("http"):
            url = a
    return httpx.post(url, content=data, headers=headers, timeout=30)


def test_serve_rejects_a_broken_policy_set_at_start(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "policy.yaml").write_text("id: broken\n")
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "serve", "--port", "0",
                        "--policies", str(broken)], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "error[schema_required]" in r.stderr


def test_serve_on_a_port_in_use_exits_2_with_a_diagnostic():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port),
                            "--policies", "cloudtalk"], cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    assert r.returncode == 2, r.stderr
    assert f"error[bind_failed]: cannot listen on `127.0.0.1:{port}`" in r.stderr
