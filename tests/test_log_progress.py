"""Progress of the long log commands: `verify` and `replay` tell a callback how far they got,
and `log verify`, `log checkpoint` and `replay` show it as a bar on stderr when asked (or when
stderr is a terminal), never on stdout."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from log_helpers import build_log

import cli
from engine.ops import replay as replay_
from engine.ops.log.chain import PROGRESS_EVERY, verify


@pytest.fixture(scope="module")
def log_1500(tmp_path_factory):
    path = tmp_path_factory.mktemp("progress") / "log.db"
    build_log(path, PROGRESS_EVERY + 500, seed=5)
    return str(path)


def test_verify_reports_every_thousand_records_and_the_end(log_1500):
    seen: list[int] = []
    report = verify(log_1500, progress=seen.append)
    assert report.ok
    assert seen == [PROGRESS_EVERY, report.records] == [1000, 1500]


def test_replay_reports_its_records(tmp_path):
    path = tmp_path / "log.db"
    build_log(path, 250, seed=6)
    seen: list[int] = []
    report = replay_.replay(path, progress=seen.append)
    assert report.ok and report.records == 250
    assert seen == [100, 200, 250]


@pytest.mark.parametrize("command", [("log", "verify"), ("log", "checkpoint"), ("replay",)])
def test_the_bar_is_on_stderr_when_asked_and_never_on_stdout(tmp_path, command):
    path = str(tmp_path / "log.db")
    build_log(path, 120, seed=7)
    shown = CliRunner().invoke(cli.main, [*command, path, "--progress"])
    quiet = CliRunner().invoke(cli.main, [*command, path, "--no-progress"])
    plain = CliRunner().invoke(cli.main, [*command, path])   # stderr not a terminal: no bar
    assert shown.exit_code == quiet.exit_code == plain.exit_code == 0, shown.stderr
    assert "120/120" in shown.stderr and " records" in shown.stderr
    assert "records/s" not in quiet.stderr and "records/s" not in plain.stderr
    assert shown.stdout == quiet.stdout == plain.stdout


@pytest.mark.parametrize("command", [("log", "verify"), ("log", "checkpoint"), ("replay",)])
def test_no_bar_for_a_missing_log(tmp_path, command):
    out = CliRunner().invoke(cli.main, [*command, str(tmp_path / "none.db"), "--progress"])
    assert out.exit_code == 2 and "no decision log" in out.stderr
    assert "records/s" not in out.stderr and "0.00" not in out.stderr
