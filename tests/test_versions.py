"""Effective-dated policy versions: a folder's `policy.yaml` and `versions/*.yaml`; the version in
force at a ticket's `submitted_at` decides unless one is named; overlaps, gaps and undated
versions are validation errors; `policies` lists the dates; the log records which version."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import BASE
from versions_support import RULES, versioned_folder
from versions_support import version_text as _version

import cli
from engine import app
from engine.ops.log import DecisionLog
from engine.ops.log.query import LogReader


@pytest.fixture
def folder(tmp_path):
    """mini: 2026.1 from January (P1), 2026.2 from July (P2)."""
    return versioned_folder(tmp_path)


def _ticket(submitted: str) -> str:
    return json.dumps({"id": "T-1", "submitted_at": submitted, "environment": "production"})


def test_the_version_in_force_at_submission_decides(folder):
    early = app.decide(str(folder), _ticket("2026-03-02T10:00:00+01:00"))
    late = app.decide(str(folder), _ticket("2026-08-02T10:00:00+02:00"))
    assert early.ok and late.ok
    assert (early.decision.policy_version, early.decision.priority) == ("2026.1", "P1")
    assert (late.decision.policy_version, late.decision.priority) == ("2026.2", "P2")
    assert early.decision.trace[0].citation.path == "versions/2026.1.yaml"
    boundary = app.decide(str(folder), _ticket("2026-06-30T22:00:00Z"))  # = 07-01 00:00 +02
    assert boundary.decision.policy_version == "2026.2"


def test_a_named_version_decides_any_ticket(folder):
    named = app.decide(f"{folder}@2026.1", _ticket("2026-08-02T10:00:00+02:00"))
    assert named.ok and named.decision.policy_version == "2026.1"
    unknown = app.decide(f"{folder}@2026.9", _ticket("2026-08-02T10:00:00+02:00"))
    assert unknown.status == app.Status.POLICY_ERROR
    assert unknown.diagnostics[0].code == "unknown_version"
    assert "2026.1" in unknown.diagnostics[0].hint
    cp, _ = app.compiled(str(folder))      # no ticket: the latest version
    assert cp.version == "2026.2"


def test_no_version_in_force_is_an_input_error_at_submitted_at(folder):
    result = app.decide(str(folder), _ticket("2025-12-31T10:00:00+01:00"), source_name="t.json")
    assert result.status == app.Status.INPUT_ERROR
    (d,) = result.diagnostics
    assert d.code == "version_not_in_force" and d.location.pointer == "/submitted_at"
    assert d.location.file == "t.json" and d.location.line == 1
    assert "@2026.2" in d.hint


def test_policy_yaml_and_versions_together_and_until(folder):
    (folder / "policy.yaml").write_text(_version(
        "2027.1", "P3", "2027-01-01T00:00:00+01:00", "2028-01-01T00:00:00+01:00"), "utf-8")
    (folder / "versions" / "2026.2.yaml").write_text(_version(
        "2026.2", "P2", "2026-07-01T00:00:00+02:00", "2027-01-01T00:00:00+01:00"), "utf-8")
    assert app.decide(str(folder), _ticket("2027-05-01T10:00:00+02:00")).decision.priority == "P3"
    after = app.decide(str(folder), _ticket("2028-05-01T10:00:00+02:00"))
    assert after.diagnostics[0].code == "version_not_in_force"
    rows = app.list_policies([str(folder)]).policies
    assert [(r.version, r.effective_from, r.effective_until) for r in rows] == [
        ("2026.1", "2026-01-01T00:00:00+01:00", "2026-07-01T00:00:00+02:00"),  # the next start
        ("2026.2", "2026-07-01T00:00:00+02:00", "2027-01-01T00:00:00+01:00"),
        ("2027.1", "2027-01-01T00:00:00+01:00", "2028-01-01T00:00:00+01:00")]


@pytest.mark.parametrize(("first", "second", "code"), [
    (("2026-01-01T00:00:00Z", "2026-08-01T00:00:00Z"), ("2026-07-01T00:00:00Z", None),
     "version_overlap"),
    (("2026-01-01T00:00:00Z", None), ("2026-01-01T00:00:00Z", None), "version_overlap"),
    (("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"), ("2026-07-01T00:00:00Z", None),
     "version_gap"),
    ((None, None), ("2026-07-01T00:00:00Z", None), "version_undated"),
])
def test_overlaps_gaps_and_undated_versions_are_errors(tmp_path, first, second, code):
    root = tmp_path / "mini"
    (root / "versions").mkdir(parents=True)
    (root / "versions" / "a.yaml").write_text(_version("a", "P1", *first), "utf-8")
    (root / "versions" / "b.yaml").write_text(_version("b", "P2", *second), "utf-8")
    report = app.check_paths([str(root)], lint=False)
    assert [d.code for d in report.diagnostics] == [code]
    assert report.findings == 1
    result = app.decide(str(root), _ticket("2026-07-15T10:00:00Z"))
    assert result.status == app.Status.POLICY_ERROR and result.diagnostics[0].code == code


def test_duplicate_versions_and_mixed_ids(tmp_path):
    root = tmp_path / "mini"
    (root / "versions").mkdir(parents=True)
    (root / "versions" / "a.yaml").write_text(_version("1", "P1", "2026-01-01T00:00:00Z"))
    (root / "versions" / "b.yaml").write_text(
        _version("1", "P2", "2026-02-01T00:00:00Z").replace("id: mini", "id: other"))
    codes = sorted(d.code for d in app.check_paths([str(root)], lint=False).diagnostics)
    assert codes == ["version_duplicate", "version_id_mismatch"]


@pytest.mark.parametrize(("extra", "code"), [
    ('effective_from: "2026-01-01"\n', "bad_effective_date"),
    ('effective_from: "2026-02-01T00:00:00Z"\neffective_until: "2026-01-01T00:00:00Z"\n',
     "bad_effective_range"),
    ("sensitive: [environment]\n", "fact_sensitive"),
    ("sensitive: [submitted_at]\n", "fact_sensitive"),
    ("audit_fields: [Subject]\n", "schema_pattern"),
])
def test_bad_dates_and_sensitive_facts_are_errors(check_text, extra, code):
    model, diags = check_text(BASE + extra + RULES % "P1")
    assert model is None and [d.code for d in diags] == [code]
    assert diags[0].location.line > 1


def test_sensitive_fields_are_audited(check_text):
    model, diags = check_text(BASE + "audit_fields: [subject]\nsensitive: [customer.email]\n"
                              + RULES % "P1")
    assert not diags
    assert model.audit_fields == ("subject", "customer.email")
    assert model.sensitive == ("customer.email",)


def test_the_log_records_the_version_and_whether_it_was_in_force(folder, tmp_path):
    path = tmp_path / "log.db"
    with DecisionLog.open(path) as log:
        app.decide(str(folder), _ticket("2026-03-02T10:00:00+01:00"), log=log)
        app.decide(f"{folder}@2026.2", _ticket("2026-03-02T10:00:00+01:00"), log=log)
    with LogReader(path) as reader:
        one, two = (reader.get(s).record["policy"] for s in ("1", "2"))
    assert (one["version"], one["in_force"], one["path"]) == ("2026.1", True,
                                                             "versions/2026.1.yaml")
    assert one["effective_from"] == "2026-01-01T00:00:00+01:00"
    assert (two["version"], two["in_force"]) == ("2026.2", False)


def test_cli_names_a_version_and_lists_dates(folder, tmp_path):
    ticket = tmp_path / "t.json"
    ticket.write_text(_ticket("2026-08-02T10:00:00+02:00"), "utf-8")
    runner = CliRunner()
    out = runner.invoke(cli.main, ["evaluate", "-p", f"{folder}@2026.1", str(ticket)])
    assert out.exit_code == 0 and json.loads(out.stdout)["policy"]["version"] == "2026.1"
    listed = runner.invoke(cli.main, ["policies", str(folder)])
    assert listed.exit_code == 0
    assert "2026.2" in listed.stdout and "in force 2026-07-01T00:00:00+02:00" in listed.stdout
    (folder / "versions" / "2026.2.yaml").write_text(_version(
        "2026.2", "P2", "2026-06-01T00:00:00+02:00", "2026-05-01T00:00:00+02:00"), "utf-8")
    bad = runner.invoke(cli.main, ["validate", str(folder)])
    assert bad.exit_code == 1 and "bad_effective_range" in bad.stderr


def test_loose_rule_files_in_one_folder_are_not_versions(tmp_path):
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(_version("1", "P1", None), "utf-8")
    report = app.check_paths([str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")], lint=False)
    assert report.diagnostics == () and report.files == 2
