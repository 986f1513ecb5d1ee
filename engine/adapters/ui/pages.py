"""The /ui pages: each reads the service's state (its policy set, its evaluator, the decision log
if it has one), calls one `engine.app` use case or log reader, and renders a template.

Read-only, except "try a ticket", which decides a ticket and writes it to the decision log only
when the operator enabled that (`serve --ui-log-tries`)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from engine import app
from engine.adapters.ui import forms, logview, views
from engine.compile.compiler import CompiledPolicy
from engine.core.diagnostics import Diagnostic

#: Scripts and styles from this app only; nothing inline, no framing, forms post here only.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
#: The impact diff report is one self-contained page with an inline style sheet, and no script.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " \
             "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# `same-origin` referrers: with `no-referrer` a browser sends `Origin: null` on the UI's own form
# posts, and those are told from other sites' by their origin (`_cross_site`).
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
           "Cache-Control": "no-store"}
MAX_FORM = 1 << 20

ENV = Environment(loader=PackageLoader("engine.adapters.ui", "templates"),
                  autoescape=select_autoescape(default=True, default_for_string=True),
                  trim_blocks=True, lstrip_blocks=True, auto_reload=False)  # packaged: no stat

ENV.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)  # text, then escaped


def _service(request: Request):
    return request.app.state.service


def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    svc = _service(request)
    policies = svc.policies.by_id if svc.policies is not None else {}
    html = ENV.get_template(template).render(
        policies=list(policies.values()), has_log=logview.log_path(request) is not None,
        path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _problem(request: Request, status: int, message: str, hint: str = "") -> HTMLResponse:
    return page(request, "problem.html", status, message=message, hint=hint)


# --------------------------------------------------------------------------- policies


_versions_cache: dict[str, dict[str, CompiledPolicy]] = {}


def versions(served) -> dict[str, CompiledPolicy]:
    """The versions of a served policy: the effective-dated ones it is served with, else its
    folder's when it has `versions/`, else the one served (cached per served digest)."""
    if served.by_version:
        return {v: s.policy for v, s in served.by_version.items()}
    key = served.policy.digest
    if key not in _versions_cache:
        found = {served.policy.version: served.policy}
        folder = served.path.parent
        folder = folder.parent if folder.name == "versions" else folder
        if (folder / "versions").is_dir():
            pv, _ = app.policy_versions(str(folder))
            if pv is not None:
                found = {cp.version: cp for cp in pv.versions}
        if len(_versions_cache) > 64:
            _versions_cache.clear()
        _versions_cache[key] = found
    return _versions_cache[key]


def _chosen(request: Request, pid: str | None, version: str | None):
    """(served, versions, compiled policy) for a policy id and version (None: the served)."""
    svc = _service(request)
    by_id = svc.policies.by_id if svc.policies is not None else {}
    served = by_id.get(pid) if pid else next(iter(by_id.values()), None)
    if served is None:
        return None, {}, None
    found = versions(served)
    return served, found, found.get(version or "") or served.policy


def _no_policy(request: Request, pid: str | None) -> HTMLResponse:
    if _service(request).policies is None:
        return _problem(request, 503, "no policy is loaded yet", "retry shortly")
    return _problem(request, 404, f"no policy `{pid}` is served here",
                    "choose one of the policies in the menu")


async def index(request: Request) -> Response:
    return page(request, "index.html")


async def policy(request: Request) -> Response:
    pid = request.path_params["id"]
    svc = _service(request)
    if svc.policies is None or pid not in svc.policies.by_id:
        return _problem(request, 404, f"no policy `{pid}` is served here",
                        "see the list of policies on the start page")
    served, found, cp = _chosen(request, pid, request.query_params.get("version"))
    return page(request, "policy.html", view=views.policy_view(cp), versions=list(found),
                source=served.path.name)


async def policy_diff(request: Request) -> Response:
    pid = request.path_params["id"]
    served, found, _ = _chosen(request, pid, None)
    old, new = request.query_params.get("old"), request.query_params.get("new")
    if served is None or served.id != pid or old not in found or new not in found:
        return _problem(request, 404, f"no versions `{old}` and `{new}` of policy `{pid}`",
                        "open the policy page and follow its diff link")
    from engine.ops.diff.render import render as render_diff

    result = app.diff(found[old].policy.file, found[new].policy.file)  # type: ignore[index]
    if result.diff is None:
        return _problem(request, 422, "; ".join(d.message for d in result.diagnostics))
    return HTMLResponse(render_diff(result.diff, "html"), headers={
        **HEADERS, "Content-Security-Policy": REPORT_CSP})


# --------------------------------------------------------------------------- try a ticket


def _example(cp: CompiledPolicy) -> dict:
    """A ticket to start from: submitted now (the form's required fields)."""
    return {"id": "UI-1", "submitted_at": datetime.now().astimezone().isoformat(
        timespec="seconds")}


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise ValueError("the form is larger than 1 MiB")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


async def try_ticket(request: Request) -> Response:
    if request.method == "GET":
        q = request.query_params
        served, found, cp = _chosen(request, q.get("policy"), q.get("version"))
        if cp is None:
            return _no_policy(request, q.get("policy"))
        ticket = _example(cp)
        return page(request, "try.html", served=served, versions=list(found), cp=cp,
                    fields=forms.fields(cp, ticket), ticket_json=json.dumps(ticket, indent=2),
                    events="", now="", mode="form", result=None)
    if _cross_site(request):
        return _problem(request, 403, "a form of another site cannot post here")
    try:
        form = await _form(request)
    except ValueError as exc:
        return _problem(request, 413, str(exc))
    served, found, cp = _chosen(request, form.get("policy"), form.get("version"))
    if cp is None:
        return _no_policy(request, form.get("policy"))
    mode = "json" if form.get("mode") == "json" else "form"
    problems: list[str] = []
    if mode == "json":
        text = form.get("json", "")
        try:
            parsed = json.loads(text)
            ticket = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            ticket = {}
    else:
        ticket, why = forms.with_events(forms.ticket_from_form(cp, form), form.get("events", ""))
        problems += [why] if why else []
        text = json.dumps(ticket, ensure_ascii=False)
    context = dict(served=served, versions=list(found), cp=cp,
                   fields=forms.fields(cp, ticket),
                   ticket_json=json.dumps(ticket, indent=2, ensure_ascii=False)
                   if ticket or mode == "form" else text,
                   events=form.get("events", ""), now=form.get("now", ""), mode=mode)
    if problems:
        return page(request, "try.html", 422, result=None, problems=problems, **context)
    return page(request, "try.html", **context, **_decide(request, cp, text,
                                                           form.get("now") or None))


def _decide(request: Request, cp: CompiledPolicy, text: str, now: str | None) -> dict:
    svc = _service(request)
    log = logview.writable_log(request) if getattr(svc.config, "ui_log_tries", False) else None
    result = app.decide(cp, text, source_name="<form>", now_text=now, evaluator=svc.evaluator,
                        log=log)
    if not result.ok:
        return {"result": None, "diagnostics": [_diag(d) for d in result.diagnostics]}
    d = result.decision
    assert d is not None
    return {"result": {
        "summary": views.summary(d), "steps": views.steps(d, cp),
        "why_not": views.why_nots(cp, d, result.values), "clocks": views.pictures(d, cp),
        "timeline": views.timeline(d), "logged": result.receipt is not None,
        "receipt": getattr(result.receipt, "decision_id", None),
        "json": app.decision_text(d)},
        "diagnostics": [_diag(x) for x in result.diagnostics]}


def _diag(d: Diagnostic) -> dict:
    loc = d.location
    where = ":".join(str(x) for x in (loc.file, loc.line, loc.column) if x is not None)
    return {"code": d.code, "severity": d.severity, "message": d.message, "where": where,
            "pointer": loc.pointer or "", "hint": d.hint or ""}


# --------------------------------------------------------------------------- the decision log


async def log_search(request: Request) -> Response:
    path = logview.log_path(request)
    if path is None:
        return _problem(request, 404, "this service keeps no decision log",
                        "start it with `ticket-policy serve --log decisions.db`")
    filters = {k: v.strip() for k, v in request.query_params.items()
               if k in logview.FILTERS and v.strip()}
    try:
        records, more, total = await asyncio.to_thread(logview.search, path, filters)
    except ValueError as exc:
        return page(request, "log.html", 400, filters=filters, records=[], total=None,
                    more=False, error=str(exc), sla_statuses=logview.SLA_STATUSES)
    return page(request, "log.html", filters=filters, records=records, total=total, more=more,
                error="", sla_statuses=logview.SLA_STATUSES)


async def log_record(request: Request) -> Response:
    """A record; POST `action=replay` re-decides it, `action=verify` checks the whole hash
    chain (both read only)."""
    path = logview.log_path(request)
    ident = request.path_params["ident"]
    if path is None:
        return _problem(request, 404, "this service keeps no decision log")
    action = ""
    if request.method == "POST":
        if _cross_site(request):
            return _problem(request, 403, "a form of another site cannot post here")
        action = (await _form(request)).get("action", "")
    rec = logview.get(path, ident)
    if rec is None:
        return _problem(request, 404, f"no record `{ident}` in the decision log",
                        "search the log for its ticket")
    replayed = None
    if action == "replay":
        replayed = logview.replay_one(path, rec, _service(request).evaluator)
    chain = await asyncio.to_thread(logview.chain, path, rec, action == "verify")
    decision = rec.decision()
    svc = _service(request)
    served = svc.policies.by_id.get(decision.policy_id) if svc.policies else None
    cp = served.policy if served is not None and served.policy.digest == \
        decision.policy_digest else None
    return page(request, "record.html", rec=rec, record=logview.record_view(rec),
                summary=views.summary(decision), steps=views.steps(decision, cp),
                clocks=views.pictures(decision, cp or logview.policy_of(path, rec)),
                timeline=views.timeline(decision), chain=chain, replayed=replayed)


def _cross_site(request: Request) -> bool:
    """A POST sent by another site's page (the browser says so): refused, since "try a ticket"
    may write to the log."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc != request.headers.get("host")


async def root(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=307)
