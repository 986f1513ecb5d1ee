"""`engine.app.decision_text`: the one serialization of a decision (CLI `evaluate`, service)."""

from __future__ import annotations

import json

from conftest import ROOT

from engine import app


def test_decision_text_is_the_json_modules_indented_text():
    for example in sorted((ROOT / "examples").glob("*.json")):
        policy = example.name.split("-")[0].replace("csd", "csd-group")
        result = app.decide(policy, example)
        assert result.ok, (example, result.diagnostics)
        data = result.decision.with_request_id("r-1").to_json()
        assert app.decision_text(result.decision.with_request_id("r-1")) == json.dumps(
            data, indent=2, ensure_ascii=False)


class _Record:
    def __init__(self, data):
        self.data = data

    def to_json(self):
        return self.data


def test_what_orjson_refuses_is_written_by_the_json_module():
    for data in ({"text": "lone \udc80 surrogate"}, {"n": 2 ** 70}):
        assert app.decision_text(_Record(data)) == json.dumps(data, indent=2,
                                                              ensure_ascii=False)
