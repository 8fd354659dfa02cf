"""create_app: the Flask application serving both planes of the contract, and the control API, on one base URL."""

from __future__ import annotations

import hmac
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from .. import contracts
from ..clock import ControllableClock, ControlledClock
from ..config import Settings
from ..domain import catalog, endpoints, instances, invocations, models, workspaces
from ..domain.catalog import build_catalog, read_catalog
from ..domain.completions import ChunkShape
from ..domain.fabric import Call, Caller, Fabric
from ..domain.faults import FaultRule, error_of
from ..domain.invocations import Invocation
from ..domain.lifecycle import Lifecycle, machines_from_contract
from ..domain.store import Store
from ..errors import ApiError, InjectedError, InternalError, Unauthorized
from ..identities import load_identities
from ..ids import IdFactory
from ..persistence import StateSaver, check_writable, load_state, state_target
from ..streaming import Handover, handover_of
from . import control
from . import invocations as invocation_view
from .auth import Authenticator, Presented, lowered_headers
from .encoding import to_json
from .errors import MAX_BODY, render_api_error, render_http_error, render_unexpected
from .front import Front, exchange_of, note_outcome, request_body, request_headers
from .guard import Guard
from .parsing import parse_call

log = logging.getLogger("mockfabric")
CONTROL_TOKEN_HEADER = "X-Mockfabric-Control-Token"
Handler = Callable[[Fabric, Call], Any]
HANDLERS: dict[str, Handler] = {
    **catalog.OPERATIONS,
    **workspaces.OPERATIONS,
    **endpoints.OPERATIONS,
    **models.OPERATIONS,
    **instances.OPERATIONS,
    **invocations.OPERATIONS,
}


@dataclass(slots=True)
class Emulator:
    """What the app keeps in `app.extensions["mockfabric"]`: settings, contract, the domain, the process it lives in."""

    settings: Settings
    contract: contracts.Contract
    fabric: Fabric
    pid: int
    saver: StateSaver | None = None

    def close(self) -> None:
        """Release what the app holds beyond memory: the final save of a state file."""
        if self.saver is not None:
            self.saver.close()


def build_fabric(
    settings: Settings, contract: contracts.Contract, clock: ControlledClock | None = None, store: Store | None = None
) -> Fabric:
    def check(schema: str, item: Any) -> str | None:
        problem = contract.component_check(schema).problem(item)
        return None if problem is None else str(problem)

    return Fabric(
        store=store or Store(),
        clock=clock or ControllableClock(),
        ids=IdFactory(settings.seed),
        lifecycle=Lifecycle(machines_from_contract(contract.document), settings.lifecycle),
        catalog=build_catalog(read_catalog(settings.catalog), check),
        seed=settings.seed,
        completion_mode=settings.completion_mode,
        chunk_shape=ChunkShape(content_first=settings.stream_first_chunk == "content", tokens=settings.stream_chunk_tokens),
        ttft_ms=settings.ttft_ms,
        itl_ms=settings.itl_ms,
        journal_bytes=settings.journal_bytes,
    )


def create_app(settings: Settings | None = None, *, clock: ControlledClock | None = None, store: Store | None = None) -> Flask:
    """The emulator as a WSGI app. `clock` defaults to system time the control API can advance or freeze."""
    settings = settings or Settings()
    contract = contracts.public_contract()
    emulator = Emulator(settings, contract, build_fabric(settings, contract, clock, store), os.getpid())
    if settings.state_file:
        path = Path(settings.state_file)
        check_writable(state_target(path))  # StateFileError: better no start than a server that cannot save
        load_state(path, emulator.fabric.store)  # StateFileError: better no start than a silent empty state
        saver = emulator.saver = StateSaver(path, emulator.fabric.store)
        emulator.fabric.saving = lambda: saver.status().as_dict()
    app = Flask("mockfabric")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["mockfabric"] = emulator
    app.add_url_rule("/healthcheck", "ShowAdminHealthCheck", lambda: Response("OK", mimetype="text/plain"), methods=["GET"])
    app.add_url_rule("/openapi.json", "openapi", lambda: Response(contracts.openapi_json(), mimetype="application/json"), methods=["GET"])
    identities = load_identities(settings.credentials) if settings.credentials else None
    public = partial(_public_caller, Authenticator(settings.auth, identities, emulator.fabric.clock))
    for operation in contract.operations.values():
        if operation.operation_id in HANDLERS:
            _route(app, emulator, operation, HANDLERS[operation.operation_id], public, faults=True)
    control_caller = partial(_control_caller, emulator, public)
    for operation in contracts.control_contract().operations.values():
        _route(app, emulator, operation, control.OPERATIONS[operation.operation_id], control_caller, faults=False)
    app.register_error_handler(ApiError, render_api_error)
    app.register_error_handler(HTTPException, render_http_error)
    app.register_error_handler(Exception, render_unexpected)
    guard = Guard(settings.allowed_hosts, any_host=settings.control_token is not None)
    app.wsgi_app = Front(app.wsgi_app, emulator.fabric, lambda: emulator.saver, emulator.pid, guard)  # type: ignore[method-assign]
    return app


def _base_url(environ: Mapping[str, Any]) -> str:
    """The base URL the client used, read straight from the WSGI environ (werkzeug's host_url costs ~70 µs a call)."""
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ['wsgi.url_scheme']}://{host}/"


def _public_caller(authenticator: Authenticator) -> Caller:
    current = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup, not one per field
    environ = current.environ
    presented = Presented(
        method=current.method,
        path=current.path,
        headers=lowered_headers(request_headers(environ)),
        read_query=lambda: [(k, v) for k, values in current.args.lists() for v in values],
        read_body=lambda: request_body(environ),
    )
    return authenticator.caller(presented, _base_url(environ))


def _control_caller(emulator: Emulator, public_caller: Callable[[], Caller]) -> Caller:
    """The control token when one is set; else, under --auth strict, a credential that strict mode verifies."""
    token = emulator.settings.control_token
    if token is not None:
        presented = request.headers.get(CONTROL_TOKEN_HEADER, "")
        if not hmac.compare_digest(presented.encode(), token.encode()):
            raise Unauthorized(f"the control API needs the control token in {CONTROL_TOKEN_HEADER}")
    elif emulator.settings.auth == "strict":
        public_caller()  # Unauthorized unless a configured token or a verifying signature is presented
    return Caller(tenant="_control", base_url=_base_url(request.environ))


def _route(
    app: Flask, emulator: Emulator, operation: contracts.Operation, handler: Handler, caller_of: Callable[[], Caller], *, faults: bool
) -> None:
    rule = operation.path.replace("{", "<").replace("}", ">")
    view = _view(emulator, operation, handler, caller_of, faults)
    app.add_url_rule(rule, operation.operation_id, view, methods=[operation.method])


def _view(
    emulator: Emulator, operation: contracts.Operation, handler: Handler, caller_of: Callable[[], Caller], faults: bool
) -> Callable[..., Response]:
    fabric = emulator.fabric
    prepare = invocations.PREPARATIONS.get(operation.operation_id)

    def view(**path_values: str) -> Response:
        current = request._get_current_object()  # type: ignore[attr-defined]
        exchange = exchange_of(current.environ)
        exchange.operation = operation.operation_id
        caller = caller_of()
        exchange.tenant = caller.tenant
        fault = fabric.faults.fire(operation.operation_id, current.method, current.path, caller.tenant) if faults else None
        if fault is not None:
            exchange.fault = fault.id
            dropped = _apply_fault(fault, handover_of(current.environ))
            if dropped is not None:
                return dropped
        call = parse_call(operation, current, path_values, caller)
        if prepare is not None:
            call.prepared = prepare(fabric, call)  # stateless work, outside the lock every other request waits on
        with fabric.store.lock:  # one atomic read-modify-write per request; serialised before anyone else can change it
            result = handler(fabric, call)
            payload = result if isinstance(result, Invocation | bytes) or result is None else to_json(result)
        if isinstance(payload, Invocation):
            chunk_check = _chunk_check() if emulator.settings.validate_responses else None
            environ = current.environ
            note = partial(note_outcome, environ)
            response = invocation_view.render(payload, fabric.clock, fault, chunk_check, handover_of(environ), note)
            if emulator.settings.validate_responses and not payload.stream:
                _check_response(operation, json.loads(response.get_data()))
            return response
        if payload is None:
            response = Response(b"", operation.success_status)
            response.headers.pop("Content-Type", None)
            return response
        if emulator.settings.validate_responses:
            _check_response(operation, json.loads(payload))
        return Response(payload, operation.success_status, mimetype="application/json")

    view.__name__ = operation.operation_id
    return view


def _apply_fault(fault: FaultRule, handover: Handover | None) -> Response | None:
    """Latency first (real time), then either a dropped connection, an error answer, or nothing (stream faults).
    With the server's handover the latency is waited out by the server before the answer goes, holding no thread
    (the request is worked on at once); without one this thread sleeps first."""
    if fault.latency_ms:
        if handover is not None:
            handover.wait(fault.latency_ms / 1000)
        else:
            time.sleep(fault.latency_ms / 1000)
    if fault.drop_connection:
        return Response(_dropped(fault), 200, mimetype="application/json")
    if fault.status is not None:
        code, message = error_of(fault)
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        raise InjectedError(fault.status, code, message, headers=headers)
    return None


def _dropped(fault: FaultRule) -> Iterator[bytes]:
    yield b'{"'
    raise invocation_view.StreamCut(f"injected fault {fault.id}: connection dropped")


def _check_response(operation: contracts.Operation, body: Any) -> None:
    check = operation.response_checks.get((operation.success_status, "application/json"))
    problem = check.problem(body) if check is not None else None
    if problem is not None:
        log.error("response of %s drifted from the contract: %s", operation.operation_id, problem)
        raise InternalError(f"emulator response of {operation.operation_id} does not match the contract: {problem}")


def _chunk_check() -> Callable[[Any], None]:
    check = contracts.public_contract().component_check("ChatCompletionChunk")

    def verify(chunk: Any) -> None:
        problem = check.problem(chunk)
        if problem is not None:
            log.error("stream chunk drifted from the contract: %s", problem)
            raise invocation_view.StreamCut(f"chunk does not match the contract: {problem}")

    return verify
