"""Resolve and load one side of a diff: a policy folder, file, bundled id or `git:REV:path`."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.check.checks import check_document
from engine.compile.compiler import CompiledPolicy, compile_policy
from engine.compile.versions import is_versioned, load_versions
from engine.core.diagnostics import Diagnostic, DiagnosticError, Location
from engine.core.model import Policy
from engine.load import load_yaml, read_text
from engine.load.document import Document
from engine.load.policies import display_path, resolve


@dataclass(frozen=True)
class Side:
    """One loaded version: its reference, checked model, located document and compiled form."""

    ref: str
    file: str
    model: Policy
    document: Document
    compiled: CompiledPolicy
    text: str = ""      # the policy's source text (what a batch worker is sent)


def _git_file(ref: str, workdir: Path) -> Path:
    """`git:REV:path` written to a temp folder (a folder's policy.yaml and its sources)."""
    _, rev, path = ref.split(":", 2)
    if not rev or not path:
        raise DiagnosticError([Diagnostic("diff_bad_ref", f"bad git reference `{ref}`",
                                          hint="write `git:REV:path`, e.g. git:HEAD:rules/zmanda")])
    def show(p: str) -> bytes | None:
        res = subprocess.run(["git", "show", f"{rev}:{p}"], capture_output=True, check=False)
        return res.stdout if res.returncode == 0 else None
    path = path.rstrip("/")
    text = show(f"{path}/policy.yaml")
    name = "policy.yaml"
    if text is None:
        text, name = show(path), Path(path).name
    if text is None:
        raise DiagnosticError([Diagnostic("diff_bad_ref", f"git cannot show `{rev}:{path}`",
                                          location=Location(file=ref),
                                          hint="check the revision and the path")])
    out = workdir / name
    out.write_bytes(text)
    return out


def load_side(ref: str) -> Side:
    """Load, check and compile one side; DiagnosticError lists every problem."""
    with tempfile.TemporaryDirectory(prefix="tp-diff-") as tmp:
        path = _git_file(ref, Path(tmp)) if ref.startswith("git:") else _rule_file(ref)
        name = ref if ref.startswith("git:") else display_path(path)
        text, problems = read_text(path, name)
        if text is None:
            raise DiagnosticError(problems)
        doc, diags = load_yaml(text, name)
        model = None
        if doc is not None and not any(d.severity == "error" for d in diags):
            model, more = check_document(doc)
            diags = diags + more
        errors = [d for d in diags if d.severity == "error"]
        if doc is None or model is None or errors:
            raise DiagnosticError(errors or diags)
        return Side(ref, name, model, doc, compile_policy(model), text)


def _rule_file(ref: str) -> Path:
    """The rule file a reference names; of a folder's (or `ID@VERSION`'s) effective-dated
    versions, the one named, else the latest (as `policies` lists them)."""
    if not is_versioned(ref):
        return resolve(ref)
    chosen = load_versions(ref).chosen
    return Path(chosen.policy.file)
