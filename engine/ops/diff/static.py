"""The static diff: levels, plans, calendars, tables and rules added, removed or changed.

Entries are matched by id; each carries `file:line` on both sides and the changed fields as
dotted paths (a table's changed cells are its rows, matched by their input cells)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.load.document import Document

#: (section, how its entries are keyed): mappings by key, lists by their `id`.
SECTIONS = ("levels", "calendars", "plans", "default_plan", "tables", "rules")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: object
    new: object

    def to_json(self) -> dict:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Entry:
    """One changed item: `section` (levels, plans, ...), its id, added / removed / changed."""

    section: str
    id: str
    change: str
    old_at: str | None
    new_at: str | None
    fields: tuple[FieldChange, ...] = field(default=())
    rule: str | None = None     # the compiled rule id of a table cell (new side, else old)

    def to_json(self) -> dict:
        return {"section": self.section, "id": self.id, "change": self.change,
                "old_at": self.old_at, "new_at": self.new_at,
                "fields": [f.to_json() for f in self.fields]}


def _at(doc: Document, pointer: str) -> str:
    loc = doc.locate(pointer)
    file = loc.file or doc.file
    return f"{file}:{loc.line}" if loc.line else file


def _esc(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict) and value:
        out: dict[str, object] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def field_changes(old: object, new: object) -> tuple[FieldChange, ...]:
    """Dotted paths whose values differ (lists compared whole)."""
    a, b = _flatten(old), _flatten(new)
    keys = list(a) + [k for k in b if k not in a]
    return tuple(FieldChange(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k))


def _keyed(data: dict, section: str) -> dict[str, tuple[str, object]]:
    """id -> (pointer, value) for a section."""
    raw = data.get(section)
    if isinstance(raw, dict):
        return {str(k): (f"/{section}/{_esc(str(k))}", v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {str(v.get("id", i)) if isinstance(v, dict) else str(i): (f"/{section}/{i}", v)
                for i, v in enumerate(raw)}
    return {}


def _frozen(cell: object) -> object:
    """A row's input cell as a hashable key (a list of values becomes a tuple)."""
    return tuple(_frozen(c) for c in cell) if isinstance(cell, list) else cell


def _cell(cell: object) -> str:
    return "|".join(map(str, cell)) if isinstance(cell, tuple) else str(cell)


def _table_rows(old: dict, new: dict, optr: str, nptr: str, odoc: Document,
                ndoc: Document) -> list[Entry]:
    """Changed cells of a table: rows matched by their input cells."""
    n_in = len(old.get("inputs") or [])
    def rows(t: dict) -> dict[tuple, tuple[int, object]]:
        return {tuple(_frozen(c) for c in r[:n_in]): (i, r[n_in] if len(r) > n_in else None)
                for i, r in enumerate(t.get("rows") or []) if isinstance(r, list)}
    a, b = rows(old), rows(new)
    tid = str(new.get("id"))
    out = []
    for key in list(a) + [k for k in b if k not in a]:
        if a.get(key, (0, None))[1] == b.get(key, (0, None))[1] and key in a and key in b:
            continue
        cells = dict(zip(old.get("inputs") or [], key, strict=False))
        label = f"{tid}[" + ", ".join(f"{k}={_cell(v)}" for k, v in cells.items()) + "]"
        oat = _at(odoc, f"{optr}/rows/{a[key][0]}") if key in a else None
        nat = _at(ndoc, f"{nptr}/rows/{b[key][0]}") if key in b else None
        change = "changed" if key in a and key in b else ("removed" if key in a else "added")
        row = b[key][0] if key in b else a[key][0]
        out.append(Entry("cells", label, change, oat, nat, (FieldChange(
            "outcome", a[key][1] if key in a else None, b[key][1] if key in b else None),),
            rule=f"{tid}[{row + 1}]"))
    return out


def static_diff(odoc: Document, ndoc: Document) -> list[Entry]:
    """Every item added, removed or changed between two policy documents, in section order."""
    old, new = odoc.data, ndoc.data
    assert isinstance(old, dict) and isinstance(new, dict)
    out: list[Entry] = []
    for section in ("levels", "default_plan", "level_titles"):
        if old.get(section) != new.get(section):
            out.append(Entry(section, section, "changed", _at(odoc, f"/{section}"),
                             _at(ndoc, f"/{section}"),
                             (FieldChange(section, old.get(section), new.get(section)),)))
    for section in ("calendars", "plans", "tables", "rules"):
        a, b = _keyed(old, section), _keyed(new, section)
        for key in list(a) + [k for k in b if k not in a]:
            if key not in b:
                out.append(Entry(section, key, "removed", _at(odoc, a[key][0]), None))
            elif key not in a:
                out.append(Entry(section, key, "added", None, _at(ndoc, b[key][0])))
            else:
                (optr, ov), (nptr, nv) = a[key], b[key]
                if ov == nv:
                    continue
                if section == "tables" and isinstance(ov, dict) and isinstance(nv, dict) \
                        and ov.get("inputs") == nv.get("inputs"):
                    rest = field_changes({k: v for k, v in ov.items() if k != "rows"},
                                         {k: v for k, v in nv.items() if k != "rows"})
                    if rest:
                        out.append(Entry(section, key, "changed", _at(odoc, optr),
                                         _at(ndoc, nptr), rest))
                    out.extend(_table_rows(ov, nv, optr, nptr, odoc, ndoc))
                    continue
                out.append(Entry(section, key, "changed", _at(odoc, optr), _at(ndoc, nptr),
                                 field_changes(ov, nv)))
    return out


def changed_rules(entries: list[Entry]) -> dict[str, str]:
    """Compiled rule ids (or `plans.<id>.` prefixes) of changed entries -> `file:line`."""
    out: dict[str, str] = {}
    for e in entries:
        at = e.new_at or e.old_at or ""
        if e.section == "rules":
            out[e.id] = at
        elif e.section == "cells" and e.rule:
            out[e.rule] = at
        elif e.section == "plans":
            out[f"plans.{e.id}."] = at
    return out
