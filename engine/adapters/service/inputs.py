"""What every endpoint checks first: the policy named in the path, the query parameters, the
content type, and the body (read up to a limit)."""

from __future__ import annotations

from starlette.requests import Request

from engine.adapters.service.middleware import context
from engine.adapters.service.policyset import Served
from engine.adapters.service.problems import ProblemError, http_diagnostic
from engine.core.diagnostics import did_you_mean

JSON = frozenset({"application/json"})
NDJSON = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines"})


def service(request: Request):
    return request.app.state.service


def served(request: Request) -> Served:
    """The policy `{id}` of the path: 503 while none is loaded, 404 for an unknown id."""
    svc = service(request)
    policies = svc.policies
    if policies is None:
        raise not_ready(svc)
    pid = request.path_params["id"]
    found = policies.by_id.get(pid)
    if found is None:
        raise ProblemError(404, [http_diagnostic(
            "unknown_policy", f"no policy `{pid}` is served here", "path",
            did_you_mean(pid, policies.by_id) or f"served: {', '.join(policies.by_id)}")])
    ctx = context(request.scope)
    ctx.policy, ctx.digest = found.id, found.policy.digest
    return found


def version_of(found: Served, name: str | None) -> Served:
    """The version `?version=` names (None: the latest), 404 for one the policy lacks."""
    chosen = found.version(name)
    if chosen is None:
        known = found.known_versions()
        raise ProblemError(404, [http_diagnostic(
            "unknown_version", f"policy `{found.id}` has no version `{name}`", "?version",
            "; ".join(filter(None, [did_you_mean(name or "", known),
                                    f"versions: {', '.join(known)}"])))])
    return chosen


def not_ready(svc) -> ProblemError:
    problems = svc.problems or (http_diagnostic(
        "not_ready", "the policies are still being compiled", hint="retry shortly; "
        "GET /readyz says when the service is ready"),)
    return ProblemError(503, problems, title="the service is not ready",
                        headers={"Retry-After": "1"})


def query(request: Request, allowed: dict[str, tuple[str, ...] | None]) -> dict[str, str]:
    """The query parameters, each given at most once, none unknown, values in `allowed`."""
    params = request.query_params
    problems = []
    for key in dict.fromkeys(params.keys()):
        if key not in allowed:
            problems.append(http_diagnostic(
                "bad_query", f"unknown query parameter `{key}`", f"?{key}",
                did_you_mean(key, allowed) or
                (f"parameters: {', '.join(allowed)}" if allowed else "this takes none")))
        elif len(params.getlist(key)) > 1:
            problems.append(http_diagnostic("bad_query", f"`{key}` is given more than once",
                                            f"?{key}"))
        elif (choices := allowed[key]) and params[key] not in choices:
            problems.append(http_diagnostic(
                "bad_query", f"`{key}` must be one of {', '.join(choices)}, not `{params[key]}`",
                f"?{key}", did_you_mean(params[key], choices)))
    if problems:
        raise ProblemError(400, problems)
    return {k: params[k] for k in allowed if k in params}


def media_type(request: Request, allowed: frozenset[str]) -> str:
    """The body's media type if it is one of `allowed` (UTF-8 only), else 415."""
    raw = request.headers.get("content-type")
    expected = " or ".join(f"`{t}`" for t in sorted(allowed))
    if raw is None:
        raise ProblemError(415, [http_diagnostic(
            "unsupported_media_type", "the request has no Content-Type", "Content-Type",
            f"send {expected}")])
    main, *params = raw.split(";")
    kind = main.strip().lower()
    charset = next((p.split("=", 1)[1].strip().strip('"').lower() for p in params
                    if p.strip().lower().startswith("charset=")), "utf-8")
    if kind not in allowed or charset not in ("utf-8", "utf8"):
        raise ProblemError(415, [http_diagnostic(
            "unsupported_media_type", f"content type `{raw.strip()}` is not accepted here",
            "Content-Type", f"send {expected} (UTF-8)")])
    return kind


async def read_body(request: Request, limit: int) -> bytes:
    """The body, at most `limit` bytes (413 beyond; checked before reading when the length is
    declared)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(f"the body declares {int(declared)} bytes", limit)
    ctx = context(request.scope)
    ctx.reading = True
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large("the body is longer", limit)
        chunks.append(chunk)
    ctx.reading = False
    return b"".join(chunks)


def too_large(what: str, limit: int) -> ProblemError:
    return ProblemError(413, [http_diagnostic(
        "body_too_large", f"{what}: at most {limit} bytes are accepted here", "Content-Length",
        "split a batch into smaller ones")], headers={"Connection": "close"})
