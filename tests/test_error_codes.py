"""Every diagnostic code the code base can emit is documented."""

from __future__ import annotations

import re

from conftest import ROOT

NOT_CODES = {"no_guarantee", "no_guarantee_reason", "ticket_id",  # action and field names
             "no_match", "no_sla",  # trace event kinds
             "schema_version", "log_id",  # decision-log table and meta names
             "log_error", "log_path"}  # a status value, a click parameter
PREFIXES = ("yaml", "json", "schema", "ticket", "calendar", "engine", "test", "file", "unknown",
            "bad", "fact", "table", "plan", "rule", "reserved", "duplicate", "type", "operator",
            "number", "missing", "condition", "no", "fixed", "firing", "evaluation", "log",
            "version")


def test_every_code_is_documented():
    pattern = re.compile('"((?:' + "|".join(PREFIXES) + ')_[a-z_]+)"')
    emitted = set()
    for path in [*(ROOT / "engine").rglob("*.py"), ROOT / "cli.py"]:
        emitted |= set(pattern.findall(path.read_text("utf-8")))
    emitted -= NOT_CODES
    docs = (ROOT / "docs" / "errors.md").read_text() + (ROOT / "docs" / "lint.md").read_text()
    missing = sorted(c for c in emitted if f"`{c}`" not in docs)
    assert not missing, f"undocumented codes: {missing}"
