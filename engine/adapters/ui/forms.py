"""The ticket form, generated from a policy's fact catalogue, and its inverse: the submitted
form fields as a ticket (JSON text the `decide` use case reads, so every check applies)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from engine.compile.compiler import CompiledPolicy

PREFIX = "f:"     # form field names: `f:customer.segment`
_TEXT_TYPES = ("string", "timestamp", "timezone", "country")


@dataclass(frozen=True)
class Field:
    name: str             # the fact path
    label: str
    kind: str             # select | text | number
    choices: tuple[str, ...]
    value: str
    required: bool
    hint: str


def fields(cp: CompiledPolicy, ticket: dict | None) -> list[Field]:
    """One field per ticket fact the policy knows (not derived; maps left to the JSON tab),
    filled from `ticket`."""
    p = cp.policy
    out = []
    for path, spec in p.facts.items():
        if spec.derived or spec.type == "targets":
            continue
        value = _get(ticket or {}, path)
        shown = "" if value is None else (json.dumps(value) if isinstance(value, bool)
                                          else str(value))
        if spec.type in ("enum", "level", "plan", "boolean"):
            choices = {"enum": spec.enum, "level": p.levels, "plan": tuple(p.plans),
                       "boolean": ("true", "false")}[spec.type]
            kind = "select"
        else:
            choices, kind = (), "number" if spec.type in ("integer", "number") else "text"
        hint = spec.description or ("RFC 3339 with offset" if spec.type == "timestamp" else "")
        out.append(Field(path, path, kind, tuple(str(c) for c in choices), shown, spec.required,
                         hint))
    return out


def _get(ticket: dict, path: str) -> object:
    node: object = ticket
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def ticket_from_form(cp: CompiledPolicy, form: dict[str, str]) -> dict:
    """The ticket the form fields stand for: empty fields left out, booleans and numbers
    converted (a number that does not parse is kept as text: the ticket check reports it)."""
    specs = cp.policy.facts
    ticket: dict = {}
    for key, raw in form.items():
        if not key.startswith(PREFIX) or raw.strip() == "":
            continue
        path = key[len(PREFIX):]
        spec = specs.get(path)
        if spec is None or spec.derived:
            continue
        value: object = raw.strip()
        if spec.type == "boolean":
            value = {"true": True, "false": False}.get(raw.strip(), raw.strip())
        elif spec.type in ("integer", "number"):
            try:
                value = int(raw) if spec.type == "integer" else float(raw)
            except ValueError:
                pass
        *parents, leaf = path.split(".")
        node = ticket
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return ticket


def with_events(ticket: dict, events_text: str) -> tuple[dict, str | None]:
    """The ticket with the events typed as a JSON list (empty: none), or why they cannot be
    read."""
    text = events_text.strip()
    if not text:
        return ticket, None
    try:
        events = json.loads(text)
    except ValueError as exc:
        return ticket, f"events: not JSON ({exc})"
    if not isinstance(events, list):
        return ticket, "events: expected a JSON list of events, e.g. " \
            '[{"at": "2026-03-09T10:00:00+01:00", "type": "reply", "by": "agent"}]'
    return {**ticket, "events": events}, None
