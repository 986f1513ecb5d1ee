"""A decision log record: what is stored for one decision, as canonical JSON.

The record (format 1) is one JSON object with sorted keys (docs/decision-log.md):

    audit        ticket fields the policy lists as `audit_fields` (sensitive ones as
                 "hmac-sha256:<hex>"), beyond the facts below
    decision     the ticket's part of the decision JSON (`serialize.PER_TICKET`)
    decision_id  a UUIDv7
    facts        the ticket facts the decision depends on (path → value): what its
                 `input_digest` hashes, and what replay evaluates
    format       1
    logged_at    when the record was committed (UTC, milliseconds)
    now          the `now` the decision was made at, or null
    outcome_digest  "sha256:" of the canonical JSON of the decision's outcome part (what the
                 rules decided, with the trace: `serialize.PER_OUTCOME`), stored once per digest
    policy       {id, version, digest, source_digest, path, effective_from, effective_until,
                  in_force}
    request_id   the request it answered, or null
    seq          its position in the log (1, 2, ...)
    ticket_id    the ticket

Most of it is serialised before the writer takes the log's lock; `seq` and `logged_at` are
filled in by the transaction that commits it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import NamedTuple

from engine.check.tickets import parse_timestamp
from engine.compile.compiler import CompiledPolicy
from engine.core.canonical import instant_text
from engine.core.decision import Decision, canonical_json
from engine.ops.log.ids import uuid7
from engine.ops.log.serialize import (
    full_decision,
    outcome_json,
    scalar_json,
    sla_state,
    ticket_json,
)
from engine.ops.log.sources import PolicySource

FORMAT = 1


class Prepared(NamedTuple):
    """A record serialised but for `seq` and `logged_at`."""

    decision_id: str
    ticket_id: str
    request_id: str | None
    policy_id: str
    policy_version: str
    policy_digest: str
    priority: str | None
    sla_status: str
    source: PolicySource
    outcome_digest: str
    outcome_text: str
    head: str     # the keys before `logged_at`, serialised, without braces
    middle: str   # between `logged_at` and `seq`
    tail: str     # after `seq`

    def text(self, seq: int, logged_at: str) -> str:
        """The record's canonical JSON (keys in sorted order by construction)."""
        return (f'{{{self.head},"logged_at":{scalar_json(logged_at)},{self.middle},'
                f'"seq":{seq},{self.tail}}}')


def sla_status(sla: Mapping | None) -> str:
    """Of a decision JSON's `sla`: `none` (no target), `met`, `breached` (answered late),
    `overdue` (unanswered, past due at the decision's `now`) or `open` (unanswered, not known
    to be late)."""
    if sla is None:
        return "none"
    if sla.get("met") is not None:
        return "met" if sla["met"] else "breached"
    return "overdue" if str(sla.get("remaining", "")).startswith("-") else "open"


_MISSING = object()


def _field(ticket: Mapping, path: str) -> object:
    node: object = ticket
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return _MISSING
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return _MISSING
    return node


def audit_values(policy: CompiledPolicy, ticket: Mapping, facts: Mapping, key: bytes) -> dict:
    """The policy's audit fields the ticket has (those not already among `facts`); sensitive
    ones as `hmac-sha256:` of their canonical JSON under the log's key."""
    out = {}
    sensitive = policy.policy.sensitive
    for path in policy.policy.audit_fields:
        if path in facts:
            continue
        value = _field(ticket, path)
        if value is _MISSING or value is None:
            continue
        if path in sensitive:
            value = "hmac-sha256:" + hmac.new(key, canonical_json(value).encode("utf-8"),
                                              hashlib.sha256).hexdigest()
        out[path] = value
    return out


def prepare(decision: Decision, policy: CompiledPolicy, ticket: Mapping, source: PolicySource,
            key: bytes, request_id: str | None = None) -> Prepared:
    """Serialise one decision's record (ValueError when the decision, its policy and the
    request id disagree, or the decision carries no facts)."""
    if decision.policy != policy.ref:
        raise ValueError(f"decision of `{decision.policy.id}` {decision.policy.version} logged "
                         f"with policy `{policy.id}` {policy.version}")
    if request_id is not None and decision.request_id not in (None, request_id):
        raise ValueError(f"decision answers request `{decision.request_id}`, not `{request_id}`")
    if request_id is not None and decision.request_id is None:
        decision = decision.with_request_id(request_id)
    facts_text = decision.input_facts_bytes()   # what `input_digest` hashes
    if facts_text is None:
        raise ValueError("a decision read from JSON carries no facts: log it when it is made")
    outcome_digest, outcome_text = outcome_json(decision)
    body = ticket_json(decision)
    p = policy.policy
    in_force = None
    if p.effective_from is not None or p.effective_until is not None:
        try:
            in_force = p.in_force(parse_timestamp(_field(ticket, "submitted_at")))
        except ValueError:
            in_force = False
    audit = canonical_json(audit_values(policy, ticket, decision.input_facts or {}, key)) \
        if p.audit_fields else "{}"
    decision_id = uuid7()
    head = (f'"audit":{audit},"decision":{body},"decision_id":"{decision_id}",'
            f'"facts":{facts_text.decode("utf-8")},"format":{FORMAT}')
    middle = (f'"now":{scalar_json(instant_text(decision.now) if decision.now else None)},'
              f'"outcome_digest":"{outcome_digest}","policy":{_ref(policy, source, in_force)},'
              f'"request_id":{scalar_json(decision.request_id)}')
    tail = f'"ticket_id":{scalar_json(decision.ticket_id)}'
    return Prepared(decision_id, decision.ticket_id, decision.request_id, p.id, p.version,
                    policy.digest, decision.priority, sla_state(decision.sla), source,
                    outcome_digest, outcome_text, head, middle, tail)


_refs: dict[tuple, str] = {}


def _ref(policy: CompiledPolicy, source: PolicySource, in_force: bool | None) -> str:
    """The record's `policy` object (the same for every decision of one version)."""
    p = policy.policy
    key = (policy.ref, source.digest, source.policy_path, p.effective_from, p.effective_until,
           in_force)
    text = _refs.get(key)
    if text is None:
        text = canonical_json({
            "id": p.id, "version": p.version, "digest": policy.digest,
            "source_digest": source.digest, "path": source.policy_path,
            "effective_from": p.effective_from.isoformat() if p.effective_from else None,
            "effective_until": p.effective_until.isoformat() if p.effective_until else None,
            "in_force": in_force})
        if len(_refs) >= 1024:
            _refs.clear()
        _refs[key] = text
    return text


def decision_of(record: dict, outcome: dict) -> dict:
    """The full decision JSON a record holds, its outcome part put back."""
    return full_decision(record["decision"], outcome)
