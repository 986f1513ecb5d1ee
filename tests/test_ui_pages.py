"""The web UI's pages over the ASGI app in-process (no browser needed): security headers on every
page, values escaped, read-only pages, "try a ticket" writing to the log only when enabled, the
clock picture's geometry, and the templates and static files shipped as package data."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from service_support import AsgiClient
from ui_support import IMG, KNOWN, ROOT, SCRIPT, prepare

from engine.adapters.service import ServiceConfig, create_app
from engine.adapters.ui.clock_picture import picture
from engine.core.clock import Clock
from engine.ops.log import DecisionLog
from engine.ops.log.query import LogReader, Search

PAGES = ["/ui/", "/ui/try", "/ui/try?policy=csd-group", "/ui/policies/cloudtalk",
         "/ui/policies/hostile", "/ui/log", "/ui/log?ticket=CT-201", "/ui/nope"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("ui-pages"))


def _client(setup, **config) -> tuple[AsgiClient, DecisionLog]:
    policies, log_path = setup
    log = DecisionLog.open(log_path)
    app = create_app(ServiceConfig(policies=tuple(policies), **config), log=log)
    assert app.service.load().accepted
    return AsgiClient(app), log


@pytest.fixture
def client(setup):
    c, log = _client(setup)
    yield c
    c.close()
    log.close()


def _form(**fields) -> dict:
    return {"policy": "cloudtalk", "mode": "form",
            **{f"f:{k}": v for k, v in {**KNOWN, **fields}.items()}}


def _record_ids(log_path: Path) -> list[str]:
    with LogReader(log_path) as reader:
        return [r.record["decision_id"] for r in reader.search(Search())]


def test_every_page_has_a_strict_content_security_policy(client):
    for url in PAGES:
        r = client.get(url)
        assert r.status_code in (200, 404), url
        if url == "/ui/nope":
            assert r.status_code == 404
            continue
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-type"].startswith("text/html")
        assert "<script>" not in r.text and " style=" not in r.text and "onerror" not in \
            r.text.replace("onerror=alert(1)&gt;", ""), url


def test_hostile_values_are_escaped_in_the_html(client):
    body = client.get("/ui/policies/hostile").text
    assert SCRIPT not in body and IMG not in body
    assert html.escape(f"Hostile {SCRIPT}", quote=False) in body
    r = client.post("/ui/try", data=_form(id=IMG))
    assert IMG not in r.text and html.escape(IMG).replace("&quot;", "&#34;") in r.text
    log = client.get("/ui/log").text
    assert SCRIPT not in log and html.escape(SCRIPT, quote=False) in log
    events = json.dumps([{"at": "2026-03-09T09:00:00+01:00", "type": "fact",
                          "fact": "environment", "value": SCRIPT},
                         {"at": "2026-03-09T09:30:00+01:00", "type": IMG}])
    for data in ({**_form(), "events": events}, {**_form(), "now": SCRIPT},
                 {**_form(), "events": IMG}, {"policy": "cloudtalk", "mode": "json",
                                              "json": json.dumps({SCRIPT: IMG})}):
        body = client.post("/ui/try", data=data).text
        assert SCRIPT not in body and IMG not in body, data
    for query in (f"ticket={SCRIPT}", f"rule={IMG}", f"since={SCRIPT}", f"sla={IMG}"):
        body = client.get("/ui/log", params=dict([query.split("=", 1)])).text
        assert SCRIPT not in body and IMG not in body, query


def test_trying_a_ticket_writes_the_log_only_when_the_operator_enables_it(setup):
    _, log_path = setup
    before = _record_ids(log_path)
    c, log = _client(setup)
    try:
        r = c.post("/ui/try", data=_form(id="TRY-1"))
        assert "Not written to the decision log" in r.text
        assert _record_ids(log_path) == before
        r = c.post("/ui/log/" + before[0], data={"action": "replay"})   # reads only
        assert "reproduces" in r.text
        r = c.post("/ui/log/" + before[-1], data={"action": "verify"})
        assert "hold over all" in r.text and "linked" in r.text
        assert _record_ids(log_path) == before
    finally:
        c.close()
        log.close()
    c, log = _client(setup, ui_log_tries=True)
    try:
        r = c.post("/ui/try", data=_form(id="TRY-2"))
        after = _record_ids(log_path)
        assert len(after) == len(before) + 1
        assert f'href="/ui/log/{after[-1]}"' in r.text
    finally:
        c.close()
        log.close()


def test_without_a_log_the_log_pages_say_how_to_get_one(setup):
    policies, _ = setup
    app = create_app(ServiceConfig(policies=tuple(policies)))
    assert app.service.load().accepted
    c = AsgiClient(app)
    try:
        r = c.get("/ui/log")
        assert r.status_code == 404 and "--log" in r.text
        assert "(off)" in c.get("/ui/").text
    finally:
        c.close()


def test_problems_are_pages_not_tracebacks(client):
    r = client.post("/ui/try", data=_form(submitted_at="yesterday", environment="prod"))
    assert r.status_code == 200 and "diag-error" in r.text and "Traceback" not in r.text
    r = client.post("/ui/try", data={**_form(), "events": "[{not json"})
    assert r.status_code == 422 and "events: not JSON" in r.text
    r = client.post("/ui/try", data={"policy": "cloudtalk", "mode": "json", "json": "[1, 2"})
    assert r.status_code == 200 and "diag-error" in r.text
    r = client.get("/ui/log?since=last%20week")
    assert r.status_code == 400 and "last week" in html.unescape(r.text)
    assert client.get("/ui/log/999999").status_code == 404
    assert client.get("/ui/policies/nope").status_code == 404
    assert client.get("/ui/try?policy=nope").status_code == 404
    assert client.post("/ui/try", data={"policy": "nope"}).status_code == 404


def _clock(**kw) -> Clock:
    base = dict(metric="first_response", status="met", reason=None, level="P1",
                target=None, clock="business", calendar="office", timezone="Europe/Bratislava",
                started_at=datetime.fromisoformat("2026-03-06T16:30:00+01:00"),
                due_at=datetime.fromisoformat("2026-03-09T11:30:00+01:00"), warn_at=None,
                fulfilled_at=datetime.fromisoformat("2026-03-09T10:00:00+01:00"),
                breached_at=None, paused=(), consumed=None, remaining=None,
                as_of=datetime.fromisoformat("2026-03-09T10:00:00+01:00"), rule=None, phases=())
    return Clock(**{**base, **kw})


OFFICE = {"timezone": "Europe/Bratislava", "hours": {"mon-fri": ["09:00-17:00"]},
          "holidays": {"country": "SK"}}


def test_the_clock_picture_names_closed_time_and_places_the_due_marker():
    pic = picture(_clock(), OFFICE)
    assert pic is not None
    kinds = [(b.kind, b.reason) for b in pic.bands]
    assert kinds == [("open", "open"), ("closed", "weekend"), ("open", "open"),
                     ("closed", "night")]
    monday = pic.bands[2]
    due = next(m for m in pic.markers if m.kind == "due")
    assert (due.x - monday.x) / monday.w == pytest.approx(2.5 / 8, abs=0.002)
    # Easter Monday 2026 (6 April) is a Slovak public holiday: named, and counted closed
    easter = picture(_clock(started_at=datetime.fromisoformat("2026-04-03T16:00:00+02:00"),
                            due_at=datetime.fromisoformat("2026-04-07T11:00:00+02:00"),
                            fulfilled_at=None, as_of=datetime.fromisoformat(
                                "2026-04-07T12:00:00+02:00")), OFFICE)
    assert easter is not None
    closed = [b.reason for b in easter.bands if b.kind == "closed"]
    assert any("Easter Monday" in r and "weekend" in r for r in closed), closed


def test_the_clock_axis_counts_real_time_across_a_dst_change():
    """Sunday 29 March 2026 has 23 hours in Bratislava: the axis is real, not wall, time."""
    start = datetime.fromisoformat("2026-03-28T12:00:00+01:00")
    pic = picture(_clock(started_at=start, due_at=datetime.fromisoformat(
        "2026-03-30T12:00:00+02:00"), fulfilled_at=None, as_of=datetime.fromisoformat(
        "2026-03-30T12:00:00+02:00"), calendar="always", clock="calendar"), {"preset": "24x7",
        "timezone": "Europe/Bratislava"})
    assert pic is not None
    due = next(m for m in pic.markers if m.kind == "due")
    end = datetime.fromisoformat(pic.end)
    assert due.x / 1000 == pytest.approx(47 * 3600 / (end - start).total_seconds(), abs=1e-4)
    assert [b.kind for b in pic.bands] == ["open"]


def test_package_data_names_every_template_and_static_file():
    """The quick check of the wheel test below (slow: it builds the wheel): pyproject's
    package data for the UI matches every file of its templates and static folders."""
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["engine.adapters.ui"]
    ui = ROOT / "engine" / "adapters" / "ui"
    for folder in ("templates", "static"):
        files = [f"{folder}/{p.name}" for p in (ui / folder).iterdir() if p.is_file()]
        assert files, folder
        missed = [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)]
        assert not missed, f"not in [tool.setuptools.package-data]: {missed}"


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")  # `pip wheel ROOT` builds in ROOT/build: one at a time
def test_templates_and_static_files_ship_in_the_wheel(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(wheels), str(ROOT)], check=True, timeout=300,
                   capture_output=True)
    names = zipfile.ZipFile(next(wheels.glob("ticket_policy-*.whl"))).namelist()
    ui = ROOT / "engine" / "adapters" / "ui"
    for folder in ("templates", "static"):
        shipped = {n.rsplit("/", 1)[1] for n in names
                   if n.startswith(f"engine/adapters/ui/{folder}/")}
        assert shipped == {p.name for p in (ui / folder).iterdir() if p.is_file()}, folder


@pytest.mark.parametrize("served", ["versions/2026.2.yaml", "."])
def test_two_versions_link_to_the_impact_diff(tmp_path, served):
    """A policy whose folder holds two versions (one version file served, or the whole folder):
    the policy page switches between them and links to the diff report (served with a CSP that
    allows no script at all)."""
    from conftest import BASE

    root = tmp_path / "mini"
    (root / "versions").mkdir(parents=True)
    for version, level, start in (("2026.1", "P1", "2026-01-01T00:00:00+01:00"),
                                  ("2026.2", "P2", "2026-07-01T00:00:00+02:00")):
        (root / "versions" / f"{version}.yaml").write_text(
            BASE.replace('version: "1"', f'version: "{version}"') +
            f'effective_from: "{start}"\nrules:\n  - id: outage\n    when: {{category: outage}}'
            f'\n    then: {{assign: {level}}}\n', "utf-8")
    app = create_app(ServiceConfig(policies=(str(root / served),)))
    assert app.service.load().accepted
    c = AsgiClient(app)
    try:
        page = c.get("/ui/policies/mini").text
        assert 'href="/ui/policies/mini/diff?old=2026.1&amp;new=2026.2"' in page
        assert "version <strong>2026.2</strong>" in page
        assert "version <strong>2026.1</strong>" in c.get("/ui/policies/mini?version=2026.1").text
        report = c.get("/ui/policies/mini/diff?old=2026.1&new=2026.2")
        assert report.status_code == 200 and "Policy diff" in report.text
        assert "script-src" not in report.headers["content-security-policy"]
        assert "P1 → P2" in html.unescape(report.text)
        form = c.get("/ui/try?policy=mini&version=2026.1").text
        assert '<option value="2026.1" selected>' in form
        assert c.get("/ui/policies/mini/diff?old=2026.1&new=9").status_code == 404
    finally:
        c.close()


def test_without_chromium_the_browser_tests_skip_saying_how_to_install_it(monkeypatch):
    import ui_support

    monkeypatch.setattr(ui_support, "CHROMIUM", Path("/nonexistent/chromium"))
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium chromium-driver"):
        ui_support.chromium_or_skip()


def test_forms_of_other_sites_cannot_post(client):
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "null"}):
        assert client.post("/ui/try", data=_form(), headers=headers).status_code == 403
        assert client.post("/ui/log/1", data={"action": "replay"},
                           headers=headers).status_code == 403
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/ui/try", data=_form(), headers=same).status_code == 200


def test_the_log_is_searched_by_time(client):
    assert re.search(r"[1-9][0-9]* records? shown", client.get(
        "/ui/log?since=2020-01-01T00:00:00Z").text)
    assert "0 records shown" in client.get("/ui/log?since=2999-01-01T00:00:00Z").text
    assert "0 records shown" in client.get("/ui/log?until=2020-01-01T00:00:00Z").text


def test_the_clock_picture_draws_pauses_warn_breach_and_now():
    from engine.core.clock import Pause

    at = datetime.fromisoformat
    pic = picture(_clock(status="breached", fulfilled_at=None,
                         warn_at=at("2026-03-09T11:00:00+01:00"),
                         breached_at=at("2026-03-09T11:30:00+01:00"),
                         paused=(Pause(at("2026-03-09T09:30:00+01:00"),
                                       at("2026-03-09T10:00:00+01:00"), "pending"),
                                 Pause(at("2026-03-09T14:00:00+01:00"), None, "on_hold")),
                         as_of=at("2026-03-09T15:00:00+01:00")), OFFICE,
                  now=at("2026-03-09T15:00:00+01:00"))
    assert pic is not None
    kinds = [m.kind for m in pic.markers]
    assert kinds == ["start", "warn", "due", "breach", "now"]
    assert [m.label for m in pic.markers][1:4] == ["warn Mon 11:00", "due Mon 11:30",
                                                   "breach Mon 11:30"]
    assert [(p.reason, p.label) for p in pic.pauses] == [("pending", "paused (pending)"),
                                                        ("on_hold", "paused (on_hold)")]
    first, still = pic.pauses
    assert first.x < first.x + first.w < still.x
    assert still.x + still.w == pytest.approx(1000.0)   # still paused: to the picture's end
    assert "breached Mon 09 Mar 11:30" in pic.summary and "Europe/Bratislava" in pic.summary


def _cases():
    import yaml

    for path in sorted((ROOT / "rules").glob("*/tests/*.yaml")):
        # libyaml's loader where PyYAML has it: these cases are read at every collection
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for i, case in enumerate(yaml.load(path.read_text("utf-8"), Loader=loader)["cases"]):
            if isinstance(case.get("ticket"), dict) and "error" not in case.get("expect", {}):
                yield pytest.param(path.parent.parent.name, case["ticket"], case.get("now"),
                                   id=f"{path.parent.parent.name}-{path.stem}-{i}")


@pytest.fixture(scope="module")
def bundled():
    app = create_app(ServiceConfig())
    assert app.service.load().accepted
    c = AsgiClient(app)
    yield c
    c.close()


@pytest.mark.parametrize(("policy", "ticket", "now"), list(_cases()))
def test_every_bundled_test_case_renders(bundled, policy, ticket, now):
    """Each policy test case's ticket, through the JSON tab: a decision with its story and a
    picture of each clock that started, and nothing unescaped."""
    r = bundled.post("/ui/try", data={"policy": policy, "mode": "json", "now": now or "",
                                     "json": json.dumps(ticket, default=str)})
    assert r.status_code == 200
    assert 'id="result"' in r.text, re.findall(r'<li class="diag.*?</li>', r.text, re.S)[:3]
    assert r.text.count('<figure class="clock"') >= 1 or "SLA</dt><dd data-field=\"SLA\">none" \
        in r.text


def test_the_ui_replays_a_record_through_public_names_only():
    """engine.ops.replay's single-record replay is public; the UI uses no private part of it."""
    import ast

    from engine.adapters.ui import logview

    tree = ast.parse(Path(logview.__file__).read_text("utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
             and n.module == "engine.ops.replay" for a in n.names]
    assert names and not [n for n in names if n.startswith("_")], names
