"""The ASGI application factory: `create_app(config)` for hosts and tests,
`create_app_from_env()` for the uvicorn workers `ticket-policy serve` starts."""

from __future__ import annotations

import contextlib
import signal
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from engine.adapters.service import routes
from engine.adapters.service.config import ServiceConfig
from engine.adapters.service.middleware import ServiceMiddleware, context
from engine.adapters.service.problems import ProblemError, http_diagnostic, problem_response
from engine.adapters.service.service import Service
from engine.ops.log import DecisionLog


def _routes(config: ServiceConfig) -> list:
    table = [
        Route("/v1/policies/{id}/decisions", routes.decide, methods=["POST"]),
        Route("/v1/policies/{id}/decisions:batch", routes.decide_batch, methods=["POST"]),
        Route("/v1/policies/{id}/why-not/{rule}", routes.why_not, methods=["POST"]),
        Route("/v1/policies", routes.list_policies, methods=["GET"]),
        Route("/v1/policies/{id}", routes.get_policy, methods=["GET"]),
        Route("/v1/policies/{id}/source", routes.get_source, methods=["GET"]),
        Route("/v1/openapi.json", routes.openapi, methods=["GET"]),
        Route("/v1/admin/reload", routes.reload, methods=["POST"]),
        Route("/healthz", routes.healthz, methods=["GET"]),
        Route("/readyz", routes.readyz, methods=["GET"]),
        Route("/metrics", routes.metrics, methods=["GET"]),
    ]
    if config.echo:
        table.append(Route("/v1/echo", routes.echo, methods=["POST"]))
    from engine.adapters.ui import mount  # the web UI (README, "Web UI")

    return table + mount()


def _rid(request: Request) -> str | None:
    ctx = request.scope.get("ticket_policy")
    return ctx.request_id if ctx is not None else None


async def _problem(request: Request, exc: ProblemError):
    return problem_response(exc.status, exc.diagnostics, instance=request.url.path,
                            request_id=_rid(request), title=exc.title, headers=exc.headers)


async def _http(request: Request, exc: HTTPException):
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        diag = http_diagnostic("method_not_allowed",
                               f"`{request.method}` is not allowed on `{request.url.path}`",
                               "method", f"allowed: {allowed}" if allowed else None)
    elif exc.status_code == 404:
        diag = http_diagnostic("not_found", f"no endpoint `{request.url.path}`", "path",
                               "see GET /v1/openapi.json")
    else:
        diag = http_diagnostic("bad_request", str(exc.detail), "request")
    return problem_response(exc.status_code, [diag], instance=request.url.path,
                            request_id=_rid(request), headers=dict(exc.headers or {}))


async def _gone(request: Request, exc: ClientDisconnect):
    """The client went away while sending its body: nobody to answer (logged as 499)."""
    return Response(status_code=499)


async def _internal(request: Request, exc: Exception):
    return problem_response(500, [http_diagnostic(
        "internal_error", "the service failed to answer",
        hint=f"see the service's log for request `{_rid(request)}`")],
        instance=request.url.path, request_id=_rid(request))


def create_app(config: ServiceConfig | None = None, *, service: Service | None = None,
               log: DecisionLog | None = None):
    """The service as an ASGI app; `app.service` is its state. Served by uvicorn, it compiles
    its policies at start-up (lifespan); hosted without a lifespan, call `app.service.load()`
    first (until then it answers 503).

    `log`: the decision log every decision is written to before it is answered (the caller
    keeps and closes it); else `config.log` is opened here (one writer connection in each
    worker process) and closed at shutdown. Routes read it as `request.app.state.log`
    (None without a log), the service as `request.app.state.service`."""
    config = config or ServiceConfig()
    svc = service or Service(config, log=log)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    handlers: dict[Any, Any] = {ProblemError: _problem, HTTPException: _http,
                                ClientDisconnect: _gone, Exception: _internal}
    inner = Starlette(routes=_routes(config), lifespan=lifespan, exception_handlers=handlers)
    inner.state.service = svc
    inner.state.log = svc.log
    outer = ServiceMiddleware(inner, svc)
    outer.service = svc
    return outer


def create_app_from_env():
    """The app of one `ticket-policy serve` worker (its configuration in the environment)."""
    config = ServiceConfig.from_env()
    if config.handle_signals:  # until the lifespan installs the reload handler: not fatal
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return create_app(config)


__all__ = ["context", "create_app", "create_app_from_env"]
