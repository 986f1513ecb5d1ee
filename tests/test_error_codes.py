"""Every diagnostic code the code base can emit is documented."""

from __future__ import annotations

import re

from conftest import ROOT

# action, field, event kind, function, table and parameter names; a status value
NOT_CODES = {"no_guarantee", "no_guarantee_reason", "ticket_id", "no_match", "no_sla",
             "mapping_for", "no_target", "schema_version", "log_id", "log_error", "log_path"}
PREFIXES = ("yaml", "json", "schema", "ticket", "calendar", "engine", "test", "file", "unknown",
            "bad", "fact", "table", "plan", "rule", "reserved", "duplicate", "type", "operator",
            "number", "missing", "condition", "no", "fixed", "firing", "evaluation", "mapping",
            "metric", "log", "version")


def test_every_code_is_documented():
    pattern = re.compile('"((?:' + "|".join(PREFIXES) + ')_[a-z_]+)"')
    emitted = set()
    for path in [*(ROOT / "engine").rglob("*.py"), ROOT / "cli.py"]:
        emitted |= set(pattern.findall(path.read_text("utf-8")))
    emitted -= NOT_CODES
    emitted = {c for c in emitted if not c.startswith("ticket_policy")}  # metric names
    docs = (ROOT / "docs" / "errors.md").read_text() + (ROOT / "docs" / "lint.md").read_text()
    missing = sorted(c for c in emitted if f"`{c}`" not in docs)
    assert not missing, f"undocumented codes: {missing}"
