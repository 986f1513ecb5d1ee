"""The policy set a worker serves: compiled once, swapped whole on reload, never half-updated.

A policy folder holding several effective-dated versions (`policy.yaml`, `versions/*.yaml`) is
served once, under its id: a request names a version, or the one in force at the ticket's
`submitted_at` decides (`engine.compile.versions`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from engine import app
from engine.compile.compiler import CompiledPolicy
from engine.compile.versions import PolicyVersions, load_versions
from engine.core.decision import sha256_of
from engine.core.diagnostics import Diagnostic, DiagnosticError, Location
from engine.load.policies import bundled, display_path, expand, policy_folder, version_files


@dataclass(frozen=True)
class Served:
    """One served policy: the compiled version and the rule file's text it was compiled from;
    for a folder of effective-dated versions, the latest, with every version (`by_version`,
    ordered by `effective_from`) and their order (`versions`)."""

    policy: CompiledPolicy
    source: str
    path: Path
    by_version: Mapping[str, Served] = field(default_factory=lambda: MappingProxyType({}))
    versions: PolicyVersions | None = None

    @property
    def id(self) -> str:
        return self.policy.id

    def version(self, name: str | None) -> Served | None:
        """The version `name` (None: this one, the latest), or None when there is none such."""
        if name is None or name == self.policy.version and not self.by_version:
            return self
        return self.by_version.get(name)

    def known_versions(self) -> list[str]:
        return list(self.by_version) or [self.policy.version]

    def deciding(self) -> CompiledPolicy | PolicyVersions:
        """What decides a ticket that names no version: the versions (picked by the ticket's
        `submitted_at`), or the one policy."""
        return self.versions or self.policy

    def _dates(self) -> dict:
        p = self.policy.policy
        return {"effective_from": p.effective_from.isoformat() if p.effective_from else None,
                "effective_until": p.effective_until.isoformat() if p.effective_until else None}

    def summary(self) -> dict:
        p = self.policy
        out = {"id": p.id, "title": p.policy.title, "version": p.version, "digest": p.digest,
               **self._dates()}
        if self.by_version:
            out["versions"] = [{"version": v, "digest": s.policy.digest, **s._dates()}
                               for v, s in self.by_version.items()]
        return out

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

    def digests(self) -> dict[tuple[str, str], str]:
        """(policy id, version) → digest, for every version served."""
        return {(s.id, v.policy.version): v.policy.digest for s in self.by_id.values()
                for v in (s.by_version.values() or [s])}


def load_set(refs: Sequence[str]) -> tuple[PolicySet | None, tuple[Diagnostic, ...]]:
    """Every policy named by `refs` (folders of policies, policy folders, files, bundled ids;
    none: every bundled policy), or None with every problem: a set is taken whole or not at all."""
    problems: list[Diagnostic] = []
    files = expand(list(refs), problems) if refs else list(bundled().values())
    if not files and not problems:
        problems.append(Diagnostic("no_policies", "no policy to serve",
                                   location=Location(file="--policies")))
    if not refs:
        files = [f for p in files for f in version_files(policy_folder(p))]
    found: dict[str, Served] = {}
    for group in _groups(files):
        served, diags = _load_group(group)
        problems += diags
        if served is None:
            continue
        if served.id in found:
            path = group[0]
            problems.append(Diagnostic(
                "duplicate_policy_id", f"policy id `{served.id}` is served twice: "
                f"`{display_path(found[served.id].path)}` and `{display_path(path)}`",
                location=Location(file=display_path(path)),
                hint="serve each policy id once; a policy's id is its `id:` field"))
            continue
        found[served.id] = served
    if any(d.severity == "error" for d in problems):
        return None, tuple(sorted(problems, key=Diagnostic.sort_key))
    digest = sha256_of(sorted((s.id, v.policy.digest) for s in found.values()
                              for v in (s.by_version.values() or [s])))
    when = datetime.now(UTC).isoformat(timespec="seconds")
    return PolicySet(MappingProxyType(dict(sorted(found.items()))), digest, when), ()


def _groups(files: list[Path]) -> list[list[Path]]:
    """The files, the versions of each policy folder together (a folder named whole), in order;
    a version file named by itself stands for itself."""
    groups: dict[Path, list[Path]] = {}
    for path in files:
        folder = policy_folder(path)
        whole = len(version_files(folder)) > 1 and path in version_files(folder)
        group = groups.setdefault(folder if whole else path, [])
        if path in group:    # the same file twice: served twice
            groups[Path(f"{path}#{len(groups)}")] = [path]
        else:
            group.append(path)
    return list(groups.values())


def _load_group(paths: list[Path]) -> tuple[Served | None, list[Diagnostic]]:
    """One file as it is; a folder's versions compiled, checked together (overlaps, gaps) and
    ordered by `effective_from`. A folder named in part serves only the files named."""
    if len(paths) == 1 or set(paths) != set(version_files(policy_folder(paths[0]))):
        if len(paths) > 1:
            return None, [Diagnostic(
                "duplicate_policy_id", f"`{display_path(paths[0])}` and "
                f"`{display_path(paths[1])}` are versions of one policy, named separately",
                location=Location(file=display_path(paths[1])),
                hint="name the policy folder to serve every version it holds")]
        return _load_one(paths[0])
    loaded: dict[Path, Served] = {}
    problems: list[Diagnostic] = []
    for path in paths:
        served, diags = _load_one(path)
        problems += diags
        if served is not None:
            loaded[path] = served
    if len(loaded) < len(paths):
        return None, problems
    try:
        versions = load_versions(str(policy_folder(paths[0])),
                                 load=lambda p: loaded[p].policy)
    except DiagnosticError as exc:
        return None, [*problems, *exc.diagnostics]
    by_path = {s.policy.policy.file: s for s in loaded.values()}
    by_version = {cp.version: Served(cp, by_path[cp.policy.file].source,
                                     by_path[cp.policy.file].path) for cp in versions.versions}
    latest = by_version[versions.latest.version]
    return Served(latest.policy, latest.source, latest.path, MappingProxyType(by_version),
                  versions), problems


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
