"""Policy tests, the comparison: does a decision hold everything an expectation names
(durations and instants compared by value), a diff of what it does not, and the decision schema
every decided case and every expectation must fit."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from functools import cache

from engine.author.policytest.cases import _DURATION_KEYS, _INSTANT_KEYS
from engine.check.tickets import parse_timestamp
from engine.core.decision import Decision
from engine.core.durations import parse_signed_duration
from engine.core.paths import data_dir

_DECISION_SCHEMA = data_dir("schemas") / "decision.schema.json"




def _same_scalar(key: str, expected: object, actual: object) -> bool:
    if key in _DURATION_KEYS and isinstance(expected, str) and isinstance(actual, str):
        try:
            return parse_signed_duration(expected) == parse_signed_duration(actual)
        except ValueError:
            return False
    if key in _INSTANT_KEYS and isinstance(expected, str) and isinstance(actual, str):
        try:
            return parse_timestamp(expected) == parse_timestamp(actual)
        except ValueError:
            return False
    return type(expected) is type(actual) and expected == actual


def _subset(expected: object, actual: object, key: str = "") -> bool:
    """Does `actual` hold everything `expected` names (mappings: the named keys only)?"""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k], k) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            _subset(e, a, key) for e, a in zip(expected, actual, strict=True))
    return _same_scalar(key, expected, actual)


def _project(expected: object, actual: object) -> object:
    """`actual` narrowed to the keys `expected` names, so a diff shows only what was asked."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: _project(expected[k], actual[k]) if k in expected else actual[k]
                for k in actual if k in expected}
    if isinstance(expected, list) and isinstance(actual, list):
        keys = {k for e in expected if isinstance(e, dict) for k in e}
        out = []
        for i, a in enumerate(actual):
            e = expected[i] if i < len(expected) else None
            if isinstance(a, dict) and isinstance(e, dict):
                out.append(_project(e, a))
            elif isinstance(a, dict) and keys:
                out.append({k: v for k, v in a.items() if k in keys})
            else:
                out.append(a)
        return out
    return actual


def _dump(value: object) -> list[str]:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True,
                      default=str).splitlines()


def _diff(key: str, expected: object, actual: object) -> str:
    lines = difflib.unified_diff(_dump({key: expected}), _dump({key: actual}),
                                 "expected", "actual", lineterm="", n=3)
    return "\n".join(lines)


def _compare(expect: Mapping, decision: Decision) -> list[str]:
    got = decision.to_json()
    problems = []
    for key, expected in expect.items():
        if key in ("fired", "not_fired"):
            fired = decision.fired
            wrong = [r for r in expected if (r in fired) != (key == "fired")]
            if wrong:
                verb = "to fire" if key == "fired" else "not to fire"
                problems.append(f"{key}: expected {', '.join(f'`{r}`' for r in wrong)} {verb}; "
                                f"fired: {', '.join(sorted(fired)) or 'none'}")
            continue
        actual = got.get(key)
        if key == "channels":
            ok = isinstance(actual, list) and sorted(expected) == sorted(actual)
        elif key == "notes":
            missing = [n for n in expected if n not in (actual or [])]
            if missing:
                problems.append("notes: missing " + "; ".join(f"`{n}`" for n in missing)
                                + "\n" + _diff(key, expected, actual))
            continue
        else:
            ok = _subset(expected, actual, key)
        if not ok:
            problems.append(f"{key}:\n" + _diff(key, expected, _project(expected, actual)))
    return problems


def _without_required(schema: object) -> object:
    """The schema with every `required` and `minItems` dropped: it accepts any subset."""
    if isinstance(schema, dict):
        return {k: _without_required(v) for k, v in schema.items()
                if k not in ("required", "minItems")}
    if isinstance(schema, list):
        return [_without_required(v) for v in schema]
    return schema


@cache
def _decision_validator(partial: bool = False):
    """The decision schema's validator, when another part of the project has published one;
    `partial`: the same schema accepting any subset of a decision (for expectations)."""
    if not _DECISION_SCHEMA.is_file():
        return None
    import jsonschema

    schema = json.loads(_DECISION_SCHEMA.read_text("utf-8"))
    shape = _without_required(schema) if partial else schema
    assert isinstance(shape, dict)   # a JSON Schema document is an object
    return jsonschema.Draft202012Validator(shape)


def _schema_problems(decision: Decision) -> list[str]:
    validator = _decision_validator()
    if validator is None:
        return []
    return [f"decision does not match schemas/decision.schema.json at "
            f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(decision.to_json())]
