"""A policy's effective-dated versions, and which one decides a ticket.

A reference is a bundled id, a policy folder or a rule file, optionally followed by
`@VERSION` (`cloudtalk@2026.11.2`). A folder (or bundled id) stands for every version it holds
(`policy.yaml` and `versions/*.yaml`); a file stands for itself. A ticket is decided by the
version named, else by the version in force at its `submitted_at`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from engine.check.tickets import parse_timestamp
from engine.check.versions import check_versions
from engine.compile.compiler import CompiledPolicy
from engine.compile.pipeline import load_policy
from engine.core.diagnostics import Diagnostic, DiagnosticError, Location, did_you_mean
from engine.load.policies import bundled, resolve, version_files


def split_ref(ref: str) -> tuple[str, str | None]:
    """`id@version` → (`id`, `version`); a reference that names a file as written has none."""
    if "@" not in ref or ref in bundled() or Path(ref).exists():
        return ref, None
    base, version = ref.rsplit("@", 1)
    return base, version or None


def version_paths(ref: str) -> tuple[list[Path], str | None]:
    """The rule files a reference stands for, and the version it names (DiagnosticError for a
    reference that names no policy)."""
    base, version = split_ref(ref)
    found = bundled()
    if base in found:
        return version_files(found[base].parent), version
    path = Path(base)
    if path.is_dir() and version_files(path):
        return version_files(path), version
    return [resolve(base)], version


def is_versioned(ref: str) -> bool:
    """Does the reference name a version, or stand for more than one?"""
    try:
        paths, version = version_paths(ref)
    except DiagnosticError:
        return False
    return version is not None or len(paths) > 1


@dataclass(frozen=True)
class PolicyVersions:
    """The versions of one policy, ordered by `effective_from` (an undated one alone)."""

    id: str
    versions: tuple[CompiledPolicy, ...]
    named: CompiledPolicy | None = None   # the version the reference named, if it named one

    @property
    def latest(self) -> CompiledPolicy:
        """The version with the latest `effective_from` (the only one, when undated)."""
        return self.versions[-1]

    @property
    def chosen(self) -> CompiledPolicy:
        """The named version, else the latest: what a host uses when no ticket says more."""
        return self.named or self.latest

    def in_force(self, at: datetime) -> CompiledPolicy | None:
        """The version in force for a ticket submitted at `at`, if any."""
        for cp in self.versions:
            if cp.policy.in_force(at):
                return cp
        return None

    def select(self, ticket: object) -> tuple[CompiledPolicy, Diagnostic | None]:
        """The version that decides `ticket`: the named one, else the one in force at its
        `submitted_at`. A `submitted_at` that is missing or invalid yields the latest version
        (its ticket check reports the problem); no version in force, a diagnostic."""
        if self.named is not None:
            return self.named, None
        raw = ticket.get("submitted_at") if isinstance(ticket, Mapping) else None
        try:
            at = parse_timestamp(raw)
        except ValueError:
            return self.latest, None
        found = self.in_force(at)
        if found is not None:
            return found, None
        spans = ", ".join(f"`{cp.version}` from " + (cp.policy.effective_from.isoformat()
                                                    if cp.policy.effective_from else "always")
                          for cp in self.versions)
        return self.latest, Diagnostic(
            "version_not_in_force", f"no version of `{self.id}` is in force at `{raw}`",
            location=Location(pointer="/submitted_at"),
            hint=f"versions: {spans}; or name one: `--policy {self.id}@{self.latest.version}`")


Loader = Callable[[Path], CompiledPolicy]


def _ends(ordered: list[CompiledPolicy]) -> list[CompiledPolicy]:
    """Each version's `effective_until` made explicit: a version without one runs until the
    next starts (decisions and the log then say when each version stopped being in force)."""
    out = []
    for cp, after in zip(ordered, [*ordered[1:], None], strict=True):
        start = after.policy.effective_from if after is not None else None
        if cp.policy.effective_until is None and start is not None:
            cp = replace(cp, policy=replace(cp.policy, effective_until=start))
        out.append(cp)
    return out


def load_versions(ref: str, load: Loader = load_policy) -> PolicyVersions:
    """Load every version a reference stands for; DiagnosticError lists every problem of every
    version file, then of the versions together (overlaps, gaps), then an unknown `@VERSION`."""
    paths, version = version_paths(ref)
    loaded: list[CompiledPolicy] = []
    problems: list[Diagnostic] = []
    for path in paths:
        try:
            loaded.append(load(path))
        except DiagnosticError as exc:
            problems += exc.diagnostics
    if problems:
        raise DiagnosticError(problems)
    return assemble_versions(loaded, version, ref)


def assemble_versions(loaded: list[CompiledPolicy], version: str | None = None,
                      ref: str = "") -> PolicyVersions:
    """The versions of one policy from its compiled version files (as `load_versions` orders
    and dates them; a batch worker sent their texts builds the same); DiagnosticError for
    overlapping or gapped validity, or a `version` none has (`ref` names the reference)."""
    problems = check_versions([cp.policy for cp in loaded])
    if problems:
        raise DiagnosticError(problems)
    ordered = tuple(_ends(sorted(loaded, key=lambda cp: (cp.policy.effective_from is not None,
                                                         cp.policy.effective_from or 0))))
    named = None
    if version is not None:
        named = next((cp for cp in ordered if cp.version == version), None)
        if named is None:
            known = [cp.version for cp in ordered]
            raise DiagnosticError([Diagnostic(
                "unknown_version", f"policy `{ordered[0].id}` has no version `{version}`",
                location=Location(file=ref), hint="; ".join(filter(None, [
                    did_you_mean(version, known), f"versions: {', '.join(known)}"])))])
    return PolicyVersions(ordered[0].id, ordered, named)
