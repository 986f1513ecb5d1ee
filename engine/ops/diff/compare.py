"""A whole policy diff: the static part, the semantic part and, given tickets, the corpus part."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.ops.diff.corpus import CorpusDiff, compare_records, corpus_diff
from engine.ops.diff.semantic import SemanticDiff, semantic_diff
from engine.ops.diff.sources import Side, load_side
from engine.ops.diff.static import Entry, changed_rules, static_diff
from engine.run.evaluator import Evaluator


@dataclass(frozen=True)
class PolicyDiff:
    old: str
    new: str
    entries: tuple[Entry, ...]
    semantic: SemanticDiff
    corpus: CorpusDiff | None = None

    @property
    def decisions_change(self) -> bool:
        return bool(self.semantic.changed or (self.corpus and self.corpus.changed))

    def to_json(self) -> dict:
        return {"old": self.old, "new": self.new, "decisions_change": self.decisions_change,
                "static": [e.to_json() for e in self.entries],
                "semantic": self.semantic.to_json(),
                "corpus": self.corpus.to_json() if self.corpus else None}


Records = tuple[Iterable[bytes | str], Iterable[bytes | str]]


def diff_sides(old: Side, new: Side, tickets: Iterable[Mapping | bytes | str] | None = None,
               evaluator: Evaluator | None = None, records: Records | None = None
               ) -> PolicyDiff:
    """Diff two loaded versions (one evaluator decides both). The corpus part comes from
    `tickets` (objects or JSONL lines, decided here) or from `records`, both versions' batch
    output for one corpus."""
    evaluator = evaluator or Evaluator()
    entries = static_diff(old.document, new.document)
    sem = semantic_diff(old, new, changed_rules(entries), evaluator)
    corp = None
    if records is not None:
        corp = compare_records(*records)
    elif tickets is not None:
        lines = [t if isinstance(t, bytes | str) else json.dumps(t) for t in tickets]
        corp = corpus_diff(old, new, lines, evaluator)
    return PolicyDiff(old.ref, new.ref, tuple(entries), sem, corp)


def diff_policies(old: str, new: str, tickets: Iterable[Mapping | bytes | str] | None = None
                  ) -> PolicyDiff:
    """Load both references (DiagnosticError on a bad one) and diff them."""
    return diff_sides(load_side(old), load_side(new), tickets)
