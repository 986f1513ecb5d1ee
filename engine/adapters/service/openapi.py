"""The OpenAPI 3.1 document of the service, generated from `schemas/` (the ticket and decision
JSON Schemas are embedded as they are, their `$defs` moved into `components`)."""

from __future__ import annotations

import copy
import json
from importlib.metadata import PackageNotFoundError, version

from engine.core.paths import data_dir

ND = "application/x-ndjson"
_REF = "#/components/schemas/"


def _version() -> str:
    try:
        return version("ticket-policy")
    except PackageNotFoundError:  # a checkout that was never installed
        return "0"


def _embed(name: str, file: str, components: dict) -> None:
    """schemas/`file` as components `name`, its `$defs` as `name_<def>`."""
    schema = json.loads((data_dir("schemas") / file).read_text("utf-8"))
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    defs = schema.pop("$defs", {})

    def rewrite(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node["$ref"] = _REF + f"{name}_{ref[len('#/$defs/'):]}"
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    rewrite(schema)
    rewrite(defs)
    components[name] = schema
    for key, value in defs.items():
        components[f"{name}_{key}"] = value


def _ref(name: str) -> dict:
    return {"$ref": _REF + name}


_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_DIAGNOSTIC = {
    "type": "object",
    "required": ["code", "severity", "message"],
    "properties": {"code": _STRING, "severity": {"enum": ["error", "warning", "info"]},
                   "message": _STRING, "file": _NULLABLE_STRING,
                   "line": {"type": ["integer", "null"]}, "column": {"type": ["integer", "null"]},
                   "pointer": _NULLABLE_STRING, "rule": _NULLABLE_STRING,
                   "hint": _NULLABLE_STRING},
}
_PROBLEM: dict = {
    "type": "object",
    "description": "RFC 9457 problem details with the diagnostics that explain it.",
    "required": ["type", "title", "status", "detail", "diagnostics"],
    "properties": {"type": _STRING, "title": _STRING, "status": {"type": "integer"},
                   "detail": _STRING, "instance": _STRING, "request_id": _STRING,
                   "diagnostics": {"type": "array", "items": _ref("Diagnostic")}},
}
_ITEM_PROBLEM = {
    "type": "object",
    "description": "A batch item that was not decided: its position and problem details.",
    "required": ["index", "status", "diagnostics"],
    "properties": {**_PROBLEM["properties"], "index": {"type": "integer"},
                   "line": {"type": "integer"}, "ticket_id": _NULLABLE_STRING},
}
_DATES = {"effective_from": _NULLABLE_STRING, "effective_until": _NULLABLE_STRING}
_SUMMARY = {"type": "object", "required": ["id", "version", "digest"],
            "description": "A served policy (of several effective-dated versions: the latest, "
                           "with every version in `versions`, ordered by `effective_from`).",
            "properties": {"id": _STRING, "title": _STRING, "version": _STRING,
                           "digest": _STRING, **_DATES,
                           "versions": {"type": "array", "items": {
                               "type": "object", "required": ["version", "digest"],
                               "properties": {"version": _STRING, "digest": _STRING,
                                              **_DATES}}}}}
_HEADERS = {"X-Request-Id": {"description": "The request's id (yours, or generated).",
                             "schema": _STRING}}


def _problems(*statuses: int) -> dict:
    out = {}
    for status in statuses:
        out[str(status)] = {"description": f"problem ({status})", "headers": _HEADERS,
                            "content": {"application/problem+json": {"schema":
                                                                     _ref("Problem")}}}
    return out


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "headers": _HEADERS,
            "content": {"application/json": {"schema": schema}}}


def build(policy_ids: list[str], *, max_batch_items: int, echo: bool = False) -> dict:
    """The document for a service serving `policy_ids`."""
    components: dict = {}
    _embed("Ticket", "ticket.schema.json", components)
    _embed("Decision", "decision.schema.json", components)
    components.update({
        "Diagnostic": _DIAGNOSTIC, "Problem": _PROBLEM, "ItemProblem": _ITEM_PROBLEM,
        "PolicySummary": _SUMMARY,
        "ExplainedDecision": {"type": "object", "required": ["decision", "explain", "story"],
                              "properties": {"decision": _ref("Decision"),
                                             "explain": {"enum": ["text", "markdown"]},
                                             "story": _STRING}},
        "BatchResult": {"type": "object",
                        "required": ["request_id", "decided", "rejected", "results"],
                        "properties": {"request_id": _STRING, "decided": {"type": "integer"},
                                       "rejected": {"type": "integer"},
                                       "results": {"type": "array", "items": {"oneOf": [
                                           _ref("Decision"), _ref("ItemProblem")]}}}},
    })
    pid = {"name": "id", "in": "path", "required": True, "description": "A served policy id.",
           "schema": {"type": "string", "enum": policy_ids} if policy_ids else _STRING}
    rid = {"name": "X-Request-Id", "in": "header", "required": False,
           "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}}
    now = {"name": "now", "in": "query", "required": False, "schema": _STRING,
           "description": "RFC 3339 instant, like `--now`: adds `remaining` to the SLA."}
    mapping = {"name": "mapping", "in": "query", "required": False, "schema": _STRING,
               "description": "A helpdesk payload mapping by name: a bundled id, e.g. "
                              "`zendesk`, or the service's `--mapping` (never a path)."}
    version = {"name": "version", "in": "query", "required": False, "schema": _STRING,
               "description": "A version of the policy (`id@VERSION` on the command line); "
                              "default: the one in force at the ticket's `submitted_at` "
                              "(for the policy's details and source: the latest)."}
    ticket_body = {"required": True, "content": {"application/json": {
        "schema": _ref("Ticket")}}}
    policy_get = {"parameters": [pid, rid, version]}
    paths = {
        "/v1/policies/{id}/decisions": {"post": {
            "summary": "Decide one ticket", "operationId": "decide",
            "parameters": [pid, rid, {"name": "explain", "in": "query", "required": False,
                                      "schema": {"enum": ["text", "markdown"]}}, now, mapping,
                           version],
            "requestBody": ticket_body,
            "responses": {"200": _json({"oneOf": [_ref("Decision"), _ref("ExplainedDecision")]},
                                       "the decision (with `explain`: and its story)"),
                          **_problems(400, 404, 413, 415, 422, 500, 503)}}},
        "/v1/policies/{id}/decisions:batch": {"post": {
            "summary": f"Decide up to {max_batch_items} tickets (JSON array or NDJSON)",
            "operationId": "decideBatch", "parameters": [pid, rid, now, version],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "array", "items": _ref("Ticket"),
                                                "maxItems": max_batch_items}},
                ND: {"schema": _STRING}}},
            "responses": {"200": {"description": "a result per ticket, in order",
                                  "headers": _HEADERS, "content": {
                                      "application/json": {"schema": _ref("BatchResult")},
                                      ND: {"schema": _STRING}}},
                          **_problems(400, 404, 413, 415, 422, 503)}}},
        "/v1/policies/{id}/why-not/{rule}": {"post": {
            "summary": "Why a rule did not fire", "operationId": "whyNot",
            "parameters": [pid, {"name": "rule", "in": "path", "required": True,
                                 "schema": _STRING}, rid, now, mapping, version],
            "requestBody": ticket_body,
            "responses": {"200": _json({"type": "object", "required": ["rule", "reports"],
                                        "properties": {"rule": _STRING, "request_id": _STRING,
                                                       "reports": {"type": "array"}}}),
                          **_problems(400, 404, 413, 415, 422, 500, 503)}}},
        "/v1/policies": {"get": {
            "summary": "The served policies", "operationId": "listPolicies",
            "parameters": [rid],
            "responses": {"200": _json({"type": "object", "required": ["policies", "digest"],
                                        "properties": {"digest": _STRING, "policies": {
                                            "type": "array", "items": _ref("PolicySummary")}}}),
                          **_problems(503)}}},
        "/v1/policies/{id}": {"get": {**policy_get, "summary": "One policy",
                                      "operationId": "getPolicy", "responses": {
            "200": _json({"allOf": [_ref("PolicySummary")]}), **_problems(404, 503)}}},
        "/v1/policies/{id}/source": {"get": {**policy_get, "summary": "The rule file served",
                                             "operationId": "getPolicySource", "responses": {
            "200": {"description": "the YAML text", "headers": _HEADERS,
                    "content": {"application/yaml": {"schema": {
                        "description": "the rule file (schemas/policy.schema.json)"}}}},
            **_problems(404, 503)}}},
        "/v1/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                     "responses": {"200": _json({"type": "object"})}}},
        "/healthz": {"get": {"summary": "The process is up", "operationId": "health",
                             "responses": {"200": _json({"type": "object"})}}},
        "/readyz": {"get": {"summary": "The policies are compiled", "operationId": "ready",
                            "responses": {"200": _json({"type": "object"}),
                                          **_problems(503)}}},
        "/metrics": {"get": {"summary": "Prometheus text format", "operationId": "metrics",
                             "responses": {"200": {"description": "metrics", "content": {
                                 "text/plain": {"schema": _STRING}}}}}},
        "/v1/admin/reload": {"post": {
            "summary": "Recompile the policy set; a set with errors is rejected whole",
            "operationId": "reload", "security": [{"bearer": []}], "parameters": [rid],
            "responses": {"200": _json({"type": "object"}), **_problems(401, 404, 422)}}},
    }
    if echo:
        paths["/v1/echo"] = {"post": {
            "summary": "Parse a JSON body and return it (the HTTP floor)", "operationId": "echo",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
            "responses": {"200": _json({}), **_problems(400, 413, 415)}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ticket-policy decision service", "version": _version(),
                 "description": "Support policies as data: tickets in, traced decisions out. "
                                "See docs/service.md."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": copy.deepcopy(paths),
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }
