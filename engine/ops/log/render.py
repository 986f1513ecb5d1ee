"""Text, JSON and CSV renderings of what the log commands return (the CLI only prints them)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from engine.explain.render import story
from engine.ops.log.chain import VerifyReport
from engine.ops.log.query import LogRecord
from engine.ops.log.sources import PolicySource
from engine.ops.replay import ReplayReport

SEARCH_FIELDS = ("seq", "decision_id", "logged_at", "ticket_id", "request_id", "policy",
                 "version", "priority", "sla", "due_at", "rules")


def render_search(records: Iterable[LogRecord], fmt: str = "text") -> str:
    """One line per record (text), a JSON array, or CSV with a header row."""
    rows = [r.summary() for r in records]
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, SEARCH_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "rules": " ".join(row["rules"])})
        return out.getvalue()
    lines = [f"{r['seq']:>6}  {r['logged_at']}  {r['ticket_id']:<12} {r['policy']}@"
             f"{r['version']:<10} {r['priority'] or '-':<4} {r['sla']:<8} "
             f"{', '.join(r['rules'])}" for r in rows]
    lines.append(f"{len(rows)} record(s)")
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def record_json(rec: LogRecord) -> dict:
    """`log show --format json` of one record: its chain fields, the record, the decision."""
    return {"seq": rec.seq, "hash": rec.hash, "prev_hash": rec.prev_hash,
            "record": rec.record, "decision": rec.decision_json}


def render_record(rec: LogRecord, source: PolicySource | None, fmt: str = "text") -> str:
    """A record and its story; each citation with the line it names in the stored source."""
    if fmt == "json":
        return json.dumps(record_json(rec), indent=2, ensure_ascii=False) + "\n"
    r, p = rec.record, rec.record["policy"]
    lines = [f"record {rec.seq}  decision {r['decision_id']}  logged {r['logged_at']}",
             f"hash {rec.hash}  (previous {rec.prev_hash[:16]}…)",
             f"ticket {r['ticket_id']}" + (f"  request {r['request_id']}" if r["request_id"]
                                           else ""),
             f"policy {p['id']} {p['version']}  digest {p['digest']}",
             f"source {p['source_digest']} ({p['path']})"]
    if p["effective_from"] or p["effective_until"]:
        lines.append(f"in force {p['effective_from'] or '…'} – {p['effective_until'] or '…'}"
                     + ("" if p["in_force"] else "  (named: not in force at submission)"))
    lines.append(f"now {r['now'] or 'not given'}")
    lines.append("facts:")
    lines += [f"  {k} = {_value(v)}" for k, v in r["facts"].items()]
    if r["audit"]:
        lines.append("audit fields:")
        lines += [f"  {k} = {_value(v)}" for k, v in r["audit"].items()]
    decision = rec.decision()
    lines += ["", f"priority {decision.priority or 'none'} (requested "
              f"{decision.requested_priority or 'none'}), sla "
              f"{(r['decision']['sla'] or {}).get('due_at') or 'none'}", ""]
    lines += story(decision, p["id"])
    cited = [(e["citation"]["path"], e["citation"]["line"], e["rule"]) for e in rec.trace
             if e.get("citation")]
    if cited:
        lines += ["", "cited lines of the stored source:"]
        for path, line, rule in dict.fromkeys(cited):
            text = source.line(path, line) if source else None
            shown = text.strip() if text is not None else "(not in the stored source)"
            lines.append(f"  {p['id']}/{path}:{line} ({rule}): {shown}")
    return "\n".join(lines) + "\n"


def render_verify(report: VerifyReport, path: str) -> str:
    """`ok: N records, head SEQ:HASH` or the problems, first bad record first."""
    if report.ok:
        seq, digest = report.head
        return f"ok: {report.records} record(s) verified in `{path}`, head {seq}:{digest}\n"
    return "".join(f"{path}: {p}\n" for p in report.problems)


def _step(event: dict | None) -> str:
    if event is None:
        return "(no step)"
    changes = "; ".join(f"{c['field']} {_value(c['before'])} → {_value(c['after'])}"
                        for c in event.get("changes", []))
    return f"{event.get('seq')}. {event.get('kind')} {event.get('rule') or ''}: {changes}".strip()


def render_replay(report: ReplayReport, fmt: str = "text") -> str:
    """Every difference (fields, then each differing step: logged, replayed) and every record
    that could not be replayed; last, the counts."""
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
    lines = []
    for d in report.differences:
        lines.append(f"record {d.seq} (ticket {d.ticket_id}, decision {d.decision_id}) differs: "
                     + ", ".join(d.fields))
        for logged, replayed in d.steps:
            lines.append(f"  logged:   {_step(logged)}")
            lines.append(f"  replayed: {_step(replayed)}")
    for n in report.not_replayed:
        lines.append(f"record {n.seq} (ticket {n.ticket_id}) not replayed: {n.message}")
    lines.append(f"{report.records} record(s) replayed: {report.reproduced} reproduced, "
                 f"{len(report.differences)} differ, {len(report.not_replayed)} not replayed")
    return "\n".join(lines) + "\n"
