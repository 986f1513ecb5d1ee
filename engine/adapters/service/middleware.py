"""The outermost layer of every request: its id, the request timeout, metrics and the one
structured access-log line."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from engine.adapters.service.logs import ACCESS, EVENTS, log
from engine.adapters.service.problems import http_diagnostic, problem_response

SCOPE_KEY = "ticket_policy"
_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestContext:
    """What an endpoint tells the access log: the policy and digest it used."""

    __slots__ = ("request_id", "policy", "digest", "reading", "started")

    def __init__(self, request_id: str):
        self.request_id = request_id
        self.policy: str | None = None
        self.digest: str | None = None
        self.reading = False        # the body is being received (a timeout then is 408)
        self.started = False        # the response has started


def context(scope) -> RequestContext:
    return scope[SCOPE_KEY]


def _request_id(scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class ServiceMiddleware:
    """Wraps the Starlette app (pure ASGI, so every response is seen, errors included)."""

    def __init__(self, app, service):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        ctx = RequestContext(_request_id(scope))
        scope[SCOPE_KEY] = ctx
        rid_header = (b"x-request-id", ctx.request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                ctx.started = True
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            async with asyncio.timeout(self.service.config.request_timeout):
                await self.app(scope, receive, send_with_id)
        except TimeoutError:
            if not ctx.started:
                await self._timeout(scope, ctx, send_with_id)
        except Exception:  # noqa: BLE001 - answered by Starlette's handler; logged once here
            EVENTS.exception("unhandled error", extra={"fields": {
                "request_id": ctx.request_id}})
            if not ctx.started:
                await problem_response(500, [http_diagnostic(
                    "internal_error", "the service failed to answer", hint="see the service's "
                    "log for this request id")], instance=scope["path"],
                    request_id=ctx.request_id)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            route_path = getattr(route, "path", "other")
            self.service.metrics.request(scope["method"], route_path, status, elapsed)
            log(ACCESS, "request", logging.INFO, request_id=ctx.request_id,
                method=scope["method"], path=scope["path"], route=route_path, status=status,
                latency_ms=round(elapsed * 1000, 3), policy=ctx.policy, digest=ctx.digest)

    async def _timeout(self, scope, ctx: RequestContext, send) -> None:
        seconds = self.service.config.request_timeout
        if ctx.reading:
            status, diag = 408, http_diagnostic(
                "request_timeout", f"the request body did not arrive within {seconds:g} s")
        else:
            status, diag = 503, http_diagnostic(
                "request_timeout", f"the request was not answered within {seconds:g} s",
                hint="send smaller batches")
        response = problem_response(status, [diag], instance=scope["path"],
                                    request_id=ctx.request_id, headers={"Connection": "close"})
        await response(scope, _no_body, send)


async def _no_body():
    return {"type": "http.disconnect"}
