"""Errors as problem details (RFC 9457, `application/problem+json`) carrying our diagnostics."""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.responses import Response

from engine.core.diagnostics import Diagnostic, Location

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://ticket-policy.dev/problems/"

#: status -> (type slug, title); docs/service.md lists them
KINDS = {
    400: ("bad-request", "the request cannot be read"),
    401: ("unauthorized", "a valid bearer token is required"),
    404: ("not-found", "no such resource"),
    405: ("method-not-allowed", "method not allowed"),
    408: ("request-timeout", "the request body did not arrive in time"),
    413: ("too-large", "the request body is too large"),
    415: ("unsupported-media-type", "unsupported content type"),
    422: ("invalid-ticket", "the ticket violates the fact schema"),
    500: ("policy-failed", "the policy failed to decide"),
    503: ("unavailable", "the service cannot answer now"),
}
#: diagnostics that make an unusable request (400) rather than an invalid ticket (422)
REQUEST_CODES = frozenset({"file_unreadable", "bad_now", "bad_query", "unknown_mapping",
                           "mapping_unavailable", "batch_not_array"})


class ProblemError(Exception):
    """Raised by an endpoint: answered as a problem with `status` and the diagnostics."""

    def __init__(self, status: int, diagnostics: Iterable[Diagnostic], *, title: str | None = None,
                 headers: dict | None = None):
        self.status = status
        self.diagnostics = tuple(diagnostics)
        self.title = title
        self.headers = headers or {}
        super().__init__(f"{status}: {[d.code for d in self.diagnostics]}")


def http_diagnostic(code: str, message: str, where: str | None = None,
                    hint: str | None = None) -> Diagnostic:
    """A diagnostic about the request itself (`where`: a header, parameter or path)."""
    return Diagnostic(code, message, location=Location(file=where), hint=hint)


def problem_body(status: int, diagnostics: Iterable[Diagnostic], *, instance: str,
                 request_id: str | None, title: str | None = None) -> dict:
    diags = sorted(diagnostics, key=Diagnostic.sort_key)
    slug, default_title = KINDS.get(status, ("error", "error"))
    detail = diags[0].message if diags else default_title
    if len(diags) > 1:
        detail += f" (and {len(diags) - 1} more problem{'s' if len(diags) > 2 else ''})"
    body = {"type": TYPE_BASE + slug, "title": title or default_title, "status": status,
            "detail": detail, "instance": instance,
            "diagnostics": [d.to_json() for d in diags]}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def problem_response(status: int, diagnostics: Iterable[Diagnostic], *, instance: str,
                     request_id: str | None, title: str | None = None,
                     headers: dict | None = None) -> Response:
    body = problem_body(status, diagnostics, instance=instance, request_id=request_id,
                        title=title)
    return Response(json.dumps(body, ensure_ascii=False), status_code=status,
                    media_type=MEDIA_TYPE, headers=headers)


def input_status(diagnostics: Iterable[Diagnostic]) -> int:
    """400 when the request is unusable (unreadable JSON, a bad parameter), else 422."""
    codes = {d.code for d in diagnostics}
    if any(c in REQUEST_CODES or c.startswith("json_") for c in codes):
        return 400
    return 422
