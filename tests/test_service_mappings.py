"""`?mapping=` against a real `serve` process: a request names a mapping by name only (a bundled
id, or the service's `--mapping`, a file by its stem); any other value, a path above all, is a
400 `unknown_mapping` listing the names, and no file is ever opened (nor echoed) for a request."""

from __future__ import annotations

import pytest
from conftest import ROOT
from service_support import JSON_HEADERS, ServerProcess

PAYLOAD = (ROOT / "examples" / "zendesk" / "cloudtalk-zendesk-staging.json").read_bytes()
SECRET = "s3cret-marker-7f1e"
ENDPOINTS = ("/v1/policies/cloudtalk/decisions",
             "/v1/policies/cloudtalk/why-not/p1-how-to-is-general")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server whose `--mapping` is a copy of the bundled zendesk mapping, `acme.yaml`, next to
    a secret file (YAML-ish, as a mapping's parse errors would show it)."""
    folder = tmp_path_factory.mktemp("mappings")
    own = folder / "acme.yaml"
    text = (ROOT / "mappings" / "zendesk.yaml").read_text(encoding="utf-8")
    own.write_text(text.replace("from: to_string(ticket.id)",
                                "from: join('-', ['ACME', to_string(ticket.id)])"), "utf-8")
    secret = folder / "secret.yaml"
    secret.write_text(f"password: {SECRET}\nid: [\n", encoding="utf-8")
    server = ServerProcess("--policies", "cloudtalk", "--mapping", str(own), workers=1,
                           cwd=folder)
    try:
        yield server, own, secret
    finally:
        server.close()


def _post(server, path: str, mapping: str, body: bytes = PAYLOAD):
    return server.post(path, params={"mapping": mapping}, content=body, headers=JSON_HEADERS)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_path_is_refused_and_never_read(served, path):
    server, own, secret = served
    for value in (str(secret), "secret.yaml", "./secret", "../" + secret.parent.name +
                  "/secret.yaml", "/etc/passwd", str(own), "acme.yaml"):
        r = _post(server, path, value)
        assert r.status_code == 400, (value, r.text)
        assert SECRET not in r.text and "root:" not in r.text
        (d,) = r.json()["diagnostics"]
        assert d["code"] == "unknown_mapping" and d["file"] == "?mapping"
        assert d["message"] == (f"no mapping `{value}` is served here "
                                "(mappings: acme, jira, zendesk)")


def test_a_misspelt_name_gets_did_you_mean(served):
    r = _post(served[0], ENDPOINTS[0], "zendsk")
    (d,) = r.json()["diagnostics"]
    assert (r.status_code, d["code"]) == (400, "unknown_mapping")
    assert d["hint"] == "did you mean `zendesk`?"


@pytest.mark.parametrize("name,ticket_id", [("zendesk", "35436"), ("acme", "ACME-35436")])
def test_a_bundled_id_or_the_served_mapping_by_name_maps_the_payload(served, name, ticket_id):
    server = served[0]
    r = _post(server, ENDPOINTS[0], name)
    assert r.status_code == 200, r.text
    assert (r.json()["ticket_id"], r.json()["priority"]) == (ticket_id, "P3")
    r = _post(server, ENDPOINTS[1], name)
    assert r.status_code == 200 and r.json()["rule"] == "p1-how-to-is-general", r.text


def test_a_request_naming_none_is_mapped_by_the_served_mapping(served):
    r = served[0].post(ENDPOINTS[0], content=PAYLOAD, headers=JSON_HEADERS)
    assert r.status_code == 200 and r.json()["ticket_id"] == "ACME-35436", r.text


def test_a_batch_takes_no_mapping_and_reads_no_file(served):
    server, _, secret = served
    r = _post(server, "/v1/policies/cloudtalk/decisions:batch", str(secret), b"[" + PAYLOAD + b"]")
    assert r.status_code == 400 and SECRET not in r.text
    assert r.json()["diagnostics"][0]["code"] == "mapping_unavailable"
