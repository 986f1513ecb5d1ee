"""The decision service, every endpoint and every error status: in-process through the ASGI
app (httpx) and the same cases against a real `ticket-policy serve` with two workers."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import jsonschema
import pytest
from conftest import ROOT
from service_support import (
    EXAMPLE,
    JSON_HEADERS,
    TOKEN,
    ServerProcess,
    asgi_client,
    write_policies,
)

DECISION_SCHEMA = json.loads((ROOT / "schemas" / "decision.schema.json").read_text())
DECIDE = "/v1/policies/cloudtalk/decisions"
TICKET = EXAMPLE.read_bytes()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = write_policies(tmp_path_factory.mktemp("policies"))
    token = tmp_path_factory.mktemp("admin") / "token"
    token.write_text(TOKEN + "\n")
    return (str(ROOT / "rules"), str(folder)), token


@pytest.fixture(scope="module", params=["asgi", "process"])
def client(request, setup):
    policies, token = setup
    if request.param == "asgi":
        c = asgi_client(policies, token)
    else:
        args = [a for p in policies for a in ("--policies", p)]
        c = ServerProcess(*args, "--admin-token-file", str(token), "--echo")
    yield c
    c.close()


def post(client, path=DECIDE, body=TICKET, headers=JSON_HEADERS, **kw):
    return client.post(path, content=body, headers=headers, **kw)


def problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["type"].startswith("https://ticket-policy.dev/")
    assert body["request_id"] == r.headers["x-request-id"]
    codes = [d["code"] for d in body["diagnostics"]]
    assert code in codes, codes
    return body


# ---------------------------------------------------------------------------- decisions


def test_decision_is_the_cli_decision_with_a_request_id(client):
    now = "2026-03-09T09:00:00+01:00"
    r = post(client, params={"now": now}, headers={**JSON_HEADERS, "X-Request-Id": "req-42"})
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "req-42"
    d = r.json()
    jsonschema.validate(d, DECISION_SCHEMA)
    assert d["request_id"] == "req-42" and d["priority"] == "P3"
    cli = subprocess.run([sys.executable, str(ROOT / "cli.py"), "evaluate", "--policy",
                          "cloudtalk", "--now", now, str(EXAMPLE)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert r.text.replace(',\n  "request_id": "req-42"', "") == cli


def test_request_id_is_generated_when_absent_or_unusable(client):
    ids = {post(client).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    r = post(client, headers={**JSON_HEADERS, "X-Request-Id": "bad id\twith spaces"})
    assert r.headers["x-request-id"] != "bad id\twith spaces"
    assert r.json()["request_id"] == r.headers["x-request-id"]


@pytest.mark.parametrize("fmt,start", [("text", "ticket CT-1042 under cloudtalk"),
                                       ("markdown", "### Decision for ticket `CT-1042`")])
def test_explain_adds_the_story(client, fmt, start):
    r = post(client, params={"explain": fmt})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["explain"] == fmt and body["story"].startswith(start)
    assert body["decision"]["request_id"] == r.headers["x-request-id"]


def test_a_ticket_violating_the_schema_is_422_with_pointers(client):
    ticket = {"id": "T-1", "submitted_at": "2026-03-02T10:00:00", "environment": "producton"}
    body = problem(post(client, body=json.dumps(ticket, indent=1)), 422, "ticket_no_offset")
    by_code = {d["code"]: d for d in body["diagnostics"]}
    assert by_code["ticket_enum"]["pointer"] == "/environment"
    assert by_code["ticket_enum"]["line"] == 4 and by_code["ticket_enum"]["file"] == "<body>"
    assert "did you mean `production`?" in by_code["ticket_enum"]["hint"]


@pytest.mark.parametrize("body,code", [(b'{"id": "x",', "json_syntax"),
                                       (b'{"id": "a", "id": "b"}', "json_duplicate_key"),
                                       (b'{"n": NaN}', "json_non_finite"),
                                       (b"\xff\xfe", "file_unreadable")])
def test_unreadable_json_is_400(client, body, code):
    problem(post(client, body=body), 400, code)


@pytest.mark.parametrize("params,code", [({"explian": "text"}, "bad_query"),
                                         ({"explain": "html"}, "bad_query"),
                                         ({"now": "tomorrow"}, "bad_now"),
                                         ({"mapping": "zendsk"}, "unknown_mapping")])
def test_bad_query_parameters_are_400(client, params, code):
    body = problem(post(client, params=params), 400, code)
    if "explian" in params:
        assert body["diagnostics"][0]["hint"] == "did you mean `explain`?"


def test_unknown_policy_is_404_with_did_you_mean(client):
    body = problem(post(client, "/v1/policies/cloudtak/decisions"), 404, "unknown_policy")
    assert body["diagnostics"][0]["hint"] == "did you mean `cloudtalk`?"


def test_wrong_method_and_unknown_route(client):
    r = client.get(DECIDE)
    problem(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"
    problem(client.get("/v1/nothing-here"), 404, "not_found")


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "text/plain"},
                                     {"Content-Type": "application/json; charset=latin-1"}])
def test_wrong_content_type_is_415(client, headers):
    problem(post(client, headers=headers), 415, "unsupported_media_type")


def test_body_over_the_limit_is_413(client):
    problem(post(client, body=b" " * (1024 * 1024 + 1)), 413, "body_too_large")


def test_a_policy_that_fails_to_decide_is_500_with_its_code(client):
    ticket = {"id": "T-9", "submitted_at": "2026-03-02T10:00:00+01:00", "category": "outage"}
    body = problem(post(client, "/v1/policies/cycle/decisions", json.dumps(ticket)), 500,
                   "firing_bound_exceeded")
    assert "Traceback" not in json.dumps(body)
    ok = {"id": "T-9", "submitted_at": "2026-03-02T10:00:00+01:00"}
    assert post(client, "/v1/policies/cycle/decisions", json.dumps(ok)).status_code == 200


# ---------------------------------------------------------------------------- batch


def _batch_tickets():
    good = json.loads(TICKET)
    return [good, {"id": "B-2", "submitted_at": "2026-03-02T10:00:00+01:00",
                   "environment": "producton"}, {**good, "id": "B-3"}]


def test_batch_json_array_results_in_order(client):
    text = json.dumps(_batch_tickets(), indent=1)
    r = post(client, DECIDE + ":batch", text)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["decided"], body["rejected"]) == (2, 1)
    first, bad, third = body["results"]
    single = post(client, headers={**JSON_HEADERS, "X-Request-Id": body["request_id"]}).json()
    assert first == single and third["ticket_id"] == "B-3"
    assert bad["index"] == 1 and bad["status"] == 422 and bad["ticket_id"] == "B-2"
    assert bad["diagnostics"][0]["pointer"] == "/1/environment"
    line = next(n for n, x in enumerate(text.splitlines(), 1) if '"producton"' in x)
    assert bad["diagnostics"][0]["line"] == line


def test_batch_ndjson_one_line_per_ticket(client):
    lines = [json.dumps(t) for t in _batch_tickets()]
    body = "\n".join([lines[0], "{not json", lines[1], "", lines[2]]) + "\n"
    r = post(client, DECIDE + ":batch", body, headers={"Content-Type": "application/x-ndjson"},
             params={"now": "2026-03-09T09:00:00+01:00"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    out = [json.loads(x) for x in r.text.splitlines()]
    assert len(out) == 4
    assert out[0]["sla"]["remaining"] == "PT8H30M"
    assert (out[1]["status"], out[1]["line"], out[1]["diagnostics"][0]["code"]) == (
        400, 2, "json_syntax")
    assert (out[2]["status"], out[2]["line"]) == (422, 3)
    assert out[3]["ticket_id"] == "B-3" and out[3]["request_id"] == r.headers["x-request-id"]


def test_batch_failing_item_is_a_500_item_not_a_failed_batch(client):
    items = [{"id": "C-1", "submitted_at": "2026-03-02T10:00:00+01:00", "category": "outage"},
             {"id": "C-2", "submitted_at": "2026-03-02T10:00:00+01:00"}]
    r = post(client, "/v1/policies/cycle/decisions:batch", json.dumps(items))
    assert r.status_code == 200
    failed, ok = r.json()["results"]
    assert failed["status"] == 500
    assert failed["diagnostics"][0]["code"] == "firing_bound_exceeded"
    assert ok["ticket_id"] == "C-2"


@pytest.mark.parametrize("body,ctype,status,code", [
    (b'{"id": "x"}', "application/json", 400, "batch_not_array"),
    (b"[1,", "application/json", 400, "json_syntax"),
    (b"[" + b",".join([b"{}"] * 1001) + b"]", "application/json", 413, "batch_too_large"),
    (b"{}", "text/csv", 415, "unsupported_media_type"),
])
def test_batch_errors(client, body, ctype, status, code):
    problem(post(client, DECIDE + ":batch", body, headers={"Content-Type": ctype}), status, code)


def test_batch_body_limit_is_8_mib(client):
    big = b"[" + b" " * (8 * 1024 * 1024) + b"]"
    problem(post(client, DECIDE + ":batch", big), 413, "body_too_large")


# ---------------------------------------------------------------------------- why not


def test_why_not_names_the_failing_condition(client):
    r = post(client, "/v1/policies/cloudtalk/why-not/p1-how-to-is-general")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["request_id"] == r.headers["x-request-id"]
    assert 'but category is "outage"' in report["reports"][0]["explanation"]


def test_why_not_unknown_rule_is_404(client):
    body = problem(post(client, "/v1/policies/cloudtalk/why-not/p1-production-onyl"), 404,
                   "unknown_rule")
    assert body["diagnostics"][0]["hint"] == "did you mean `p1-production-only`?"


# ---------------------------------------------------------------------------- policies


def test_policy_list_detail_and_source(client):
    listed = client.get("/v1/policies").json()
    ids = [p["id"] for p in listed["policies"]]
    assert ids == sorted(ids) and {"cloudtalk", "zmanda", "mini", "cycle"} <= set(ids)
    detail = client.get("/v1/policies/cloudtalk")
    assert detail.status_code == 200
    info = detail.json()
    assert info["digest"] == next(p for p in listed["policies"]
                                  if p["id"] == "cloudtalk")["digest"]
    assert detail.headers["etag"] == f'"{info["digest"]}"'
    assert info["levels"] == ["P1", "P2", "P3"] and info["sources"]
    source = client.get("/v1/policies/cloudtalk/source")
    assert source.headers["content-type"] == "application/yaml"
    assert source.text == (ROOT / "rules" / "cloudtalk" / "policy.yaml").read_text("utf-8")
    problem(client.get("/v1/policies/nope"), 404, "unknown_policy")
    problem(client.get("/v1/policies?x=1"), 400, "bad_query")


# ---------------------------------------------------------------------------- operations


def test_health_ready_and_metrics(client):
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["policies"] >= 6
    post(client)
    failing = {"id": "M-1", "submitted_at": "2026-03-02T10:00:00+01:00", "category": "outage"}
    post(client, "/v1/policies/cycle/decisions", json.dumps(failing))
    text = client.get("/metrics").text
    for name in ("ticket_policy_http_requests_total", "ticket_policy_decisions_total",
                 "ticket_policy_http_request_duration_seconds_bucket",
                 "ticket_policy_decision_cache_hits_total",
                 "ticket_policy_engine_errors_total"):
        assert name in text, name
    assert 'ticket_policy_decisions_total{policy="cloudtalk",priority="P3"}' in text
    assert 'route="/v1/policies/{id}/decisions"' in text
    assert 'ticket_policy_engine_errors_total{code="firing_bound_exceeded",policy="cycle"}' in text


def test_openapi_document(client):
    doc = client.get("/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/v1/policies/{id}/decisions:batch" in doc["paths"]
    schemas = doc["components"]["schemas"]
    assert schemas["Ticket"]["properties"]["submitted_at"] == {
        "$ref": "#/components/schemas/Ticket_timestamp"}
    assert "cycle" in doc["paths"]["/v1/policies/{id}/decisions"]["post"]["parameters"][0][
        "schema"]["enum"]


def test_echo_returns_the_body(client):
    r = post(client, "/v1/echo")
    assert r.status_code == 200 and r.json() == json.loads(TICKET)
    problem(post(client, "/v1/echo", b"{"), 400, "json_syntax")


def test_admin_reload_needs_the_bearer_token(client):
    r = client.post("/v1/admin/reload")
    problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    problem(client.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"}), 401,
            "unauthorized")
    ok = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["changed"] == [] and ok.json()["status"] == "reloaded"
    assert ok.json()["workers_signalled"] is (client.kind == "process")


def test_access_log_is_one_json_line_per_request(client, caplog):
    caplog.set_level(logging.INFO, logger="ticket_policy.access")
    r = post(client, headers={**JSON_HEADERS, "X-Request-Id": "log-me"})
    assert r.status_code == 200
    if client.kind == "process":
        import time

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
                e.get("request_id") == "log-me" for e in client.lines):
            time.sleep(0.05)
        line = next(e for e in client.lines if e.get("request_id") == "log-me")
    else:
        line = next(rec.fields for rec in caplog.records
                    if getattr(rec, "fields", {}).get("request_id") == "log-me")
    assert line["status"] == 200 and line["policy"] == "cloudtalk"
    assert line["digest"].startswith("sha256:") and line["latency_ms"] > 0
    assert line["route"] == "/v1/policies/{id}/decisions"
