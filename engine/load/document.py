"""A parsed document and where its values sit: RFC 6901 JSON pointer -> ``Location`` marks.

Both loaders (``yaml_events`` for policies and policy tests, ``json_scan`` for tickets) return
a `Document`; diagnostics cite its marks as file:line:column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from engine.core.diagnostics import Location

__all__ = ["MAX_DEPTH", "Document", "show"]

#: Deepest container nesting accepted in either format (deeper input is rejected, not parsed).
MAX_DEPTH = 200


def _no_marks() -> Mapping[str, Location]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Document:
    """Parsed data plus where each value (``marks``) and each mapping key (``key_marks``) sits."""

    data: object
    file: str
    marks: Mapping[str, Location] = field(default_factory=_no_marks, repr=False)
    key_marks: Mapping[str, Location] = field(default_factory=_no_marks, repr=False)

    def locate(self, pointer: str, *, key: bool = False) -> Location:
        """Location of ``pointer`` (of its key with ``key=True``), else of its nearest ancestor.

        A location borrowed from an ancestor carries the requested ``pointer``. Never raises.
        """
        if not isinstance(pointer, str):
            pointer = str(pointer)
        try:
            if key:
                found = self.key_marks.get(pointer)
                if found is not None:
                    return found
            current = pointer
            while True:
                found = self.marks.get(current)
                if found is not None:
                    return found if current == pointer else replace(found, pointer=pointer)
                if not current:
                    break
                cut = current.rfind("/")
                current = current[:cut] if cut > 0 else ""
        except Exception:  # locate is used while reporting errors: it must never fail
            pass
        return Location(file=self.file, pointer=pointer)


def show(text: str, limit: int = 40) -> str:
    """Value as shown inside backticks in a message: one line, shortened."""
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text if len(text) <= limit else text[: limit - 1] + "…"
