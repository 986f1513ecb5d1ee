"""The service over a policy folder of effective-dated versions: served once under its id, the
version in force at the ticket's `submitted_at` decides unless `?version=` names one, the
decision and the log say which, `/v1/policies` lists the versions with their dates, a reload
(SIGHUP included) picks up a new version, and a changed digest under an unchanged `version`
is warned about. Also: `--ui-log-tries` without `--log` is a usage error."""

from __future__ import annotations

import json
import signal
import time

import pytest
from click.testing import CliRunner
from service_support import JSON_HEADERS, ServerProcess, asgi_client
from versions_support import version_text as _version
from versions_support import versioned_folder

from cli import main
from engine.ops.log.query import LogReader, Search

EARLY, LATE = "2026-03-02T10:00:00+01:00", "2026-08-02T10:00:00+02:00"
BEFORE = "2025-06-01T00:00:00Z"   # before any version
DECIDE = "/v1/policies/mini/decisions"


@pytest.fixture
def folder(tmp_path):
    """mini: 2026.1 from January (P1), 2026.2 from July (P2)."""
    return versioned_folder(tmp_path)


def _ticket(submitted: str) -> dict:
    return {"id": "T-1", "submitted_at": submitted, "environment": "production"}


def _post(client, ticket: dict, query: str = ""):
    return client.post(DECIDE + query, content=json.dumps(ticket), headers=JSON_HEADERS)


def test_a_versioned_folder_is_served_once_and_lists_its_versions(folder):
    c = asgi_client((str(folder),))
    try:
        (mini,) = c.get("/v1/policies").json()["policies"]
        assert (mini["id"], mini["version"]) == ("mini", "2026.2")
        assert [(v["version"], v["effective_from"], v["effective_until"])
                for v in mini["versions"]] == [
            ("2026.1", "2026-01-01T00:00:00+01:00", "2026-07-01T00:00:00+02:00"),
            ("2026.2", "2026-07-01T00:00:00+02:00", None)]
        detail = c.get("/v1/policies/mini?version=2026.1").json()
        assert detail["version"] == "2026.1" and detail["file"].endswith("versions/2026.1.yaml")
        assert len(detail["versions"]) == 2
        assert 'version: "2026.1"' in c.get("/v1/policies/mini/source?version=2026.1").text
        assert 'version: "2026.2"' in c.get("/v1/policies/mini/source").text
        assert c.get("/v1/policies/mini/source?version=2026.9").status_code == 404
    finally:
        c.close()


def test_the_version_in_force_at_submitted_at_decides_unless_one_is_named(folder):
    c = asgi_client((str(folder),))
    try:
        early, late = _post(c, _ticket(EARLY)).json(), _post(c, _ticket(LATE)).json()
        assert (early["policy"]["version"], early["priority"]) == ("2026.1", "P1")
        assert (late["policy"]["version"], late["priority"]) == ("2026.2", "P2")
        assert early["trace"][0]["citation"]["path"] == "versions/2026.1.yaml"
        named = _post(c, _ticket(LATE), "?version=2026.1").json()
        assert (named["policy"]["version"], named["priority"]) == ("2026.1", "P1")
        r = _post(c, _ticket(BEFORE))
        assert r.status_code == 422
        (d,) = r.json()["diagnostics"]
        assert d["code"] == "version_not_in_force" and d["pointer"] == "/submitted_at"
        assert _post(c, _ticket(BEFORE), "?version=2026.1").status_code == 200
        r = _post(c, _ticket(LATE), "?version=2026.3")
        assert r.status_code == 404
        (d,) = r.json()["diagnostics"]
        assert d["code"] == "unknown_version" and "2026.1" in d["hint"]
        why = c.post("/v1/policies/mini/why-not/p1-in-production?version=2026.1",
                     content=json.dumps({**_ticket(LATE), "environment": "staging"}),
                     headers=JSON_HEADERS)
        assert why.status_code == 200, why.text
    finally:
        c.close()


def test_a_batch_decides_each_ticket_by_its_own_version(folder):
    c = asgi_client((str(folder),))
    try:
        body = json.dumps([_ticket(LATE), _ticket(EARLY), _ticket(BEFORE), _ticket(LATE)])
        r = c.post(DECIDE + ":batch", content=body, headers=JSON_HEADERS).json()
        got = [x.get("policy", {}).get("version") or x["diagnostics"][0]["code"]
               for x in r["results"]]
        assert got == ["2026.2", "2026.1", "version_not_in_force", "2026.2"]
        assert (r["decided"], r["rejected"]) == (3, 1)
        named = c.post(DECIDE + ":batch?version=2026.1", content=body, headers=JSON_HEADERS)
        assert {x["policy"]["version"] for x in named.json()["results"]} == {"2026.1"}
    finally:
        c.close()


def test_the_log_records_the_deciding_version_and_replays_it(folder, tmp_path):
    from engine.ops.replay import replay_record  # public: the UI replays one record with it

    path = tmp_path / "decisions.db"
    c = asgi_client((str(folder),), log=str(path))
    try:
        assert _post(c, _ticket(EARLY)).status_code == 200
        assert _post(c, _ticket(LATE)).status_code == 200
    finally:
        c.close()
        c.app.service.close()
    with LogReader(path) as reader:
        records = list(reader.search(Search()))
    assert [r.record["policy"]["version"] for r in records] == ["2026.1", "2026.2"]
    for rec in records:   # the public single-record replay the UI uses
        report = replay_record(path, rec)
        assert (report.records, report.reproduced) == (1, 1), report


def test_a_reload_warns_when_a_digest_changes_but_the_version_does_not(folder):
    c = asgi_client((str(folder),))
    try:
        svc = c.app.service
        old = svc.policies.digest
        (folder / "versions" / "2026.1.yaml").write_text(
            _version("2026.1", "P3", "2026-01-01T00:00:00+01:00"), "utf-8")
        result = svc.load()
        assert result.accepted and result.changed == ("mini",)
        assert svc.policies.digest != old
        assert [(d.code, d.severity) for d in result.diagnostics] == [
            ("version_not_bumped", "warning")]
        assert "`mini` version `2026.1`" in result.diagnostics[0].message
        assert _post(c, _ticket(EARLY)).json()["priority"] == "P3"
    finally:
        c.close()


def test_serve_check_accepts_a_versioned_folder(folder):
    r = CliRunner().invoke(main, ["serve", "--check", "--policies", str(folder)])
    assert r.exit_code == 0, r.output
    assert "ok: 1 policies (mini)" in r.stderr


def test_ui_log_tries_without_a_log_is_a_usage_error():
    r = CliRunner().invoke(main, ["serve", "--check", "--ui-log-tries"])
    assert r.exit_code == 2, r.output
    lines = [line for line in r.stderr.splitlines() if "error[" in line]
    assert len(lines) == 1 and lines[0].startswith("--ui-log-tries: error[bad_option]"), r.stderr
    assert "--log" in r.stderr and "Traceback" not in r.output


@pytest.mark.slow
def test_serve_process_reloads_a_new_version_on_sighup(folder):
    server = ServerProcess("--policies", str(folder), workers=1)
    try:
        late = server.post(DECIDE, json=_ticket(LATE))
        assert late.status_code == 200 and late.json()["policy"]["version"] == "2026.2"
        assert server.post(DECIDE, json=_ticket(EARLY)).json()["policy"]["version"] == "2026.1"
        (folder / "versions" / "2026.3.yaml").write_text(
            _version("2026.3", "P3", "2026-08-01T00:00:00+02:00"), "utf-8")
        server.signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            versions = server.get("/v1/policies").json()["policies"][0]["versions"]
            if len(versions) == 3:
                break
            time.sleep(0.2)
        assert [v["version"] for v in versions] == ["2026.1", "2026.2", "2026.3"]
        decided = server.post(DECIDE, json=_ticket(LATE)).json()
        assert (decided["policy"]["version"], decided["priority"]) == ("2026.3", "P3")
    finally:
        assert server.close() == 0


def test_the_openapi_document_names_the_version_choice(folder):
    c = asgi_client((str(folder),))
    try:
        doc = c.get("/v1/openapi.json").json()
    finally:
        c.close()
    for path, method in (("/v1/policies/{id}/decisions", "post"),
                         ("/v1/policies/{id}/decisions:batch", "post"),
                         ("/v1/policies/{id}/why-not/{rule}", "post"),
                         ("/v1/policies/{id}", "get"), ("/v1/policies/{id}/source", "get")):
        params = {p["name"]: p for p in doc["paths"][path][method]["parameters"]}
        assert params["version"]["in"] == "query" and not params["version"]["required"], path
    summary = doc["components"]["schemas"]["PolicySummary"]["properties"]
    assert {"effective_from", "effective_until", "versions"} <= set(summary)


# tickets decided by different versions, interleaved: (id, submitted_at, deciding version)
MIXED = [("A2", "2026-07-20T10:00:00+02:00", "2026.2"), ("A1", EARLY, "2026.1"),
         ("X0", BEFORE, None), ("A5", "2026-07-25T10:00:00+02:00", "2026.2"),
         ("A3", "2026-06-15T10:00:00+02:00", "2026.1")]


def _mixed_batch(ndjson: bool = False) -> tuple[str, dict]:
    tickets = [{**_ticket(at), "id": tid} for tid, at, _ in MIXED]
    if ndjson:
        return "".join(json.dumps(t) + "\n" for t in tickets), {
            "Content-Type": "application/x-ndjson"}
    return json.dumps(tickets), JSON_HEADERS


def _logged(path) -> list[tuple[str, str]]:
    with LogReader(path) as reader:
        return [(r.record["ticket_id"], r.record["policy"]["version"])
                for r in reader.search(Search())]


@pytest.mark.slow
def test_a_batch_of_several_versions_is_logged_and_answered_in_input_order(folder, tmp_path):
    """A real `serve --log`: versions decide in groups, yet the log's records and the
    answers keep the input order (`batch --log` does too)."""
    path = tmp_path / "s.db"
    server = ServerProcess("--policies", str(folder), "--log", str(path), workers=1)
    try:
        body, headers = _mixed_batch()
        r = server.post(DECIDE + ":batch", content=body, headers=headers)
        assert r.status_code == 200, r.text
        got = [(x["ticket_id"], x.get("policy", {}).get("version"))
               for x in r.json()["results"]]
        assert got == [(tid, version) for tid, _, version in MIXED]
        body, headers = _mixed_batch(ndjson=True)
        lines = server.post(DECIDE + ":batch", content=body, headers=headers).text.splitlines()
        assert [json.loads(line)["ticket_id"] for line in lines] == [t for t, _, _ in MIXED]
    finally:
        assert server.close() == 0
    decided = [(tid, version) for tid, _, version in MIXED if version]
    assert _logged(path) == decided + decided


def test_a_batch_of_several_versions_is_one_group_commit(folder, tmp_path):
    path = tmp_path / "s.db"
    c = asgi_client((str(folder),), log=str(path))
    try:
        body, headers = _mixed_batch()
        assert c.post(DECIDE + ":batch", content=body, headers=headers).status_code == 200
        assert c.app.service.recorder.groups == 1
    finally:
        c.close()
        c.app.service.close()
    assert _logged(path) == [(tid, version) for tid, _, version in MIXED if version]
