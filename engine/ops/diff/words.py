"""The words of a diff report shared by every format: values, regions, changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.ops.diff.compare import PolicyDiff


def value(v: object) -> str:
    """A changed field's value as the reports show it."""
    if isinstance(v, dict):
        if "within" in v:
            return f"{v['within']} on {v.get('calendar')}"
        if not v:
            return "none"
        return ", ".join(f"{k}={value(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    return "none" if v is None else str(v)


def where(facts) -> str:
    """A region as `fact=v1|v2, ...` (facts spanning their whole domain left out)."""
    parts = []
    for path, v in facts:
        if v == "*":
            continue
        shown = "|".join("absent" if x is None else str(x) for x in v)
        parts.append(f"{path}={shown}")
    return ", ".join(parts) or "every ticket"


def change(old: dict, new: dict) -> str:
    """`field: old → new; ...`."""
    return "; ".join(f"{k}: {value(old.get(k))} → {value(new.get(k))}" for k in old)


def static_lines(d: PolicyDiff) -> list[str]:
    """One line per static entry: section, id, change, `file:line` on both sides, fields."""
    out = []
    for e in d.entries:
        at = " ↔ ".join(x for x in (e.old_at, e.new_at) if x)
        fields = "; ".join(f"{f.field}: {value(f.old)} → {value(f.new)}" for f in e.fields)
        out.append(f"{e.section} `{e.id}` {e.change} ({at})" + (f": {fields}" if fields else ""))
    return out
