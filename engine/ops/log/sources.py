"""Policy sources, content-addressed: the exact bytes a decision's citations point into.

A policy's digest covers its canonical content only (prepend a comment line and the digest stays
while every `file:line` citation moves by one), so the log stores the policy's files themselves
and names them by a **source digest**:

    manifest      = {"files": {path: "sha256:<hex of the file's bytes>", ...}, "policy": path}
    source_digest = "sha256:" + hex(SHA-256(canonical JSON of manifest))

`path`s are inside the policy folder (`policy.yaml`, `versions/2026.1.yaml`,
`sources/terms.txt`); `policy` names the rule file. The files are the rule file and the local
documents its `sources` quote.
"""

from __future__ import annotations

import hashlib
import posixpath
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.check.checks import check_document
from engine.compile.compiler import CompiledPolicy, cited_path
from engine.core.decision import canonical_json
from engine.core.diagnostics import Diagnostic, Location
from engine.core.paths import ROOT
from engine.load import load_yaml


class SourceError(Exception):
    """A policy's files cannot be captured as they were compiled."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def sha256_hex(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PolicySource:
    """The files of one policy version: path inside the folder → bytes."""

    digest: str
    policy_path: str
    files: dict[str, bytes]

    @property
    def manifest(self) -> dict:
        return manifest_of(self.policy_path, self.files)

    def text(self) -> str:
        """The rule file's text."""
        return self.files[self.policy_path].decode("utf-8")

    def line(self, path: str, number: int) -> str | None:
        """Line `number` (1-based) of file `path`, as stored; None when there is no such line."""
        data = self.files.get(path)
        if data is None:
            return None
        lines = data.decode("utf-8", "replace").splitlines()
        return lines[number - 1] if 1 <= number <= len(lines) else None

    def write_to(self, folder: Path) -> Path:
        """Write the files under `folder` (a fresh policy folder); the rule file's path."""
        for rel, data in self.files.items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return folder / self.policy_path


def manifest_of(policy_path: str, files: dict[str, bytes]) -> dict:
    return {"files": {p: sha256_hex(files[p]) for p in sorted(files)}, "policy": policy_path}


def source_digest(manifest: dict) -> str:
    """The source digest of a manifest (see the module docstring)."""
    return sha256_hex(canonical_json(manifest).encode("utf-8"))


def safe_path(rel: str) -> bool:
    """A path that stays inside the policy folder (stored sources are written back there)."""
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel


def _rule_file(cp: CompiledPolicy) -> Path:
    written = Path(cp.policy.file)
    for candidate in (written, ROOT / written):
        if candidate.is_file():
            return candidate
    raise SourceError(Diagnostic(
        "log_source_missing", f"cannot read policy file `{cp.policy.file}` to store its source",
        location=Location(file=cp.policy.file), hint="run from the folder the policy was "
        "loaded from, or load it by an absolute path"))


def _check_same(cp: CompiledPolicy, data: bytes, name: str) -> None:
    """The bytes must be what `cp` was compiled from: same content digest, same rule lines."""
    try:
        doc, diags = load_yaml(data.decode("utf-8"), cp.policy.file)
        policy, more = check_document(doc) if doc is not None else (None, diags)
    except UnicodeDecodeError:
        policy = None
    same = policy is not None and sha256_hex(policy.canonical.encode("utf-8")) == cp.digest and \
        tuple(r.location.line for r in policy.rules) == tuple(c.line for c, _ in cp.trace_meta)
    if not same:
        raise SourceError(Diagnostic(
            "log_source_changed", f"policy file `{name}` changed on disk since it was compiled",
            location=Location(file=cp.policy.file), hint="reload the policy (restart the "
            "service) so decisions and their logged source agree"))


def capture(cp: CompiledPolicy) -> PolicySource:
    """Read the policy's files now, checked against the compiled policy (SourceError if the
    rule file changed since it was compiled)."""
    rule_file = _rule_file(cp)
    cited = cited_path(cp.policy.file)
    folder = rule_file.parent.parent if cited.startswith("versions/") else rule_file.parent
    data = rule_file.read_bytes()
    _check_same(cp, data, str(rule_file))
    files = {cited: data}
    for src in cp.policy.sources.values():
        location = src.get("location")
        if not location or "://" in location:
            continue
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(cited), location))
        doc = folder / rel
        if safe_path(rel) and doc.is_file():
            files[rel] = doc.read_bytes()
    manifest = manifest_of(cited, files)
    return PolicySource(source_digest(manifest), cited, files)


_captured: dict[tuple, PolicySource] = {}
_captured_lock = threading.Lock()


def source_of(cp: CompiledPolicy) -> PolicySource:
    """`capture(cp)`, once per compiled policy (by digest, file and rule positions)."""
    key = (cp.cache_scope, cp.policy.file)
    with _captured_lock:
        hit = _captured.get(key)
    if hit is not None:
        return hit
    found = capture(cp)
    with _captured_lock:
        if len(_captured) >= 256:
            _captured.clear()
        _captured[key] = found
    return found


def version_warning(policy_id: str, version: str, digest: str, others: list[str]) -> Diagnostic:
    """`version_not_bumped`: a policy's content changed but its `version` did not."""
    shown = ", ".join(f"`{d[:19]}…`" for d in sorted(others))
    return Diagnostic("version_not_bumped", f"policy `{policy_id}` version `{version}` has digest "
                      f"`{digest[:19]}…`, but the log holds decisions of the same version with "
                      f"digest {shown}", severity="warning", location=Location(file=policy_id),
                      hint="bump `version` whenever the policy's content changes")
