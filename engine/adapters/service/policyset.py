"""The policy set a worker serves: compiled once, swapped whole on reload, never half-updated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from engine import app
from engine.compile.compiler import CompiledPolicy
from engine.core.decision import sha256_of
from engine.core.diagnostics import Diagnostic, Location
from engine.load.policies import bundled, display_path, expand


@dataclass(frozen=True)
class Served:
    """One served policy: the compiled version and the rule file's text it was compiled from."""

    policy: CompiledPolicy
    source: str
    path: Path

    @property
    def id(self) -> str:
        return self.policy.id

    def summary(self) -> dict:
        p = self.policy
        return {"id": p.id, "title": p.policy.title, "version": p.version, "digest": p.digest}

    def detail(self) -> dict:
        """What GET /v1/policies/{id} shows."""
        p = self.policy.policy
        sources = [{"id": sid, "title": s.get("title"), "language": s.get("language")}
                   for sid, s in p.sources.items()]
        return {**self.summary(), "file": p.file, "levels": list(p.levels),
                "default_plan": p.default_plan, "plans": sorted(p.plans),
                "calendars": sorted(p.calendars), "rules": len(p.rules), "sources": sources}


@dataclass(frozen=True)
class PolicySet:
    """Policies by id (read-only), with a digest over their ids and digests."""

    by_id: Mapping[str, Served]
    digest: str
    loaded_at: str

    def summaries(self) -> list[dict]:
        return [s.summary() for s in self.by_id.values()]


def load_set(refs: Sequence[str]) -> tuple[PolicySet | None, tuple[Diagnostic, ...]]:
    """Every policy named by `refs` (folders of policies, policy folders, files, bundled ids;
    none: every bundled policy), or None with every problem: a set is taken whole or not at all."""
    problems: list[Diagnostic] = []
    files = expand(list(refs), problems) if refs else list(bundled().values())
    if not files and not problems:
        problems.append(Diagnostic("no_policies", "no policy to serve",
                                   location=Location(file="--policies")))
    found: dict[str, Served] = {}
    for path in files:
        served, diags = _load_one(path)
        problems += diags
        if served is None:
            continue
        if served.id in found:
            problems.append(Diagnostic(
                "duplicate_policy_id", f"policy id `{served.id}` is served twice: "
                f"`{display_path(found[served.id].path)}` and `{display_path(path)}`",
                location=Location(file=display_path(path)),
                hint="serve each policy id once; a policy's id is its `id:` field"))
            continue
        found[served.id] = served
    if any(d.severity == "error" for d in problems):
        return None, tuple(sorted(problems, key=Diagnostic.sort_key))
    digest = sha256_of(sorted((s.id, s.policy.digest) for s in found.values()))
    when = datetime.now(UTC).isoformat(timespec="seconds")
    return PolicySet(MappingProxyType(dict(sorted(found.items()))), digest, when), ()


def _load_one(path: Path, tries: int = 3) -> tuple[Served | None, list[Diagnostic]]:
    """Compile `path` and keep the text it was compiled from (re-read if the file changed
    meanwhile)."""
    for _ in range(tries):
        try:
            before = path.stat()
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            text = None  # let compiling report it
        cp, diags = app.compiled(path)
        if cp is None or text is None:
            return None, list(diags)
        after = path.stat()
        if (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size):
            return Served(cp, text, path), list(diags)
    return None, [Diagnostic("file_unreadable", f"`{display_path(path)}` keeps changing while "
                             "it is read", location=Location(file=display_path(path)),
                             hint="reload once the file is written")]
