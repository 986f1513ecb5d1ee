"""Load → check → compile, for a policy file or a bundled policy id."""

from __future__ import annotations

from pathlib import Path

from engine.check.files import check_file
from engine.compile.compiler import CompiledPolicy, compile_policy
from engine.core.diagnostics import DiagnosticError
from engine.load.policies import resolve


def load_policy(policy: str | Path) -> CompiledPolicy:
    """Resolve, load, check and compile a policy; DiagnosticError lists every problem."""
    path = resolve(str(policy))
    model, diags = check_file(path)
    if model is None or any(d.severity == "error" for d in diags):
        raise DiagnosticError([d for d in diags if d.severity == "error"] or diags)
    return compile_policy(model)



def load_policy_text(text: str, file: str) -> CompiledPolicy:
    """Check and compile a policy's source text, cited as `file` (what a worker that was sent
    the text compiles: the same text and name give the same digest and citations)."""
    from engine.check.checks import check_document
    from engine.load import load_yaml

    doc, diags = load_yaml(text, file)
    model = None
    if doc is not None and not any(d.severity == "error" for d in diags):
        model, more = check_document(doc)
        diags += more
    if model is None or any(d.severity == "error" for d in diags):
        raise DiagnosticError([d for d in diags if d.severity == "error"] or diags)
    return compile_policy(model)
