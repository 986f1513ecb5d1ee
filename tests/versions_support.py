"""The small versioned policy folder the version tests build: `mini` with 2026.1 in force from
January (P1 in production) and 2026.2 from July (P2)."""

from __future__ import annotations

from pathlib import Path

from conftest import BASE

from engine import app

RULES = """
rules:
  - id: p1-in-production
    when: {environment: production}
    then: {assign: %s}
"""


def version_text(version: str, level: str, start: str | None, until: str | None = None,
                 extra: str = "") -> str:
    """One version file of `mini`: its dates, `extra` lines, and the rule assigning `level`."""
    text = BASE.replace('version: "1"', f'version: "{version}"')
    if start:
        text += f'effective_from: "{start}"\n'
    if until:
        text += f'effective_until: "{until}"\n'
    return text + extra + RULES % level


def versioned_folder(tmp_path: Path) -> Path:
    """`mini` with versions/2026.1.yaml (January, P1) and versions/2026.2.yaml (July, P2)."""
    root = tmp_path / "mini"
    (root / "versions").mkdir(parents=True)
    (root / "versions" / "2026.1.yaml").write_text(
        version_text("2026.1", "P1", "2026-01-01T00:00:00+01:00"), "utf-8")
    (root / "versions" / "2026.2.yaml").write_text(
        version_text("2026.2", "P2", "2026-07-01T00:00:00+02:00"), "utf-8")
    app.clear_policy_cache()
    return root
