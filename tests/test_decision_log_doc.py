"""docs/decision-log.md specifies the log precisely enough to verify it with a short script of
one's own: the script printed there (standard library only, no engine import) accepts a good log,
agrees with `log checkpoint`, and rejects tampered ones."""

from __future__ import annotations

import ast
import re
import sqlite3
import subprocess
import sys

import pytest
from conftest import ROOT
from log_helpers import build_log

from engine.ops.log.chain import head

DOC = ROOT / "docs" / "decision-log.md"


def script() -> str:
    text = DOC.read_text("utf-8")
    section = text[text.index("### Verify it yourself"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", "-c", script(), str(path)],
                          capture_output=True, text=True, timeout=120, cwd="/")


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    path = tmp_path_factory.mktemp("doclog") / "log.db"
    build_log(path, 60, seed=21)
    return path


def test_the_script_uses_the_standard_library_only():
    imported = set()
    for node in ast.walk(ast.parse(script())):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"hashlib", "json", "sqlite3", "sys"}


def test_the_script_accepts_a_good_log_and_agrees_with_the_engine(log):
    out = run(log)
    assert out.returncode == 0, out.stderr
    seq, digest = head(log)
    assert out.stdout.strip() == f"ok {seq}:{digest}" and seq == 60


@pytest.mark.parametrize("tamper", [
    "UPDATE records SET record = replace(record, '\"ticket_id\":\"', '\"ticket_id\":\"X') "
    "WHERE seq = 17",
    "DELETE FROM records WHERE seq = 30",
    "DELETE FROM records WHERE seq > 55",
    "UPDATE outcomes SET outcome = replace(outcome, '\"seq\":1', '\"seq\":9')",
    "UPDATE blobs SET bytes = CAST(replace(CAST(bytes AS TEXT), 'id:', 'ID:') AS BLOB)",
    "UPDATE records SET hash = (CASE WHEN hash LIKE '0%' THEN '1' ELSE '0' END) || "
    "substr(hash, 2) WHERE seq = 40",
])
def test_the_script_rejects_tampered_logs(log, tmp_path, tamper):
    copy = tmp_path / "copy.db"
    src, dst = sqlite3.connect(log), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    changed = dst.execute(tamper).rowcount
    dst.commit()
    dst.close()
    assert changed > 0
    out = run(copy)
    assert out.returncode != 0 and out.stderr.startswith("record "), out
