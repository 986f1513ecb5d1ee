"""Where policies are: bundled ids, files, policy folders and folders of policies."""

from __future__ import annotations

from pathlib import Path

from engine.core.diagnostics import Diagnostic, DiagnosticError, Location, did_you_mean
from engine.core.paths import ROOT, data_dir


def rules_dir() -> Path:
    """The bundled rules."""
    return data_dir("rules")


def bundled() -> dict[str, Path]:
    """Bundled policy ids -> their rule file."""
    return {p.parent.name: p for p in sorted(rules_dir().glob("*/policy.yaml"))}


def resolve(policy: str) -> Path:
    """A bundled id or a path to a rule file; DiagnosticError when it is neither."""
    found = bundled()
    if policy in found:
        return found[policy]
    path = Path(policy)
    if path.is_dir() and (path / "policy.yaml").is_file():
        return path / "policy.yaml"
    if path.is_file():
        return path
    if path.is_dir() and version_files(path):   # several versions: one file cannot stand for it
        names = ", ".join(f"`{p.stem}`" for p in version_files(path))
        raise DiagnosticError([Diagnostic(
            "unknown_policy", f"policy folder `{policy}` holds versions ({names}) and no "
            "policy.yaml: one rule file is wanted here", location=Location(file=policy),
            hint=f"name a version file, e.g. `{version_files(path)[-1]}`, or use a command "
            "that picks versions (evaluate, batch, serve)")])
    hint = did_you_mean(policy, found) or f"bundled policies: {', '.join(found)}"
    raise DiagnosticError([Diagnostic("unknown_policy", f"no policy `{policy}`: not a bundled "
                                      "id and not a file", location=Location(file=policy),
                                      hint=hint)])


def version_files(folder: Path) -> list[Path]:
    """The versions a policy folder holds: its `policy.yaml` and every `versions/*.yaml`
    (see docs/policy-format.md, "Versions"); empty when it is no policy folder."""
    single = folder / "policy.yaml"
    return ([single] if single.is_file() else []) + sorted(
        p for p in (folder / "versions").glob("*.yaml") if p.is_file())


def policy_folder(file: Path) -> Path:
    """The policy folder a rule file belongs to (`versions/x.yaml` belongs to the folder above)."""
    parent = file.parent
    return parent.parent if parent.name == "versions" else parent


def expand(paths: tuple[str, ...] | list[str], problems: list[Diagnostic]) -> list[Path]:
    """Policy files named by paths: bundled ids, files, a policy folder (every version it holds),
    or a folder of policy folders (e.g. `rules`). Unusable paths are reported into `problems`
    and skipped."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir() and version_files(path):
            out += version_files(path)
            continue
        if path.is_dir():
            found = [f for d in sorted(path.iterdir()) if d.is_dir() for f in version_files(d)]
            if not found:
                problems.append(Diagnostic("no_policies", f"no policy files in `{p}`",
                                           location=Location(file=p),
                                           hint="a policy folder holds a `policy.yaml`"))
            out += found
            continue
        try:
            out.append(resolve(p))
        except DiagnosticError as exc:
            problems += exc.diagnostics
    return out


def display_path(path: Path) -> str:
    """A path relative to the working directory when possible (traces cite it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        try:
            return str(path.resolve().relative_to(ROOT))
        except ValueError:
            return str(path)
