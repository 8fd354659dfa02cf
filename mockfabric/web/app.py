"""create_app: the Flask application serving both planes of the contract on one base URL."""

from __future__ import annotations

import hmac
import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from .. import contracts
from ..clock import Clock, ControllableClock
from ..config import Settings
from ..domain import catalog, endpoints, instances, models, workspaces
from ..domain.catalog import build_catalog, read_catalog
from ..domain.fabric import Call, Caller, Fabric
from ..domain.lifecycle import Lifecycle, machines_from_contract
from ..domain.store import Store
from ..errors import ApiError, BodyTooLarge, InternalError, RouteNotFound, ServiceUnavailable, Unauthorized
from ..errors import MethodNotAllowed as MethodNotAllowedError
from ..ids import IdFactory
from . import control
from .auth import identify
from .parsing import parse_call

log = logging.getLogger("mockfabric")
CONTROL_TOKEN_HEADER = "X-Mockfabric-Control-Token"
MAX_BODY = 12 * 1024 * 1024  # AK/SK-signed requests are limited to 12 MB (DOC)
Handler = Callable[[Fabric, Call], Any]
HANDLERS: dict[str, Handler] = {
    **catalog.OPERATIONS,
    **workspaces.OPERATIONS,
    **endpoints.OPERATIONS,
    **models.OPERATIONS,
    **instances.OPERATIONS,
}


@dataclass(slots=True)
class Emulator:
    """What the app keeps in `app.extensions["mockfabric"]`: settings, contract, the domain, the process it lives in."""

    settings: Settings
    contract: contracts.Contract
    fabric: Fabric
    pid: int


def build_fabric(settings: Settings, contract: contracts.Contract, clock: Clock | None = None, store: Store | None = None) -> Fabric:
    def check(schema: str, item: Any) -> str | None:
        problem = contract.component_check(schema).problem(item)
        return None if problem is None else str(problem)

    return Fabric(
        store=store or Store(),
        clock=clock or ControllableClock(),
        ids=IdFactory(settings.seed),
        lifecycle=Lifecycle(machines_from_contract(contract.document), settings.lifecycle),
        catalog=build_catalog(read_catalog(settings.catalog), check),
    )


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, store: Store | None = None) -> Flask:
    """The emulator as a WSGI app. `clock` defaults to system time the control API can advance or freeze."""
    settings = settings or Settings()
    contract = contracts.public_contract()
    emulator = Emulator(settings, contract, build_fabric(settings, contract, clock, store), os.getpid())
    app = Flask("mockfabric")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["mockfabric"] = emulator
    app.add_url_rule("/healthcheck", "ShowAdminHealthCheck", lambda: Response("OK", mimetype="text/plain"), methods=["GET"])
    app.add_url_rule("/openapi.json", "openapi", lambda: Response(contracts.openapi_json(), mimetype="application/json"), methods=["GET"])
    public = partial(_public_caller, emulator)
    for operation in contract.operations.values():
        if operation.operation_id in HANDLERS:
            _route(app, emulator, operation, HANDLERS[operation.operation_id], public)
    control_caller = partial(_control_caller, emulator)
    for operation in contracts.control_contract().operations.values():
        _route(app, emulator, operation, control.OPERATIONS[operation.operation_id], control_caller)
    app.register_error_handler(ApiError, _render_error)
    app.register_error_handler(HTTPException, _render_http_error)
    app.register_error_handler(Exception, _render_unexpected)
    app.before_request(_refuse_split_state)
    app.after_request(_stamp_request_id)
    return app


def _public_caller(emulator: Emulator) -> Caller:
    return identify(cast(Mapping[str, str], request.headers), emulator.settings.auth, request.host_url)


def _control_caller(emulator: Emulator) -> Caller:
    token = emulator.settings.control_token
    if token is not None:
        presented = request.headers.get(CONTROL_TOKEN_HEADER, "")
        if not hmac.compare_digest(presented.encode(), token.encode()):
            raise Unauthorized(f"the control API needs the control token in {CONTROL_TOKEN_HEADER}")
    return Caller(tenant="_control", base_url=request.host_url)


def _route(app: Flask, emulator: Emulator, operation: contracts.Operation, handler: Handler, caller_of: Callable[[], Caller]) -> None:
    rule = operation.path.replace("{", "<").replace("}", ">")
    app.add_url_rule(rule, operation.operation_id, _view(emulator, operation, handler, caller_of), methods=[operation.method])


def _view(emulator: Emulator, operation: contracts.Operation, handler: Handler, caller_of: Callable[[], Caller]) -> Callable[..., Response]:
    fabric = emulator.fabric

    def view(**path_values: str) -> Response:
        caller = caller_of()
        call = parse_call(operation, request, path_values, caller)
        with fabric.store.lock:  # one atomic read-modify-write per request; serialised before anyone else can change it
            result = handler(fabric, call)
            payload = None if result is None else json.dumps(result, ensure_ascii=False, separators=(",", ":"))
        if emulator.settings.validate_responses and payload is not None:
            _check_response(operation, json.loads(payload))
        if payload is None:
            response = Response(b"", operation.success_status)
            response.headers.pop("Content-Type", None)
            return response
        return Response(payload, operation.success_status, mimetype="application/json")

    view.__name__ = operation.operation_id
    return view


def _check_response(operation: contracts.Operation, body: Any) -> None:
    check = operation.response_checks.get((operation.success_status, "application/json"))
    problem = check.problem(body) if check is not None else None
    if problem is not None:
        log.error("response of %s drifted from the contract: %s", operation.operation_id, problem)
        raise InternalError(f"emulator response of {operation.operation_id} does not match the contract: {problem}")


def _json_error(error: ApiError) -> Response:
    response = Response(json.dumps(error.body(), ensure_ascii=False), error.status, mimetype="application/json")
    response.headers.update(error.headers)
    return response


def _render_error(error: ApiError) -> Response:
    return _json_error(error)


def _render_http_error(error: HTTPException) -> Response:
    if isinstance(error, NotFound):
        return _json_error(RouteNotFound(f"response status exception, code: 404; no route for {request.method} {request.path}"))
    if isinstance(error, MethodNotAllowed):
        allowed = ", ".join(sorted(error.valid_methods or []))
        return _json_error(
            MethodNotAllowedError(
                f"method {request.method} is not allowed on {request.path}; allowed: {allowed}", headers={"Allow": allowed}
            )
        )
    if isinstance(error, RequestEntityTooLarge):
        return _json_error(BodyTooLarge(f"request body exceeds {MAX_BODY} bytes"))
    generic = ApiError(f"{error.name}: {error.description}")
    generic.status = error.code or 400  # type: ignore[misc]
    return _json_error(generic)


def _render_unexpected(error: Exception) -> Response:
    log.exception("unexpected error serving %s %s", request.method, request.path)
    return _json_error(InternalError(f"internal error: {type(error).__name__}"))


def _refuse_split_state() -> None:
    emulator: Emulator = request.environ.get("mockfabric.emulator") or _current()
    if os.getpid() != emulator.pid:
        raise ServiceUnavailable(
            "this emulator was forked after start-up (e.g. several server workers): its state would "
            "split between processes; run one process (mockfabric serve)"
        )


def _current() -> Emulator:
    from flask import current_app

    emulator: Emulator = current_app.extensions["mockfabric"]
    return emulator


def _stamp_request_id(response: Response) -> Response:
    response.headers.setdefault("X-Request-Id", uuid.uuid4().hex)
    return response
