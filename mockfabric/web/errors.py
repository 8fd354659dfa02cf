"""Every failure rendered as the service renders it: `{"error_code", "error_msg"}` JSON with the right status."""

from __future__ import annotations

import logging

from flask import Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from ..errors import ApiError, BodyTooLarge, InternalError, RouteNotFound
from ..errors import MethodNotAllowed as MethodNotAllowedError

log = logging.getLogger("mockfabric")
MAX_BODY = 12 * 1024 * 1024  # AK/SK-signed requests are limited to 12 MB (DOC)


def json_error(error: ApiError) -> Response:
    response = Response(error.payload(), error.status, mimetype="application/json")
    response.headers.update(error.headers)
    return response


def render_http_error(error: HTTPException) -> Response:
    if isinstance(error, NotFound):
        return json_error(RouteNotFound(f"response status exception, code: 404; no route for {request.method} {request.path}"))
    if isinstance(error, MethodNotAllowed):
        allowed = ", ".join(sorted(error.valid_methods or []))
        message = f"method {request.method} is not allowed on {request.path}; allowed: {allowed}"
        return json_error(MethodNotAllowedError(message, headers={"Allow": allowed}))
    if isinstance(error, RequestEntityTooLarge):
        return json_error(BodyTooLarge(f"request body exceeds {MAX_BODY} bytes"))
    generic = ApiError(f"{error.name}: {error.description}")
    generic.status = error.code or 400  # type: ignore[misc]
    return json_error(generic)


def render_unexpected(error: Exception) -> Response:
    log.exception("unexpected error serving %s %s", request.method, request.path)
    return json_error(InternalError(f"internal error: {type(error).__name__}"))
