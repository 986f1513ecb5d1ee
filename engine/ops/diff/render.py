"""Diff reports: text for the terminal, markdown for a pull request, JSON, self-contained HTML."""

from __future__ import annotations

import json
from html import escape

from engine.ops.diff.compare import PolicyDiff

FORMATS = ("text", "markdown", "json", "html")


def _val(v: object) -> str:
    if isinstance(v, dict):
        if "within" in v:
            return f"{v['within']} on {v.get('calendar')}"
        return ", ".join(f"{k}={_val(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    return "none" if v is None else str(v)


def _where(facts) -> str:
    parts = []
    for path, v in facts:
        if v == "*":
            continue
        shown = "|".join("absent" if x is None else str(x) for x in v)
        parts.append(f"{path}={shown}")
    return ", ".join(parts) or "every ticket"


def _change(old: dict, new: dict) -> str:
    return "; ".join(f"{k}: {_val(old.get(k))} → {_val(new.get(k))}" for k in old)


def _static_lines(d: PolicyDiff) -> list[str]:
    out = []
    for e in d.entries:
        at = " ↔ ".join(x for x in (e.old_at, e.new_at) if x)
        fields = "; ".join(f"{f.field}: {_val(f.old)} → {_val(f.new)}" for f in e.fields)
        out.append(f"{e.section} `{e.id}` {e.change} ({at})" + (f": {fields}" if fields else ""))
    return out


def _region_lines(d: PolicyDiff) -> list[str]:
    return [f"{_where(r.facts)}: {_change(r.old, r.new)} — {r.count} point"
            f"{'s' if r.count != 1 else ''}" + (f" [{', '.join(r.causes)}]" if r.causes else "")
            for r in d.semantic.regions]


def text(d: PolicyDiff, md: bool = False) -> str:
    """The text report (markdown with `md`)."""
    h = (lambda s: f"## {s}") if md else (lambda s: f"{s}\n" + "-" * len(s))
    li = "- " if md else "  "
    out = [f"# Policy diff: {d.old} → {d.new}" if md else f"policy diff: {d.old} → {d.new}", ""]
    out += [h("Static changes")] + ([li + x for x in _static_lines(d)] or [li + "none"]) + [""]
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
                f"{li}{c.changed} of {c.tickets} tickets change"]
        for g in c.groups:
            out.append(f"{li}{g.key}: {g.count} — {_change(g.old, g.new)}")
            for s in g.samples or []:
                out.append(f"{li}  {s['ticket']}: old [{' | '.join(s['old_steps'])}] "
                           f"new [{' | '.join(s['new_steps'])}]")
    return "\n".join(out) + "\n"


def _chart(bars: list[tuple[str, int]]) -> str:
    """An inline SVG bar chart (escaped labels)."""
    if not bars:
        return "<p>No decision changes.</p>"
    top = max(n for _, n in bars) or 1
    rows = []
    for i, (label, n) in enumerate(bars):
        y = 10 + i * 28
        w = max(2, int(300 * n / top))
        rows.append(f'<text x="0" y="{y + 15}">{escape(label)}</text>'
                    f'<rect x="220" y="{y}" width="{w}" height="20" fill="#4a7bd0"/>'
                    f'<text x="{226 + w}" y="{y + 15}">{n}</text>')
    height = 20 + 28 * len(bars)
    return (f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="600" '
            f'height="{height}" font-size="13" font-family="sans-serif">{"".join(rows)}</svg>')


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def html(d: PolicyDiff) -> str:
    """One self-contained HTML page: summary tables and an inline SVG chart."""
    sem = d.semantic
    static = _table(["section", "id", "change", "old", "new", "fields"], [
        [e.section, e.id, e.change, e.old_at or "", e.new_at or "",
         "; ".join(f"{f.field}: {_val(f.old)} → {_val(f.new)}" for f in e.fields)]
        for e in d.entries])
    if sem.skipped:
        semantic = f"<p>Skipped: {escape(sem.skipped)}</p>"
        bars: list[tuple[str, int]] = []
    else:
        bars = [(f"{o} → {n}", c) for o, n, c in sem.by_priority]
        semantic = (f"<p>{sem.changed} of {sem.points} points change.</p>"
                    + _table(["region", "change", "points", "cause"], [
                        [_where(r.facts), _change(r.old, r.new), str(r.count),
                         ", ".join(r.causes)] for r in sem.regions]))
    corpus = ""
    if d.corpus is not None:
        bars = [(g.key, g.count) for g in d.corpus.groups]
        corpus = (f"<h2>Corpus</h2><p>{d.corpus.changed} of {d.corpus.tickets} tickets "
                  "change.</p>" + _table(["group", "change", "tickets", "samples"], [
                      [g.key, _change(g.old, g.new), str(g.count),
                       ", ".join(s["ticket"] for s in g.samples or [])]
                      for g in d.corpus.groups]))
    title = escape(f"Policy diff: {d.old} → {d.new}")
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}'
            f'</title><style>{style}</style></head><body><h1>{title}</h1>'
            f"<h2>Static changes</h2>{static}<h2>Decision changes</h2>{semantic}{corpus}"
            f"<h2>Changed decisions per group</h2>{_chart(bars)}</body></html>\n")


def render(d: PolicyDiff, fmt: str = "text") -> str:
    """The report in `fmt`: text, markdown, json or html."""
    if fmt == "json":
        return json.dumps(d.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "html":
        return html(d)
    return text(d, md=fmt == "markdown")
