"""The complete example in docs/policy-format.md validates, lints clean and decides."""

from __future__ import annotations

import re

from conftest import ROOT

from engine import evaluate, load_policy
from engine.author.lint import lint_policy
from engine.check.files import check_file

DOC = ROOT / "docs" / "policy-format.md"


def example(tmp_path):
    text = DOC.read_text("utf-8")
    section = text[text.index("## A complete example"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "acme.yaml"
    path.write_text(block, "utf-8")
    return path


def test_example_validates_and_lints_clean(tmp_path):
    model, diags = check_file(example(tmp_path))
    assert diags == [] and model is not None
    assert lint_policy(model) == [], [d.render() for d in lint_policy(model)]


def test_example_decides(tmp_path):
    cp = load_policy(str(example(tmp_path)))
    d = evaluate(cp, {"id": "A-1", "submitted_at": "2026-12-24T11:00:00+01:00",
                      "impact": "high", "urgency": "high", "environment": "production",
                      "seats": 50})
    assert d.priority == "P1"
    assert [o.party for o in d.obligations] == ["customer", "vendor"]
    # 24 Dec is a short day (09-12): one hour today, the 25th/26th are holidays, then Monday
    assert d.sla.due_at.isoformat() == "2026-12-28T10:00:00+01:00"
    small = evaluate(cp, {"id": "A-2", "submitted_at": "2026-03-02T10:00:00+01:00",
                          "impact": "high", "urgency": "low", "environment": "production",
                          "seats": 3, "customer": {"segment": "trial",
                                                   "timezone": "America/New_York"}})
    assert [a.to for a in small.actions] == ["P2", "P3"]
    assert small.plan == "enterprise" and small.sla.timezone == "America/New_York"


def test_mapping_example_maps_a_payload(tmp_path):
    from engine.check.mapping import apply_mapping, load_mapping

    text = (ROOT / "docs" / "mappings.md").read_text("utf-8")
    block = re.search(r"## The format.*?```yaml\n(.*?)```", text, re.S).group(1)
    path = tmp_path / "my-helpdesk.yaml"
    path.write_text(block, "utf-8")
    mapping, diags = load_mapping(path, load_policy("cloudtalk").policy.facts)
    assert diags == [] and mapping is not None
    payload = {"ticket": {"id": 7, "opened": "2026-03-02T10:00:00+0100", "priority": "high",
                          "custom_fields": [{"id": 360011000102, "value": "staging"}]},
               "requester": {"time_zone": "Europe/Berlin"}}
    mapped = apply_mapping(mapping, payload)
    assert mapped.ok and mapped.ticket == {
        "id": "7", "submitted_at": "2026-03-02T10:00:00+01:00", "requested_priority": "P2",
        "environment": "staging", "customer": {"timezone": "Europe/Berlin"}}
    decision = evaluate(load_policy("cloudtalk"), mapped.ticket)
    assert (decision.requested_priority, decision.priority) == ("P2", "P3")  # staging


TIMELINES = ROOT / "docs" / "timelines.md"


def test_the_timeline_story_in_the_docs_is_what_explain_prints(tmp_path):
    """docs/timelines.md: its policy validates and lints clean, and its ticket's story is the
    one the page shows."""
    import json

    from engine.explain.render import render_text

    text = TIMELINES.read_text("utf-8")
    section = text[text.index("## The story"):]
    policy = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    ticket = re.search(r"```json\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n.*?\n…\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "policy.yaml"
    path.write_text(policy, "utf-8")
    model, diags = check_file(path)
    assert diags == [] and lint_policy(model) == []
    story = render_text(evaluate(load_policy(str(path)), json.loads(ticket)), "rules/desk")
    assert story.split("\n\n")[-1] == shown
