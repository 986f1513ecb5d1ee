"""What a batch decided, in counts: by priority, reclassifications by rule, SLA outcomes by plan
and priority, no-guarantee reasons, rejected lines by problem code.

One `Summary` is filled from Decision objects while a batch runs (`add_decision`), or from the
records of a batch's output (`add_record`, what `ticket-policy report` reads: decisions are
read back with `Decision.from_json`, so both paths count the same things). Summaries of
partitions merge (`merge`). Rendered as a text table, markdown or JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import timedelta

from engine.core.decision import Decision
from engine.core.diagnostics import Diagnostic, Location

#: SLA outcomes, in column order. `breached`: answered late, or (with `--now`) unanswered past
#: its due time; `pending`: not answered and not yet due; `no_guarantee`: the policy withholds
#: a guaranteed response; `no_target`: guaranteed, but no target applies.
SLA_STATES = ("met", "breached", "pending", "no_guarantee", "no_target")
_NO_LEVEL = "(none)"


def sla_state(d: Decision) -> str:
    """The SLA outcome of one decision (one of SLA_STATES)."""
    sla = d.sla
    if sla is None:
        return "no_target" if d.outcome.guaranteed else "no_guarantee"
    if sla.met is not None:
        return "met" if sla.met else "breached"
    if sla.remaining is not None and sla.remaining < timedelta(0):
        return "breached"
    return "pending"


class Summary:
    """Counters over the lines of a batch; `merge` adds another summary's counts."""

    def __init__(self) -> None:
        self.decided = 0
        self.rejected = 0
        self.priority: Counter[str] = Counter()
        self.reclassified: Counter[tuple[str, str, str, str]] = Counter()  # rule, type, from, to
        self.sla: Counter[tuple[str, str, str]] = Counter()                # plan, priority, state
        self.no_guarantee: Counter[str] = Counter()
        self.problems: Counter[str] = Counter()

    @property
    def lines(self) -> int:
        return self.decided + self.rejected

    def add_decision(self, d: Decision) -> None:
        self.decided += 1
        level = d.priority or _NO_LEVEL
        self.priority[level] += 1
        for a in d.actions:
            if a.from_ is not None:
                self.reclassified[a.rule, a.type, a.from_, a.to] += 1
        state = sla_state(d)
        self.sla[d.plan or _NO_LEVEL, level, state] += 1
        if state == "no_guarantee":
            self.no_guarantee[d.outcome.no_guarantee_reason or "(no reason given)"] += 1

    def add_rejected(self, codes: Iterable[str]) -> None:
        self.rejected += 1
        for code in set(codes):
            self.problems[code] += 1

    def add_record(self, record: Mapping) -> None:
        """A line of a batch's JSON lines output: a decision or an error record."""
        if "problems" in record and "format" not in record:
            self.add_rejected(p.get("code", "?") for p in record["problems"])
        else:
            self.add_decision(Decision.from_json(dict(record)))

    def merge(self, other: Summary) -> Summary:
        self.decided += other.decided
        self.rejected += other.rejected
        for mine, theirs in zip(self._counters(), other._counters(), strict=True):
            mine.update(theirs)
        return self

    def _counters(self) -> tuple[Counter, ...]:
        return self.priority, self.reclassified, self.sla, self.no_guarantee, self.problems

    # ---- views ------------------------------------------------------------------------
    def to_json(self) -> dict:
        plans: dict[tuple[str, str], dict[str, int]] = {}
        for (plan, level, state), n in self.sla.items():
            row = plans.setdefault((plan, level), dict.fromkeys(SLA_STATES, 0))
            row[state] += n
        return {
            "lines": self.lines, "decided": self.decided, "rejected": self.rejected,
            "priority": dict(sorted(self.priority.items())),
            "reclassifications": [
                {"rule": r, "type": t, "from": a, "to": b, "count": n}
                for (r, t, a, b), n in sorted(self.reclassified.items())],
            "sla": [{"plan": p, "priority": lvl, **row} for (p, lvl), row in sorted(plans.items())],
            "no_guarantee": dict(sorted(self.no_guarantee.items())),
            "problems": dict(sorted(self.problems.items())),
        }

    def render(self, fmt: str = "text") -> str:
        """The summary as `text` (aligned tables), `markdown` or `json`."""
        if fmt == "json":
            return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        j = self.to_json()
        sections = [
            ("decisions by priority", ["priority", "tickets"],
             [[k, v] for k, v in j["priority"].items()]),
            ("reclassifications by rule", ["rule", "action", "change", "tickets"],
             [[r["rule"], r["type"], f"{r['from']} → {r['to']}", r["count"]]
              for r in j["reclassifications"]]),
            ("sla by plan and priority", ["plan", "priority", *SLA_STATES],
             [[r["plan"], r["priority"], *(r[s] for s in SLA_STATES)] for r in j["sla"]]),
            ("no-guarantee reasons", ["reason", "tickets"],
             [[k, v] for k, v in j["no_guarantee"].items()]),
            ("rejected lines by problem", ["code", "lines"],
             [[k, v] for k, v in j["problems"].items()]),
        ]
        head = f"{j['lines']} lines: {j['decided']} decided, {j['rejected']} rejected"
        table = _markdown if fmt == "markdown" else _text
        parts = [f"# batch summary\n\n{head}\n" if fmt == "markdown" else head + "\n"]
        for title, columns, rows in sections:
            if rows:
                parts.append(table(title, columns, rows))
        return "\n".join(parts)


def _text(title: str, columns: list[str], rows: list[list]) -> str:
    cells = [columns, *([str(c) for c in row] for row in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]

    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i and c.isdigit() else c.ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()

    return "\n".join([title, line(columns), line(["-" * w for w in widths]),
                      *(line(r) for r in cells[1:])]) + "\n"


def _markdown(title: str, columns: list[str], rows: list[list]) -> str:
    def esc(c: object) -> str:
        return str(c).replace("|", "\\|")

    return "\n".join([f"## {title}", "", "| " + " | ".join(columns) + " |",
                      "|" + "---|" * len(columns),
                      *("| " + " | ".join(esc(c) for c in r) + " |" for r in rows)]) + "\n"


MAX_REPORTED = 20
CSV_START = b"line,id,priority,"   # how `engine.ops.batch.csv_header` begins


def summarize(lines_in: Iterable[bytes], source_name: str = "<input>"
              ) -> tuple[Summary, tuple[Diagnostic, ...]]:
    """The summary of a batch's JSON lines output (`ticket-policy report`); a line that is not
    a batch record is skipped and reported (the first MAX_REPORTED, then a count)."""
    import msgspec

    decode = msgspec.json.Decoder().decode
    summary, problems, bad = Summary(), [], 0
    for n, raw in enumerate(lines_in, 1):
        if not raw.strip():
            continue
        if n == 1 and raw.startswith(CSV_START):
            return summary, (Diagnostic(
                "bad_record", "this is batch csv output: report reads batch json lines output",
                location=Location(file=source_name, line=1, column=1),
                hint="run batch with --format jsonl, or with --summary"),)
        try:
            try:
                record = decode(raw)
            except msgspec.DecodeError:  # e.g. an escaped lone surrogate in an error record
                record = json.loads(raw)
            if not isinstance(record, dict):
                raise TypeError("not a json object")
            summary.add_record(record)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            bad += 1
            if bad <= MAX_REPORTED:
                problems.append(Diagnostic(
                    "bad_record", f"line is not a batch record ({_why(exc)})",
                    location=Location(file=source_name, line=n, column=1),
                    hint="report reads the json lines `ticket-policy batch` writes"))
    if bad > MAX_REPORTED:
        problems.append(Diagnostic("bad_record", f"{bad - MAX_REPORTED} more lines are not "
                                   "batch records", location=Location(file=source_name)))
    return summary, tuple(problems)


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no `{exc.args[0]}`"
    text = (str(exc) or type(exc).__name__).split(": line ")[0]
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]
