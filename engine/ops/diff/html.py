"""The HTML diff report: one self-contained page (inline CSS and SVG, no script, no external
asset — its Content-Security-Policy forbids loading any) with the summary tables and bar charts
of the changed decisions per (old → new) priority and per corpus group."""

from __future__ import annotations

from html import escape

from engine.ops.diff.compare import PolicyDiff
from engine.ops.diff.words import change, value, where

BAR = "#3b6fc4"
CSP = "default-src 'none'; style-src 'unsafe-inline'"
STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}"
         "table{border-collapse:collapse;margin:.5em 0 1.5em}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
         "th{background:#f3f3f3}td.steps{font-family:monospace;font-size:90%}"
         ".summary{font-size:110%}figure{margin:0 0 1.5em}figcaption{color:#555}")


def chart(chart_id: str, caption: str, bars: list[tuple[str, int]]) -> str:
    """An inline SVG bar chart, one labelled bar per (label, count)."""
    if not bars:
        return ""
    top = max(n for _, n in bars) or 1
    label_w = min(420, 12 + 7 * max(len(label) for label, _ in bars))
    rows = []
    for i, (label, n) in enumerate(bars):
        y = 8 + i * 28
        w = max(2, round(320 * n / top))
        rows.append(f'<text x="0" y="{y + 15}">{escape(label)}</text>'
                    f'<rect x="{label_w}" y="{y}" width="{w}" height="20" fill="{BAR}">'
                    f"<title>{escape(label)}: {n}</title></rect>"
                    f'<text x="{label_w + w + 6}" y="{y + 15}">{n}</text>')
    width, height = label_w + 380, 16 + 28 * len(bars)
    return (f'<figure><svg id="{chart_id}" class="chart" xmlns="http://www.w3.org/2000/svg" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'font-size="13" font-family="sans-serif" role="img" '
            f'aria-label="{escape(caption)}">{"".join(rows)}</svg>'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _table(head: list[str], rows: list[list[str]], raw: frozenset[int] = frozenset()) -> str:
    """A table of escaped cells (the columns in `raw` hold already-escaped HTML)."""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(
        f'<td class="steps">{c}</td>' if i in raw else f"<td>{escape(c)}</td>"
        for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _static(d: PolicyDiff) -> str:
    if not d.entries:
        return "<p>No static changes.</p>"
    return _table(["section", "id", "change", "old", "new", "fields"], [
        [e.section, e.id, e.change, e.old_at or "", e.new_at or "",
         "; ".join(f"{f.field}: {value(f.old)} → {value(f.new)}" for f in e.fields)]
        for e in d.entries])


def _semantic(d: PolicyDiff) -> str:
    sem = d.semantic
    if sem.skipped:
        return f"<p>Skipped: {escape(sem.skipped)}</p>"
    out = (f'<p class="summary"><strong>{sem.changed}</strong> of {sem.points} points of the '
           f"fact space change (facts: {escape(', '.join(sem.facts))}).</p>")
    if sem.sampled:
        out += ("<p>Sampled, not enumerated (absent or this value): "
                f"{escape('; '.join(sem.sampled))}</p>")
    out += chart("chart-space", "Changed points per (old → new) priority",
                 [(f"{o} → {n}", c) for o, n, c in sem.by_priority])
    if sem.regions:
        out += _table(["region", "change", "points", "cause"], [
            [where(r.facts), change(r.old, r.new), str(r.count), ", ".join(r.causes)]
            for r in sem.regions])
    return out


def _steps(steps: list[str]) -> str:
    return "<br>".join(escape(s) for s in steps) or "(none)"


def _corpus(d: PolicyDiff) -> str:
    c = d.corpus
    if c is None:
        return ""
    out = (f'<h2>Decision changes over the corpus</h2><p class="summary"><strong>{c.changed}'
           f"</strong> of {c.tickets} tickets change"
           + (f" ({c.rejected} rejected by both versions)" if c.rejected else "") + ".</p>")
    out += chart("chart-corpus", "Changed tickets per group", [(g.key, g.count)
                                                               for g in c.groups])
    for g in c.groups:
        out += (f"<h3>{escape(g.key)}: {g.count} ticket{'s' if g.count != 1 else ''}</h3>"
                f"<p>{escape(change(g.old, g.new))}</p>")
        out += _table(["ticket", "due at (old → new)", "old trace steps", "new trace steps"], [
            [s["ticket"], " → ".join(value(x) for x in s["due_at"]),
             _steps(s["old_steps"]), _steps(s["new_steps"])]
            for s in g.samples], raw=frozenset({2, 3}))
    return out


def html(d: PolicyDiff) -> str:
    """The whole page."""
    title = escape(f"Policy diff: {d.old} → {d.new}")
    verdict = "Decisions change." if d.decisions_change else "No decision changes."
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1>"
            f'<p class="summary">{verdict}</p>'
            f"<h2>Static changes</h2>{_static(d)}"
            f"<h2>Decision changes over the fact space</h2>{_semantic(d)}"
            f"{_corpus(d)}</body></html>\n")
