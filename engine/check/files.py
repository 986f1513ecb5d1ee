"""Load and check one policy file: the model and every diagnostic."""

from __future__ import annotations

from pathlib import Path

from engine.check.checks import check_document
from engine.core.diagnostics import Diagnostic
from engine.core.model import Policy
from engine.load import load_yaml, read_text
from engine.load.policies import display_path


def check_file(path: Path | str) -> tuple[Policy | None, list[Diagnostic]]:
    """Load and check one rule file: the model, and every diagnostic found."""
    path = Path(path)
    name = display_path(path)
    text, problems = read_text(path, name)
    if text is None:
        return None, problems
    doc, diags = load_yaml(text, name)
    if doc is None or any(d.severity == "error" for d in diags):
        return None, diags
    policy, more = check_document(doc)
    return policy, diags + more
