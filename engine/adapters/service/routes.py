"""The endpoints. Each parses its request, calls one `engine.app` use case (or, for batches,
`Evaluator.evaluate_many`) and renders the result; evaluations run on the event loop's thread."""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine import app
from engine.adapters.service import batch
from engine.adapters.service.config import (
    MAPPINGS,
    WHY_NOT_MAPPINGS,
    mapping_unavailable,
    request_mappings,
    unknown_mapping,
)
from engine.adapters.service.inputs import (
    JSON,
    NDJSON,
    media_type,
    not_ready,
    query,
    read_body,
    served,
    service,
    version_of,
)
from engine.adapters.service.middleware import context
from engine.adapters.service.openapi import build
from engine.adapters.service.problems import ProblemError, http_diagnostic, input_status
from engine.adapters.service.service import unlogged
from engine.check.tickets import parse_timestamp
from engine.core.diagnostics import Diagnostic, Location
from engine.explain import render
from engine.ops.log import Entry

SOURCE = "<body>"


def _mapping(svc, given: str | None, supported: bool) -> dict:
    """`mapping=` for the use case: the one the request names (a bundled id, or `--mapping`
    by its name; 400 for any other value, never opened), else `--mapping`; 400 when
    unsupported."""
    name = given or svc.config.mapping
    if name is None:
        return {}
    if not supported:
        raise ProblemError(400, [mapping_unavailable("?mapping" if given else "--mapping")])
    if not given:
        return {"mapping": name}
    allowed = request_mappings(svc.config.mapping)
    if given not in allowed:
        raise ProblemError(400, [unknown_mapping(given, allowed)])
    return {"mapping": allowed[given]}


def _fail(svc, result, policy_id: str) -> ProblemError:
    """A use case's failed result as the problem to answer with."""
    diags = result.diagnostics
    if result.status == app.Status.FAILED:
        for d in diags:
            svc.metrics.failed(policy_id, d.code)
        return ProblemError(500, diags)
    if any(d.code == "unknown_rule" for d in diags):
        return ProblemError(404, diags)
    if result.status == app.Status.POLICY_ERROR:
        return ProblemError(400, diags)
    return ProblemError(input_status(diags), diags)


def _deciding(found, name: str | None):
    """What decides: the version `?version=` names, else the one in force at the ticket's
    `submitted_at` (a folder of versions), else the one policy."""
    return found.deciding() if name is None else version_of(found, name).policy


def _decided_by(request: Request, result) -> None:
    """The access log names the version that decided."""
    if result.policy is not None:
        context(request.scope).digest = result.policy.digest


async def decide(request: Request) -> Response:
    svc, found = service(request), served(request)
    params = query(request, {"explain": ("text", "markdown"), "now": None, "mapping": None,
                             "version": None})
    extra = _mapping(svc, params.get("mapping"), MAPPINGS)
    deciding = _deciding(found, params.get("version"))
    media_type(request, JSON)
    body = await read_body(request, svc.config.max_body)
    rid = context(request.scope).request_id
    result = app.decide(deciding, body, source_name=SOURCE, now_text=params.get("now"),
                        evaluator=svc.evaluator, request_id=rid, **extra)
    svc.metrics.sync_cache(svc.evaluator)
    _decided_by(request, result)
    decision = result.decision
    if not result.ok or decision is None or result.policy is None:
        raise _fail(svc, result, found.id)
    if svc.logging:   # durable before it is answered (503 if it cannot be)
        await svc.record([Entry(decision, result.policy, result.ticket_data, rid)])  # type: ignore[arg-type]
    svc.metrics.decided(found.id, decision.priority)
    explain = params.get("explain")
    if explain is None:
        return Response(app.decision_text(decision) + "\n", media_type="application/json")
    show = render.render_text if explain == "text" else render.render_markdown
    story = show(decision, str(Path(result.policy.policy.file).parent))
    return JSONResponse({"decision": decision.to_json(), "explain": explain, "story": story})


async def decide_batch(request: Request) -> Response:
    svc, found = service(request), served(request)
    params = query(request, {"now": None, "mapping": None, "version": None})
    if params.get("mapping") or svc.config.mapping:
        raise ProblemError(400, [Diagnostic(
            "mapping_unavailable", "mappings are not available for batches in this build",
            location=Location(file="?mapping"), hint="map the payloads first, or send them "
            "one at a time to /decisions")])
    kind = media_type(request, JSON | NDJSON)
    body = await read_body(request, svc.config.max_batch_body)
    items = batch.parse(body, kind in NDJSON, svc.config.max_batch_items)
    now = None
    if "now" in params:
        try:
            now = parse_timestamp(params["now"])
        except ValueError as exc:
            raise ProblemError(400, [Diagnostic("bad_now", str(exc),
                                                location=Location(file="?now"))]) from None
    return await batch.decide(svc, _deciding(found, params.get("version")), found.id,
                              items, now=now,
                              request_id=context(request.scope).request_id,
                              instance=request.url.path, ndjson=kind in NDJSON)


async def why_not(request: Request) -> Response:
    svc, found = service(request), served(request)
    params = query(request, {"now": None, "mapping": None, "version": None})
    extra = _mapping(svc, params.get("mapping"), WHY_NOT_MAPPINGS)
    deciding = _deciding(found, params.get("version"))
    media_type(request, JSON)
    body = await read_body(request, svc.config.max_body)
    result = app.why_not(deciding, body, request.path_params["rule"], source_name=SOURCE,
                         now_text=params.get("now"), evaluator=svc.evaluator, **extra)
    svc.metrics.sync_cache(svc.evaluator)
    if result.decided is not None:
        _decided_by(request, result.decided)
    if not result.ok:
        raise _fail(svc, result, found.id)
    return JSONResponse({**(result.report or {}),
                         "request_id": context(request.scope).request_id})


def _policies(svc):
    if svc.policies is None:
        raise not_ready(svc)
    return svc.policies


async def list_policies(request: Request) -> Response:
    query(request, {})
    policies = _policies(service(request))
    return JSONResponse({"digest": policies.digest, "loaded_at": policies.loaded_at,
                         "policies": policies.summaries()})


async def get_policy(request: Request) -> Response:
    params = query(request, {"version": None})
    whole = served(request)
    found = version_of(whole, params.get("version"))
    detail = found.detail()
    if whole.by_version:
        detail["versions"] = whole.summary()["versions"]
    return JSONResponse(detail, headers={"ETag": f'"{found.policy.digest}"'})


async def get_source(request: Request) -> Response:
    params = query(request, {"version": None})
    found = version_of(served(request), params.get("version"))
    return Response(found.source, media_type="application/yaml",
                    headers={"ETag": f'"{found.policy.digest}"'})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "pid": os.getpid()})


async def readyz(request: Request) -> Response:
    svc = service(request)
    policies = _policies(svc)
    if svc.log_problem is not None:
        raise unlogged(svc.log_problem)
    return JSONResponse({"status": "ready", "pid": os.getpid(), "digest": policies.digest,
                         "policies": len(policies.by_id)})


async def metrics(request: Request) -> Response:
    body, content_type = service(request).metrics.exposition()
    return Response(body, headers={"Content-Type": content_type})


async def openapi(request: Request) -> Response:
    svc = service(request)
    ids = list(svc.policies.by_id) if svc.policies else []
    return JSONResponse(build(ids, max_batch_items=svc.config.max_batch_items,
                              echo=svc.config.echo))


async def echo(request: Request) -> Response:
    """Parse a JSON body and return it: the HTTP floor the benchmark compares against."""
    media_type(request, JSON)
    body = await read_body(request, service(request).config.max_body)
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ProblemError(400, [http_diagnostic("json_syntax", f"invalid JSON: {exc}",
                                                 SOURCE)]) from None
    return Response(json.dumps(data, ensure_ascii=False), media_type="application/json")


async def reload(request: Request) -> Response:
    """POST /v1/admin/reload: recompile; a set with any error is rejected and changes nothing."""
    svc = service(request)
    if svc.token is None:
        raise ProblemError(404, [http_diagnostic(
            "admin_disabled", "admin endpoints are disabled", "path",
            "start the service with --admin-token-file")])
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    given = credentials.strip().encode("latin-1", "replace")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given, svc.token):
        raise ProblemError(401, [http_diagnostic(
            "unauthorized", "a valid bearer token is required", "Authorization",
            "send `Authorization: Bearer <the token in --admin-token-file>`")],
            headers={"WWW-Authenticate": 'Bearer realm="ticket-policy admin"'})
    result = await svc.reload()
    if not result.accepted:
        raise ProblemError(422, result.diagnostics,
                           title="the policy set was rejected; the previous one keeps serving")
    return JSONResponse({"status": "reloaded", "digest": result.policies.digest,
                         "changed": list(result.changed),
                         "policies": result.policies.summaries(),
                         "warnings": [d.to_json() for d in result.diagnostics],
                         "workers_signalled": svc.signal_workers()})
