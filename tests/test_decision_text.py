"""`engine.app.decision_text`: the one serialization of a decision (CLI `evaluate`, service)."""

from __future__ import annotations

import json

from conftest import ROOT

from engine import app
from engine.core.decision import Decision, snapshot_decision


def test_decision_text_is_the_json_modules_indented_text():
    for example in sorted((ROOT / "examples").glob("*.json")):
        policy = example.name.split("-")[0].replace("csd", "csd-group")
        result = app.decide(policy, example)
        assert result.ok, (example, result.diagnostics)
        data = result.decision.with_request_id("r-1").to_json()
        assert app.decision_text(result.decision.with_request_id("r-1")) == json.dumps(
            data, indent=2, ensure_ascii=False)


def _decision(**changes):
    """A real decision (an example's, through its JSON record) with some of its record changed."""
    result = app.decide("cloudtalk", sorted((ROOT / "examples").glob("cloudtalk-*.json"))[0])
    assert result.ok, result.diagnostics
    data = result.decision.to_json()
    data.update(changes)
    return Decision.from_json(data)


def test_decision_text_is_the_pretty_bytes_of_the_decision():
    d = _decision()
    assert app.decision_text(d).encode("utf-8") == d.to_json_bytes(pretty=True)


def test_what_orjson_refuses_is_written_by_the_json_module():
    big = _decision()
    trace = big.to_json()["trace"]
    trace[0]["matched"] = {"requested_priority": 2 ** 70}   # beyond 64 bits
    for d in (_decision(ticket_id="lone \udc80 surrogate"), _decision(trace=trace)):
        assert app.decision_text(d) == json.dumps(d.to_json(), indent=2, ensure_ascii=False)


def test_snapshot_decision_sets_every_slot_as_the_keyword_constructor_does():
    """The hit path's positional constructor leaves no slot unset or different (a slot added
    to `Decision` later fails here until `snapshot_decision` sets it too)."""
    def lazy() -> tuple:
        return (), (), ()
    fields = dict(ticket_id="T-1", policy="ref", requested_priority="P2", outcome="outcome",
                  sla=None, now=None, inputs=(("priority",), {"priority": "P2"}), lazy=lazy,
                  ignored_fields=("x",), warnings=("w",))
    fast = snapshot_decision(*fields.values())  # type: ignore[arg-type]
    keyword = Decision(**fields)  # type: ignore[arg-type]
    for slot in Decision.__slots__:
        assert getattr(fast, slot) == getattr(keyword, slot), slot
