"""Diff reports: text for the terminal, markdown for a pull request, JSON, self-contained HTML."""

from __future__ import annotations

import json

from engine.ops.diff.compare import PolicyDiff
from engine.ops.diff.words import change, static_lines, value, where

FORMATS = ("text", "markdown", "json", "html")


def _region_lines(d: PolicyDiff) -> list[str]:
    return [f"{where(r.facts)}: {change(r.old, r.new)} — {r.count} point"
            f"{'s' if r.count != 1 else ''}" + (f" [{', '.join(r.causes)}]" if r.causes else "")
            for r in d.semantic.regions]


def text(d: PolicyDiff, md: bool = False) -> str:
    """The text report (markdown with `md`)."""
    h = (lambda s: f"## {s}") if md else (lambda s: f"{s}\n" + "-" * len(s))
    li = "- " if md else "  "
    out = [f"# Policy diff: {d.old} → {d.new}" if md else f"policy diff: {d.old} → {d.new}", ""]
    out += [h("Static changes")] + ([li + x for x in static_lines(d)] or [li + "none"]) + [""]
    sem = d.semantic
    out.append(h("Decision changes over the fact space"))
    if sem.skipped:
        out.append(f"{li}skipped: {sem.skipped}")
    else:
        out.append(f"{li}{sem.changed} of {sem.points} points change "
                   f"(facts: {', '.join(sem.facts)})")
        if sem.sampled:
            out.append(f"{li}sampled, not enumerated (absent or this value): "
                       + "; ".join(sem.sampled))
        out += [f"{li}{o} → {n}: {c}" for o, n, c in sem.by_priority]
        out += [li + x for x in _region_lines(d)]
    if d.corpus is not None:
        c = d.corpus
        out += ["", h("Decision changes over the corpus"),
                f"{li}{c.changed} of {c.tickets} tickets change"
                + (f" ({c.rejected} rejected by both versions)" if c.rejected else "")]
        for g in c.groups:
            out.append(f"{li}{g.key}: {g.count} — {change(g.old, g.new)}")
            for s in g.samples:
                due = f" (due {value(s['due_at'][0])} → {value(s['due_at'][1])})" \
                    if s["due_at"][0] != s["due_at"][1] else ""
                out.append(f"{li}  {s['ticket']}{due}: old [{' | '.join(s['old_steps'])}] "
                           f"new [{' | '.join(s['new_steps'])}]")
    return "\n".join(out) + "\n"


def render(d: PolicyDiff, fmt: str = "text") -> str:
    """The report in `fmt`: text, markdown, json or html."""
    if fmt == "json":
        return json.dumps(d.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "html":
        from engine.ops.diff.html import html

        return html(d)
    return text(d, md=fmt == "markdown")
