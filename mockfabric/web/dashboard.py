"""The dashboard's routes (`/_mockfabric/ui/…`, and `/` for a browser): who may look, and which page answers.

What must hold: the pages are under the control prefix, so the guard's Host and Origin rules apply to them; with a
control token set a page is shown only to a caller presenting it (header, or the cookie the token form sets), and
its buttons send it with the control call they make; under `--auth strict` without a control token the dashboard is
closed (it shows every tenant). Pages only read, except that reading settles what is due, as any read does.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, request
from werkzeug.exceptions import NotFound

from ..config import CONTROL_TOKEN_HEADER
from ..dashboard import pages, views
from ..errors import MalformedRequest, ValidationFailed
from ..fixture.controls import Controls
from ..service.core import Service
from ..testing.html_report import render_report
from ..testing.reports import checked_report
from ..text import decode_json
from .front import request_body

TOKEN_COOKIE = "mockfabric-control-token"
HTML = "text/html; charset=utf-8"


def register(app: Flask, service: Service, controls: Controls, control_token: str | None, strict: bool) -> None:
    """Add the dashboard's routes to `app`."""

    def page(title: str, content: str, status: int = 200) -> Response:
        body = pages.layout(title, views.clock_view(service.clock), content)
        response = Response(body.encode("utf-8"), status, content_type=HTML)
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        return _private(response)

    def refusal() -> Response | None:
        if control_token is None:
            return (
                page("Closed", "<p class=bad>Under --auth strict the dashboard needs a control token (--control-token).</p>", 403)
                if strict
                else None
            )
        # the token form's script stores the token URL-encoded (encodeURIComponent), as cookies must hold it
        given = request.headers.get(CONTROL_TOKEN_HEADER) or unquote(request.cookies.get(TOKEN_COOKIE) or "")
        if hmac.compare_digest(given.encode(), control_token.encode()):
            return None
        return page("Control token", pages.token_form("this page needs the emulator's control token"), 401)

    def guarded(title: str, draw: Any) -> Any:
        def view(**arguments: Any) -> Response:
            refused = refusal()
            if refused is not None:
                return refused
            drawn = draw(**arguments)
            return drawn if isinstance(drawn, Response) else page(title, drawn)

        view.__name__ = f"dashboard_{title.lower().replace(' ', '_')}"
        return view

    def overview() -> str:
        journal_total = controls.journal.count()
        tenants = views.paged(views.tenants(service), _number("page"))
        return pages.overview(tenants, journal_total, len(controls.fixtures.items), controls.faults.count())

    def resources() -> str:
        tenant, workspace = request.args.get("tenant") or None, request.args.get("workspace") or None
        return pages.resources(views.resources(service, tenant, request.args.get("q", "")[:200], _number("page"), workspace))

    def journal() -> str:
        tenant = request.args.get("tenant") or None
        before = _number("before") or None
        path = request.args.get("path", "")[:200] or None
        entries, older = views.journal_page(controls, tenant, before, path)
        return pages.journal(entries, tenant, older, path, before)

    def entry(seq: int) -> str | Response:
        found = views.journal_entry(controls, seq)
        if found is None:
            return page("Not in the journal", f"<p>request {seq} is not (or no longer) in the journal</p>", 404)
        return pages.journal_entry(found)

    def fixtures() -> str:
        return pages.fixtures(views.fixtures_view(controls, _number("page"), _number("faults_page")))

    app.add_url_rule(pages.UI + "/", "dashboard", guarded("Overview", overview), methods=["GET"])
    app.add_url_rule(pages.UI + "/resources", "dashboard_resources", guarded("Resources", resources), methods=["GET"])
    app.add_url_rule(pages.UI + "/journal", "dashboard_journal", guarded("Journal", journal), methods=["GET"])
    app.add_url_rule(pages.UI + "/journal/<int:seq>", "dashboard_entry", guarded("Request", entry), methods=["GET"])
    app.add_url_rule(pages.UI + "/fixtures", "dashboard_fixtures", guarded("Fixtures and faults", fixtures), methods=["GET"])
    app.add_url_rule(pages.UI + "/drift", "dashboard_drift", guarded("Drift", pages.drift), methods=["GET"])
    app.add_url_rule(pages.UI + "/drift", "dashboard_drift_report", guarded("Drift report", _drift_report), methods=["POST"])
    app.add_url_rule("/", "root", _root, methods=["GET"])


def _number(name: str) -> int:
    """A page number from the query: ASCII digits (`str.isdigit` also takes '²', which int() refuses), else 0."""
    text = request.args.get(name, "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0


def _drift_report() -> Response:
    """A drift report sent as JSON, rendered as verify's HTML report page (shown by the drift page in a sandboxed
    frame); a body that is not one is a 400 saying why."""
    try:
        data = decode_json(request_body(request.environ).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedRequest("the body is not a JSON drift report (mockfabric verify --report FILE.json writes one)") from None
    try:
        report = checked_report(data, "the body")
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    response = Response(render_report(report).encode("utf-8"), 200, content_type=HTML)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
    return _private(response)


def _private(response: Response) -> Response:
    """What every dashboard page is: not to be kept by a cache, sniffed as another type, or named to other sites."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _root() -> Response:
    """A browser at `/` finds the dashboard; an API client gets the gateway's 404, as from the service."""
    if "text/html" not in request.headers.get("Accept", ""):
        raise NotFound()
    link = f'<a href="{pages.UI}/">the dashboard</a>'
    return Response(f"<!doctype html><title>mockfabric</title><p>mockfabric emulator: {link}</p>".encode(), 200, content_type=HTML)
