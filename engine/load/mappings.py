"""Where helpdesk payload mappings are: bundled ids (`mappings/<id>.yaml`) and files."""

from __future__ import annotations

from pathlib import Path

from engine.core.diagnostics import Diagnostic, DiagnosticError, Location, did_you_mean
from engine.core.paths import data_dir


def mappings_dir() -> Path:
    """The bundled mappings."""
    return data_dir("mappings")


def bundled_mappings() -> dict[str, Path]:
    """Bundled mapping ids -> their file."""
    return {p.stem: p for p in sorted(mappings_dir().glob("*.yaml"))}


def resolve_mapping(mapping: str | Path) -> Path:
    """A bundled id or a path to a mapping file; DiagnosticError when it is neither."""
    found = bundled_mappings()
    if str(mapping) in found:
        return found[str(mapping)]
    path = Path(mapping)
    if path.is_file():
        return path
    hint = did_you_mean(str(mapping), found) or f"bundled mappings: {', '.join(found) or 'none'}"
    raise DiagnosticError([Diagnostic("unknown_mapping", f"no mapping `{mapping}`: not a "
                                      "bundled id and not a file",
                                      location=Location(file="--mapping"), hint=hint)])
