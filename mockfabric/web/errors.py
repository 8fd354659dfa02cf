"""Every failure rendered as the service renders it: `{"error_code", "error_msg"}` JSON with the right status."""

from __future__ import annotations

import logging
from typing import cast

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from ..errors import ApiError, BodyTooLarge, GatewayError, InjectedError, InternalError, RouteNotFound
from ..errors import MethodNotAllowed as MethodNotAllowedError
from ..streaming import handover_of, hold

log = logging.getLogger("mockfabric")
OPTIONS_ENDPOINT = "OPTIONS "  # the endpoint names of the public paths' OPTIONS routes (app._options_routes)
MAX_BODY = 12 * 1024 * 1024  # AK/SK-signed requests are limited to 12 MB (DOC)


def json_error(error: ApiError) -> Response:
    response = Response(error.payload(), error.status, mimetype="application/json")
    response.headers.update(error.headers)
    return response


def render_http_error(error: HTTPException, request_id: str | None) -> Response:
    """Werkzeug's own refusals (no route, method not allowed, body too large, ...) as the service's error bodies;
    `request_id` is the one the front gave this request, which the gateway's errors carry."""
    if isinstance(error, NotFound):
        return json_error(_with_request_id(RouteNotFound(f"no route for {request.method} {request.path}"), request_id))
    if isinstance(error, MethodNotAllowed):
        allowed = _allowed(error)
        message = f"method {request.method} is not allowed on {request.path}; allowed: {allowed}"
        return json_error(MethodNotAllowedError(message, headers={"Allow": allowed}))
    if isinstance(error, RequestEntityTooLarge):
        return json_error(_with_request_id(BodyTooLarge(f"request body exceeds {MAX_BODY} bytes"), request_id))
    generic = ApiError(f"{error.name}: {error.description}")
    generic.status = error.code or 400  # type: ignore[misc]
    return json_error(generic)


def _allowed(error: MethodNotAllowed) -> str:
    """The methods of the path the URL names most specifically (what its OPTIONS answers: `/jobs/runs`, not also
    `/jobs/{job_id}`); werkzeug's union of every matching rule where no OPTIONS route of the contract's is found."""
    try:
        endpoint, values = current_app.url_map.bind_to_environ(request.environ).match(method="OPTIONS")
    except HTTPException:
        endpoint, values = None, {}
    if isinstance(endpoint, str) and endpoint.startswith(OPTIONS_ENDPOINT):
        answer = cast(Response, current_app.view_functions[endpoint](**values))
        return str(answer.headers["Allow"])
    return ", ".join(sorted(error.valid_methods or []))


def render_api_error(error: ApiError, request_id: str | None) -> Response:
    """An ApiError raised while serving this request, as its answer (an injected one after its latency, if any)."""
    if isinstance(error, InjectedError) and error.latency_ms:
        hold(handover_of(request.environ), error.latency_ms / 1000)
    return json_error(_with_request_id(error, request_id))


def _with_request_id(error: ApiError, request_id: str | None) -> ApiError:
    """A gateway error's body carries the request id the front gave this request (its X-Request-Id)."""
    if isinstance(error, GatewayError):
        error.request_id = request_id
    return error


def render_unexpected(error: Exception, request_id: str | None) -> Response:
    """Anything else: logged, and answered 500 (the request id is on the answer's X-Request-Id already)."""
    log.exception("unexpected error serving %s %s", request.method, request.path)
    return json_error(InternalError(f"internal error: {type(error).__name__}"))
