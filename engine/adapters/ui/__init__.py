"""The web UI for reviewers and authors, mounted at /ui by the service (`ticket-policy serve`):
try a ticket, read its story, see its SLA clocks, browse the decision log, read a policy.

Server-rendered (Jinja2, autoescaped), with its own small script and style sheet served from
/ui/static: no CDN, no build step, works offline (README: "Web UI for reviewers and authors")."""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles


def mount() -> list:
    """The routes the service adds: `/ui` (a redirect) and the pages under `/ui/`."""
    from engine.adapters.ui import pages

    return [Route("/ui", pages.root, methods=["GET"]), Mount("/ui", routes=[
        Route("/", pages.index, methods=["GET"]),
        Route("/try", pages.try_ticket, methods=["GET", "POST"]),
        Route("/policies/{id}", pages.policy, methods=["GET"]),
        Route("/policies/{id}/diff", pages.policy_diff, methods=["GET"]),
        Route("/log", pages.log_search, methods=["GET"]),
        Route("/log/{ident}", pages.log_record, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(packages=[("engine.adapters.ui", "static")]),
              name="static"),
    ])]


__all__ = ["mount"]
