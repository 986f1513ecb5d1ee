"""The decision service: `ticket-policy serve`, an HTTP API over `engine.app` (Starlette,
served by uvicorn). See docs/service.md.

Modules: app (the ASGI factory), routes (endpoints), batch, inputs (path, query, content type,
body limits), problems (RFC 9457), middleware (request id, timeout, access log, metrics),
service (a worker's state and reloads), policyset, openapi, metrics, logs, config, server (the
uvicorn supervisor).
"""

from engine.adapters.service.app import create_app
from engine.adapters.service.config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
