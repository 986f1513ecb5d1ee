"""`engine.app.run_batch`: one output line per input line, in order; error records; CSV; the
summary; the mapping hook; the same bytes whatever the chunking."""

from __future__ import annotations

import csv
import io
import json

import pytest
from batch_corpus import golden_corpus, lines, tickets

from engine import Evaluator, evaluate, load_policy
from engine.app import Summary, run_batch, summarize
from engine.ops.batch import CSV_COLUMNS, csv_header
from engine.run.evaluator import Failure

CT = load_policy("cloudtalk")
TICKET = {"id": "T-1", "submitted_at": "2026-03-02T10:00:00+01:00", "requested_priority": "P1",
          "plan": "professional", "environment": "production"}


def run(inp, **kw) -> tuple[list[dict], object]:
    out = io.BytesIO()
    result = run_batch(inp, out, Evaluator(), policy=kw.pop("policy", CT), **kw)
    return [json.loads(x) for x in out.getvalue().splitlines()], result


def test_each_line_gives_one_record_in_order():
    good = json.dumps(TICKET)
    inp = [good, "oops", "", good.replace("T-1", "T-2"), '{"id": "T-3"}', b"\xff", good]
    records, result = run(inp, source_name="q.jsonl")
    assert len(records) == len(inp)
    assert [r.get("ticket_id") for r in records] == ["T-1", None, None, "T-2", "T-3", None,
                                                     "T-1"]
    assert [r.get("line") for r in records] == [None, 2, 3, None, 5, 6, None]
    assert (result.decided, result.rejected, result.lines) == (3, 4, 7)


def test_an_error_record_names_the_line_and_its_problems():
    line = '{"id": "X", "submitted_at": "2026-03-02T10:00:00", "plan": "gold"}'
    records, _ = run([json.dumps(TICKET), line], source_name="q.jsonl", first_line=41)
    bad = records[1]
    assert list(bad) == ["line", "problems", "ticket_id"]
    assert bad["line"] == 42 and bad["ticket_id"] == "X"
    codes = [(p["code"], p["file"], p["line"], p["pointer"]) for p in bad["problems"]]
    assert codes == [("ticket_no_offset", "q.jsonl", 42, "/submitted_at"),
                     ("ticket_unknown_plan", "q.jsonl", 42, "/plan")]
    assert bad["problems"][1]["column"] == line.index('"gold"') + 1  # where the value is


def test_decision_lines_are_the_canonical_record():
    records_raw = io.BytesIO()
    run_batch([json.dumps(TICKET)], records_raw, Evaluator(), policy=CT)
    assert records_raw.getvalue() == evaluate(CT, TICKET).canonical().encode() + b"\n"


def test_a_truncated_last_line_is_an_error_record():
    text = json.dumps(TICKET)
    records, result = run([text + "\n", text[:-9]])
    assert result.decided == 1 and result.rejected == 1
    assert records[1]["line"] == 2
    assert records[1]["problems"][0]["code"] == "json_syntax"


def test_lines_may_be_text_or_bytes_with_or_without_newlines():
    text = json.dumps(TICKET)
    a, _ = run([text, text + "\n", text.encode(), text.encode() + b"\n", text + "\r\n"])
    assert len({json.dumps(r, sort_keys=True) for r in a}) == 1


def test_chunks_give_the_same_bytes_as_one_run():
    corpus = golden_corpus(CT, 400)
    whole = io.BytesIO()
    run_batch(corpus, whole, Evaluator(), policy=CT)
    parts = io.BytesIO()
    evaluator = Evaluator()
    for start in range(0, len(corpus), 37):
        run_batch(corpus[start:start + 37], parts, evaluator, policy=CT, first_line=start + 1)
    assert parts.getvalue() == whole.getvalue()


def test_rejected_lines_keep_their_place_when_evaluation_looks_ahead(monkeypatch):
    """evaluate_many may read tickets ahead of what it has yielded: order still holds."""
    original = Evaluator.evaluate_many

    def eager(self, policy, tickets, **kw):
        return iter(list(original(self, policy, list(tickets), **kw)))

    monkeypatch.setattr(Evaluator, "evaluate_many", eager)
    good = json.dumps(TICKET)
    records, _ = run([good, "x", good, "y", "z", good, "w"])
    assert [r.get("line") for r in records] == [None, 2, None, 4, 5, None, 7]


def test_csv_has_the_flat_columns():
    out = io.BytesIO()
    good = dict(TICKET, first_response_at="2026-03-02T10:30:00+01:00")
    run_batch([json.dumps(good), '{"id": "a,\\"b\\"\\nc"}'], out, Evaluator(), policy=CT,
              fmt="csv", header=True)
    text = out.getvalue().decode()
    assert text.startswith(csv_header().decode())
    assert len(text.splitlines()) == 3          # one physical line per record
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    d = evaluate(CT, good)
    assert rows[0]["id"] == "T-1" and rows[0]["priority"] == d.priority
    assert rows[0]["requested"] == "P1" and rows[0]["plan"] == "professional"
    assert rows[0]["due_at"] == d.sla.due_at.isoformat() and rows[0]["status"] == "met"
    assert rows[0]["rules_fired"].split() == [e.rule for e in d.trace if e.rule]
    assert rows[1]["status"] == "rejected" and rows[1]["id"] == 'a,"b"\\nc'
    assert rows[1]["problems"] == "ticket_missing_field"


def test_the_summary_counts_what_was_decided():
    corpus = golden_corpus(CT, 300)
    out = io.BytesIO()
    result = run_batch(corpus, out, Evaluator(), policy=CT, summary=True)
    s = result.summary.to_json()
    assert s["lines"] == 300 and s["decided"] == result.decided
    assert sum(s["priority"].values()) == result.decided
    assert sum(sum(r[k] for k in ("met", "breached", "pending", "no_guarantee", "no_target"))
               for r in s["sla"]) == result.decided
    reclass = sum(r["count"] for r in s["reclassifications"])
    assert reclass == sum(1 for x in out.getvalue().splitlines() if b'"actions"' in x
                          for a in json.loads(x)["actions"] if a["from"] is not None)
    # the report of the output counts the same things
    again, problems = summarize(out.getvalue().splitlines())
    assert problems == () and again.to_json() == s


def test_summary_renders_as_text_markdown_and_json():
    _, result = run(golden_corpus(CT, 200), summary=True)
    text = result.summary.render("text")
    assert "decisions by priority" in text and "200 lines" in text
    md = result.summary.render("markdown")
    assert "| plan | priority | met | breached | pending" in md
    assert json.loads(result.summary.render("json")) == result.summary.to_json()


def test_summaries_merge():
    corpus = golden_corpus(CT, 200)
    whole = run_batch(corpus, None, Evaluator(), policy=CT, summary=True).summary
    a = run_batch(corpus[:77], None, Evaluator(), policy=CT, summary=True).summary
    b = run_batch(corpus[77:], None, Evaluator(), policy=CT, summary=True, first_line=78).summary
    assert Summary().merge(a).merge(b).to_json() == whole.to_json()


def test_report_reports_lines_that_are_not_records():
    s, problems = summarize([b'{"nope": 1}', b"garbage", b""], "x.jsonl")
    assert [(p.code, p.location.line) for p in problems] == [("bad_record", 1),
                                                             ("bad_record", 2)]
    assert s.lines == 0


def test_a_mapping_turns_payloads_into_tickets():
    from engine.app import mapping_for

    mapping, _ = mapping_for("zendesk", CT)
    payload = {"ticket": {"id": 7, "created_at": "2026-03-02T10:00:00Z", "priority": "urgent"}}
    records, result = run([json.dumps(payload), json.dumps({"ticket": {"id": 8}})],
                          mapping=mapping, source_name="z.jsonl")
    assert records[0]["ticket_id"] == "7"
    assert records[1]["line"] == 2 and records[1]["ticket_id"] == "8"
    assert {p["code"] for p in records[1]["problems"]} & {"mapping_missing_value",
                                                           "ticket_missing_field"}


def test_a_policy_that_fails_to_decide_gives_an_error_record(make_policy):
    from conftest import BASE

    base = BASE.replace('hours: {mon-fri: ["09:00-17:00"]}',
                        'hours: {}\n    overrides: {"2026-03-02": ["09:00-10:00"]}')
    cp = make_policy("rules:\n  - {id: p1, then: {assign: P1}}\n", base)
    late = {"id": "A", "submitted_at": "2026-03-02T10:30:00+01:00"}
    early = dict(late, id="B", submitted_at="2026-03-02T09:00:00+01:00")
    records, result = run([json.dumps(late), json.dumps(early)], policy=cp)
    assert (result.decided, result.rejected) == (1, 1)
    problem = records[0]["problems"][0]
    assert records[0]["ticket_id"] == "A" and records[0]["line"] == 1
    assert problem["code"] == "calendar_exhausted" and problem["file"] == cp.policy.file
    assert problem["rule"] == "plans.std.P1"  # the plan's target for P1
    assert records[1]["ticket_id"] == "B"


@pytest.mark.parametrize("fmt", ["xml", ""])
def test_unknown_format(fmt):
    with pytest.raises(ValueError, match="format"):
        run_batch([], io.BytesIO(), Evaluator(), policy=CT, fmt=fmt)


def test_failure_index_is_not_needed_for_order():
    """run_batch numbers lines itself; evaluate_many's Failure.index counts tickets."""
    assert Failure(0, None, ()).to_json()["index"] == 0
    rows = lines(CT, 5)
    records, _ = run(rows)
    assert [r["ticket_id"] for r in records] == [t["id"] for t in tickets(CT, 5)]
