"""Load and check one policy file: the model and every diagnostic."""

from __future__ import annotations

from pathlib import Path

from engine.check.checks import check_document
from engine.core.diagnostics import Diagnostic, Location
from engine.core.model import Policy
from engine.load import load_yaml
from engine.load.policies import display_path


def check_file(path: Path | str) -> tuple[Policy | None, list[Diagnostic]]:
    """Load and check one rule file: the model, and every diagnostic found."""
    path = Path(path)
    name = display_path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [Diagnostic("file_unreadable", f"cannot read `{name}`: {reason.lower()}",
                                 location=Location(file=name))]
    doc, diags = load_yaml(text, name)
    if doc is None or any(d.severity == "error" for d in diags):
        return None, diags
    policy, more = check_document(doc)
    return policy, diags + more
