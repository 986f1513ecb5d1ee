"""The log commands through click's CliRunner, the README's compliance workflow through a real
subprocess, and the durability contract at the command line: a log that cannot be written (a
read-only file, a full disk) exits 4, prints no decision, and leaves no partial record."""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import ROOT

import cli
from engine.ops.log.query import LogReader

CT = str(ROOT / "examples" / "cloudtalk-staging-p1.json")
ZM = str(ROOT / "examples" / "zmanda-trial.json")


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


@pytest.fixture
def log(tmp_path):
    path = str(tmp_path / "decisions.db")
    for policy, ticket in (("cloudtalk", CT), ("zmanda", ZM), ("cloudtalk", CT)):
        out = run("evaluate", "--log", path, "-p", policy, "--now", "2027-01-10T12:00:00+01:00",
                  ticket)
        assert out.exit_code == 0, out.stderr
        json.loads(out.stdout)
    return path


def test_evaluate_log_then_show_search_verify_export(log):
    with LogReader(log) as reader:
        assert reader.count() == 3
        first = reader.get("1")
    shown = run("log", "show", log, first.record["decision_id"])
    assert shown.exit_code == 0
    assert "ticket CT-1042" in shown.stdout and "reclassified P1 → P3" in shown.stdout
    assert "cloudtalk/policy.yaml:93 (p1-production-only): - id: p1-production-only" in \
        shown.stdout
    by_ticket = run("log", "show", log, "--ticket", "CT-1042")
    assert by_ticket.stdout.count("record ") == 2
    as_json = json.loads(run("log", "show", log, "2", "--format", "json").stdout)
    assert as_json["decision"]["ticket_id"] == "ZM-777"
    assert run("log", "show", log, "nope").exit_code == 2
    assert run("log", "show", log).exit_code == 2

    text = run("log", "search", log, "--rule", "p1-production-only")
    assert text.exit_code == 0 and text.stdout.strip().endswith("2 record(s)")
    rows = list(csv.DictReader(io.StringIO(run("log", "search", log, "--policy", "zmanda",
                                                "--format", "csv").stdout)))
    assert [r["ticket_id"] for r in rows] == ["ZM-777"]
    found = json.loads(run("log", "search", log, "--priority", "P3", "--sla", "overdue",
                           "--format", "json").stdout)
    assert [r["seq"] for r in found] == [1, 3]
    assert run("log", "search", log, "--since", "2999-01-01T00:00:00Z").stdout.startswith("0 ")
    assert run("log", "search", log, "--since", "yesterday").exit_code == 2

    ok = run("log", "verify", log)
    assert ok.exit_code == 0 and ok.stdout.startswith("ok: 3 record(s)")
    lines = run("log", "export", log).stdout.splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 2, 3]
    assert json.loads(lines[0])["record"]["ticket_id"] == "CT-1042"


def _ids(log) -> list[str]:
    with LogReader(log) as reader:
        return [reader.by_seq(n).record["decision_id"] for n in (1, 2, 3)]


def test_show_json_is_one_document(log):
    both = run("log", "show", log, "--ticket", "CT-1042", "--format", "json")
    assert both.exit_code == 0
    records = json.loads(both.stdout)                      # one valid JSON document
    assert [r["seq"] for r in records] == [1, 3]
    one = json.loads(run("log", "show", log, "--ticket", "ZM-777", "--format", "json").stdout)
    assert isinstance(one, list) and [r["seq"] for r in one] == [2]
    by_id = json.loads(run("log", "show", log, _ids(log)[1], "--format", "json").stdout)
    assert by_id["seq"] == 2 and by_id == one[0]
    assert json.loads(run("log", "show", log, "--seq", "3", "--format", "json").stdout) == \
        records[1]


def test_show_ambiguous_prefix_and_digits(log):
    ids = _ids(log)
    prefix = os.path.commonprefix(ids)[:8]               # UUIDv7s of one run share a prefix
    r = run("log", "show", log, prefix)
    assert r.exit_code == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert f"error[log_ambiguous_id]: `{prefix}` names 3 records: 3 decision ids start " \
        "with it; hint: give more characters of the decision id" in r.stderr
    shown = run("log", "show", log, ids[1][:30])            # a unique prefix
    assert shown.exit_code == 0 and "record 2 " in shown.stdout
    assert run("log", "show", log, "1").stdout.startswith("record 1 ")   # no id starts with 1
    both = run("log", "show", log, "01")            # seq 1, and every id starts with 01
    assert ids[0].startswith("01") and both.exit_code == 2
    assert "`01` names 4 records: 3 decision ids start with it and it is seq 1; hint: use " \
        "`--seq 1` for the record" in both.stderr
    assert run("log", "show", log, "--seq", "1").stdout.startswith("record 1 ")
    missing = run("log", "show", log, "--seq", "9")
    assert missing.exit_code == 2 and "error[log_no_record]" in missing.stderr
    assert "no record of seq 9" in missing.stderr
    assert run("log", "show", log, "7").exit_code == 2
    assert run("log", "show", log, "1", "--seq", "1").exit_code == 2


def test_checkpoint_and_verify_with_it(log):
    mark = run("log", "checkpoint", log)
    assert mark.exit_code == 0
    assert run("log", "verify", log, "--checkpoint", mark.stdout.strip()).exit_code == 0
    assert run("evaluate", "--log", log, "-p", "zmanda", ZM).exit_code == 0
    assert run("log", "verify", log, "--checkpoint", mark.stdout.strip()).exit_code == 0
    wrong = mark.stdout.strip()[:-1] + ("0" if mark.stdout.strip()[-1] != "0" else "1")
    bad = run("log", "verify", log, "--checkpoint", wrong)
    assert bad.exit_code == 1 and "checkpoint" in bad.stderr
    assert run("log", "verify", log, "--checkpoint", "abc").exit_code == 2


def test_verify_names_the_first_bad_record(log):
    conn = sqlite3.connect(log)
    changed = conn.execute("UPDATE records SET record = replace(record, 'CT-1042', 'CT-1043') "
                           "WHERE seq = 3").rowcount
    assert changed == 1
    conn.commit()
    conn.close()
    bad = run("log", "verify", log)
    assert bad.exit_code == 1
    assert "record 3: its content does not match its hash" in bad.stderr
    assert run("log", "checkpoint", log).exit_code == 1
    assert json.loads(run("log", "verify", log, "--format", "json").stdout)["ok"] is False


def test_replay_reproduces_and_filters(log):
    out = run("replay", log)
    assert out.exit_code == 0, out.stdout
    assert "3 record(s) replayed: 3 reproduced, 0 differ" in out.stdout
    assert json.loads(run("replay", log, "--policy", "zmanda", "--format", "json").stdout)[
        "records"] == 1


def test_missing_or_foreign_logs_are_usage_errors(tmp_path):
    missing = str(tmp_path / "none.db")
    for args in (("log", "search", missing), ("log", "verify", missing), ("replay", missing),
                 ("log", "export", missing)):
        out = run(*args)
        assert out.exit_code == 2 and "error[log_unreadable]" in out.stderr, args
    assert not os.path.exists(missing)
    text = tmp_path / "notes.txt"
    text.write_text("not a log\n" * 50)
    out = run("evaluate", "--log", str(text), "-p", "zmanda", ZM)
    assert out.exit_code == 4 and out.stdout == "" and "log_not_a_log" in out.stderr


def test_policies_warns_when_a_version_changed_without_a_bump(tmp_path):
    folder = tmp_path / "zmanda"
    shutil.copytree(ROOT / "rules" / "zmanda", folder)
    log = str(tmp_path / "log.db")
    assert run("evaluate", "--log", log, "-p", str(folder), ZM).exit_code == 0
    assert "version_not_bumped" not in run("policies", str(folder), "--log", log).stderr
    policy = folder / "policy.yaml"
    policy.write_text(policy.read_text("utf-8").replace("title: ", "title: Edited ", 1))
    listed = run("policies", str(folder), "--log", log)
    assert listed.exit_code == 0 and "warning[version_not_bumped]" in listed.stderr
    again = run("evaluate", "--log", log, "-p", str(folder), ZM)
    assert again.exit_code == 0 and "warning[version_not_bumped]" in again.stderr
    # every append warns, not only the one that first stores the edited source
    third = run("evaluate", "--log", log, "-p", str(folder), ZM)
    assert third.exit_code == 0 and "warning[version_not_bumped]" in third.stderr
    lines = tmp_path / "in.jsonl"
    lines.write_text(json.dumps(json.loads(open(ZM, encoding="utf-8").read())) + "\n", "utf-8")
    batched = run("batch", "-p", str(folder), "--log", log, str(lines), "-o",
                  str(tmp_path / "out.jsonl"), "--workers", "1")
    assert batched.exit_code == 0, batched.stderr
    assert batched.stderr.count("warning[version_not_bumped]") == 1, batched.stderr


# --------------------------------------------------------------------------- real processes

def _cli(*args: str, preexec=None, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, str(ROOT / "cli.py"), *args],
                          capture_output=True, text=True, timeout=120, preexec_fn=preexec)


@pytest.mark.slow
def test_the_compliance_workflow_in_a_real_process(tmp_path):
    log = str(tmp_path / "decisions.db")
    first = _cli("evaluate", "--log", log, "--policy", "cloudtalk", CT)
    assert first.returncode == 0 and json.loads(first.stdout)["ticket_id"] == "CT-1042"
    assert _cli("log", "search", log, "--ticket", "CT-1042").stdout.endswith("1 record(s)\n")
    assert _cli("log", "verify", log).returncode == 0
    assert _cli("replay", log).returncode == 0


def _readonly_prefix(path: str) -> tuple[str, ...]:
    """How to run a process for which `path` is read-only, even as root."""
    os.chmod(path, 0o444)
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv"):   # root without the capabilities that bypass file modes
        return ("setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--")
    pytest.skip("running as root without setpriv: cannot make a file read-only for root")


def test_a_read_only_log_exits_4_and_prints_no_decision(tmp_path):
    log = str(tmp_path / "decisions.db")
    assert _cli("evaluate", "--log", log, "-p", "zmanda", ZM).returncode == 0
    out = _cli("evaluate", "--log", log, "-p", "cloudtalk", CT, prefix=_readonly_prefix(log))
    assert out.returncode == 4, out.stderr
    assert out.stdout == "" and "error[log_" in out.stderr and "Traceback" not in out.stderr
    os.chmod(log, 0o644)
    with LogReader(log) as reader:
        assert reader.count() == 1
    assert _cli("log", "verify", log).returncode == 0


def test_a_full_disk_exits_4_and_leaves_no_partial_record(tmp_path):
    log = str(tmp_path / "decisions.db")
    assert _cli("evaluate", "--log", log, "-p", "zmanda", ZM).returncode == 0
    limit = 8192   # no file may grow past 8 KiB: the WAL frame of the next commit cannot be written

    def full_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    out = _cli("evaluate", "--log", log, "-p", "cloudtalk", CT, preexec=full_disk)
    assert out.returncode == 4, (out.stdout, out.stderr)
    assert out.stdout == "" and "error[log_" in out.stderr
    report = _cli("log", "verify", log)
    assert report.returncode == 0 and "1 record(s)" in report.stdout
