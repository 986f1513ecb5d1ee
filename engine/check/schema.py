"""Check stage, the schema checks: JSON Schema violations translated into diagnostics at the
YAML marks of the policy text (one per place; for `oneOf`/`anyOf`, the branch the author most
likely meant, with "did you mean" hints drawn from its sibling branches).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from functools import cache

import jsonschema

from engine.core.diagnostics import Diagnostic, did_you_mean, pointer_join
from engine.core.diagnostics import escape_token as _esc
from engine.core.model import PRIORITY_ACTIONS
from engine.core.paths import data_dir
from engine.load import Document

SCHEMA_DIR = data_dir("schemas")
_PATTERN_NAMES = {
    "duration": "an ISO 8601 duration such as `PT3H` or `PT30M`",
    "identifier": "an identifier (letters, digits, `_`, `.`, `-`)",
    "interval": "an interval `HH:MM-HH:MM`",
    "factName": "a fact path such as `customer.segment`",
    "dayRange": "a day or range of days such as `mon` or `mon-fri`",
    "lintReason": "a reason: why the finding is intended",
}
_DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "mon-fri", "sat-sun", "mon-sun"]


@cache
def policy_schema() -> dict:
    return json.loads((SCHEMA_DIR / "policy.schema.json").read_text("utf-8"))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(policy_schema())


def _pointer(path) -> str:
    return pointer_join("", *path)


def _mismatched(branch: list[jsonschema.ValidationError], depth: int) -> bool:
    """Does this oneOf branch expect another kind of value than the author wrote?"""
    for e in branch:
        if len(e.absolute_path) != depth:
            continue
        if e.validator == "type":
            return True
        if e.validator in ("enum", "const") and isinstance(e.instance, (dict, list)):
            return True
    return False


def _pick(error: jsonschema.ValidationError) -> tuple[jsonschema.ValidationError, set[str]]:
    """For oneOf/anyOf, the error of the branch the author most likely meant: a branch whose
    kind of value fits, with the fewest errors. Also every property name the sibling branches
    allow at that place, for "did you mean" hints."""
    names: set[str] = set()
    while error.validator in ("oneOf", "anyOf") and error.context:
        depth = len(error.absolute_path)
        branches: dict[object, list[jsonschema.ValidationError]] = {}
        for e in error.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
            if e.validator == "additionalProperties":
                names |= set(allowed_properties(e))
        fitting = [b for b in branches.values() if not _mismatched(b, depth)]
        best = min(fitting or list(branches.values()), key=len)
        error = max(best, key=lambda e: (len(e.absolute_path), e.validator != "required"))
    return error, names


def schema_diagnostics(doc: Document) -> list[Diagnostic]:
    """Every JSON Schema violation as one diagnostic at its YAML location, one per place."""
    seen: dict[tuple, Diagnostic] = {}
    for raw in _validator().iter_errors(doc.data):
        err, names = _pick(raw)
        for diag in _translate(doc, err, names):
            key = (diag.location.line, diag.location.column, diag.code, diag.message)
            seen.setdefault(key, diag)
    return list(seen.values())


def _translate(doc: Document, err: jsonschema.ValidationError,
               sibling_names: AbstractSet[str] = frozenset()) -> list[Diagnostic]:
    """One schema error as diagnostics (an unknown-properties error names each property)."""
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = allowed_properties(err)
        return [_unknown_property(doc, err, name, allowed, sibling_names)
                for name in err.instance if name not in allowed]
    if err.validator == "not" and not isinstance(err.instance, dict):
        return []  # the type error at the same place says it better
    return [_translate_one(doc, err, sibling_names)]


def _where(err: jsonschema.ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
    return where.lstrip(".") or "the policy"


def _unknown_property(doc: Document, err: jsonschema.ValidationError, name: str,
                      allowed: list[str], sibling_names: AbstractSet[str]) -> Diagnostic:
    ptr = _pointer(err.absolute_path)
    others = sorted(set(sibling_names) - set(allowed))
    hint: str | None
    if name in others:
        hint = (f"`{name}` belongs to another form of `{_where(err)}` and cannot be combined "
                "with the keys written here")
    else:
        hint = did_you_mean(name, allowed) or did_you_mean(name, others) or (
            f"allowed: {', '.join(allowed)}" if allowed else None)
    return Diagnostic("schema_unknown_property", f"unknown property `{name}` in `{_where(err)}`",
                      location=doc.locate(f"{ptr}/{_esc(name)}", key=True), hint=hint,
                      rule=_rule_id(doc.data, err.absolute_path))


def _translate_one(doc: Document, err: jsonschema.ValidationError,
                   sibling_names: AbstractSet[str]) -> Diagnostic:
    ptr = _pointer(err.absolute_path)
    where = _where(err)
    v = err.validator
    hint = None
    rule = _rule_id(doc.data, err.absolute_path)
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        owner = where if where == "the policy" else f"`{where}`"
        return Diagnostic("schema_required", f"{owner} is missing required property `{missing}`",
                          location=doc.locate(ptr), rule=rule)
    if v == "enum":
        values = err.validator_value   # an enum's values: a list
        choices = [str(c) for c in values] if isinstance(values, list) else []
        hint = did_you_mean(err.instance, choices) or f"expected one of {', '.join(choices)}"
        return Diagnostic("schema_enum", f"`{where}` is `{err.instance}`, not an allowed value",
                          location=doc.locate(ptr), hint=hint, rule=rule)
    if v == "type":
        expected = err.validator_value   # a type name or a list of them
        names = [expected] if isinstance(expected, str) else \
            [str(t) for t in expected] if isinstance(expected, list) else []
        shown = " or ".join(_YAML_TYPES.get(t, t) for t in names)
        return Diagnostic("schema_type", f"`{where}` must be {shown}, got "
                          f"`{json.dumps(err.instance, default=str)[:60]}`",
                          location=doc.locate(ptr), rule=rule)
    if v == "pattern":
        kind = _pattern_kind(str(err.validator_value))
        if kind.startswith("a day"):
            hint = did_you_mean(err.instance, _DAY_KEYS)
        return Diagnostic("schema_pattern", f"`{where}` is `{err.instance}`, expected {kind}",
                          location=doc.locate(ptr), rule=rule, hint=hint)
    if v == "uniqueItems" and isinstance(err.instance, list):
        repeated = sorted({str(x) for x in err.instance if err.instance.count(x) > 1})
        return Diagnostic("schema_duplicate_items", f"`{where}` lists "
                          f"{', '.join(f'`{x}`' for x in repeated)} more than once",
                          location=doc.locate(ptr), rule=rule, hint="list each value once")
    if v == "propertyNames":
        return Diagnostic("schema_property_name", f"`{err.instance}` is not a valid name in "
                          f"`{where}`", location=doc.locate(ptr), rule=rule)
    if v == "not" and isinstance(err.instance, dict):
        kinds = [k for k in PRIORITY_ACTIONS if k in err.instance]
        return Diagnostic("schema_conflicting_actions", f"a rule changes the priority once: "
                          f"`{'` and `'.join(kinds)}` in one `then`", location=doc.locate(ptr),
                          hint="split them into two rules", rule=rule)
    message = err.message[:1].lower() + err.message[1:]
    return Diagnostic(f"schema_{v}", f"`{where}`: {message}", location=doc.locate(ptr), rule=rule)


_YAML_TYPES = {"array": "a list", "object": "a mapping", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "true or false",
               "null": "null"}


def allowed_properties(err: jsonschema.ValidationError) -> list[str]:
    """The property names the schema at an error lists (an `additionalProperties` error's)."""
    schema = err.schema
    return list((schema.get("properties") or {}).keys()) if isinstance(schema, Mapping) else []


def _rule_id(data: object, path) -> str | None:
    """The id of the rule or table an error sits in, if any."""
    parts = list(path)
    if len(parts) >= 2 and parts[0] in ("rules", "tables") and isinstance(data, dict):
        try:
            item = data[parts[0]][parts[1]]
        except (IndexError, KeyError, TypeError):
            return None
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            return item["id"]
    return None


def _pattern_kind(pattern: str) -> str:
    defs = policy_schema()["$defs"]
    for name, text in _PATTERN_NAMES.items():
        if defs.get(name, {}).get("pattern") == pattern:
            return text
    return f"a value matching `{pattern}`"
