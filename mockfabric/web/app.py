"""create_app: the Flask application serving both planes of the contract, and the control API, on one base URL."""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from .. import contracts
from ..clock import ControllableClock, ControlledClock
from ..config import CONTROL_TOKEN_HEADER, Settings
from ..effects import EFFECT_FIELDS, FaultEffect, combined, error_of
from ..errors import ApiError, InjectedError, InternalError, MalformedRequest, Unauthorized, ValidationFailed
from ..fixture import controls as control_operations
from ..fixture.answers import Fixtures
from ..fixture.controls import Controls
from ..fixture.faults import FaultMatch, FaultRule
from ..identities import load_identities
from ..ids import IdFactory
from ..persistence import StateSaver, open_state
from ..service import endpoints, instances, invocations, jobs, messages, metrics, models, offerings, onboarding, runs, tags, workspaces
from ..service.capacity import Capacity
from ..service.catalog import build_catalog, read_catalog
from ..service.completions import ChunkShape
from ..service.core import Actor, CompletionSettings, Service
from ..service.invocations import Invocation
from ..service.lifecycle import Lifecycle, machines_from_contract
from ..service.pacing import Timing
from ..service.store import Store
from ..service.telemetry import Telemetry
from ..streaming import Handover, handover_of, hold
from ..text import decode_json, first_invalid_text
from . import dashboard, prometheus
from . import invocations as invocation_view
from .adapter import Context, bind
from .auth import Authenticator, Presented, lowered_headers, tenant_scoped
from .encoding import to_json
from .errors import MAX_BODY, OPTIONS_ENDPOINT, render_api_error, render_http_error, render_unexpected
from .front import Front, exchange_of, note_error, note_outcome, note_pace, request_body, request_headers, request_id_of, request_path
from .guard import Guard
from .parsing import Call, parse_call
from .throttle import Throttle

log = logging.getLogger("mockfabric")
CONTROL_ACTOR = Actor(tenant="_control")
ActorOf = Callable[[dict[str, Any]], Actor]  # who sends the request whose WSGI environ it is given
SERVICE_OPERATIONS: dict[str, Callable[..., Any]] = {
    **offerings.OPERATIONS,
    **workspaces.OPERATIONS,
    **endpoints.OPERATIONS,
    **models.OPERATIONS,
    **instances.OPERATIONS,
    **invocations.OPERATIONS,
    **jobs.OPERATIONS,
    **runs.OPERATIONS,
    **onboarding.OPERATIONS,
    **messages.OPERATIONS,
    **metrics.OPERATIONS,
    **tags.OPERATIONS,
}


@dataclass(slots=True)
class Emulator:
    """What the app keeps in `app.extensions["mockfabric"]`: settings, contract, the service, the fixture layer
    over it, the process it lives in."""

    settings: Settings
    contract: contracts.Contract
    service: Service
    controls: Controls
    throttle: Throttle
    pid: int
    saver: StateSaver | None = None

    def close(self) -> None:
        """Release what the app holds beyond memory: the final save of a state file."""
        if self.saver is not None:
            self.saver.close()


def build_service(
    settings: Settings, contract: contracts.Contract, clock: ControlledClock | None = None, store: Store | None = None
) -> Service:
    def check(schema: str, item: Any) -> str | None:
        problem = contract.component_check(schema).problem(item)
        return None if problem is None else str(problem)

    shape = ChunkShape(content_first=settings.stream_first_chunk == "content", tokens=settings.stream_chunk_tokens)
    return Service(
        store=store or Store(),
        clock=clock or ControllableClock(),
        ids=IdFactory(settings.seed),
        lifecycle=Lifecycle(machines_from_contract(contract.document), settings.lifecycle),
        catalog=build_catalog(read_catalog(settings.catalog), check),
        completions=CompletionSettings(settings.completion_mode, settings.seed, shape),
        require_agreement=settings.require_agreement,
        capacity=Capacity(settings.streams_per_mu, settings.over_capacity),
        telemetry=Telemetry() if settings.metrics else None,
    )


def create_app(settings: Settings | None = None, *, clock: ControlledClock | None = None, store: Store | None = None) -> Flask:
    """The emulator as a WSGI app. `clock` defaults to system time the control API can advance or freeze."""
    settings = settings or Settings()
    contract = contracts.public_contract()
    service = build_service(settings, contract, clock, store)
    controls = Controls(
        service,
        seed=settings.seed,
        timing=Timing(settings.ttft_ms, settings.itl_ms, settings.ttft_jitter_ms, settings.itl_jitter_ms, settings.prefill_us_per_token),
        journal_bytes=settings.journal_bytes,
        fixtures=Fixtures.loaded_from(settings.fixtures),
        strict_fixtures=settings.strict_fixtures,
    )
    throttle = Throttle(settings.rate_limit, service.clock, contract.operations)
    emulator = Emulator(settings, contract, service, controls, throttle, os.getpid())
    if settings.state_file:
        saver = emulator.saver = open_state(Path(settings.state_file), service.store)  # or StateFileError: no start
        service.saving = lambda: saver.status().as_dict()
    app = Flask("mockfabric")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["mockfabric"] = emulator
    app.add_url_rule("/healthcheck", "ShowAdminHealthCheck", lambda: Response("OK", mimetype="text/plain"), methods=["GET"])
    app.add_url_rule("/openapi.json", "openapi", lambda: Response(contracts.openapi_json(), mimetype="application/json"), methods=["GET"])
    identities = load_identities(settings.credentials) if settings.credentials else None
    public = partial(_public_actor, Authenticator(settings.auth, identities, service.clock))
    context = Context({"service": service})
    for operation in contract.operations.values():
        function = SERVICE_OPERATIONS.get(operation.operation_id)
        if function is not None:
            _route(app, emulator, operation, bind(contract, operation, function, context), public, public_operation=True)
    _options_routes(app, contract)
    control_actor = partial(_control_actor, emulator, public)
    control_contract = contracts.control_contract()
    for operation in control_contract.operations.values():
        function = partial(control_operations.OPERATIONS[operation.operation_id], controls)
        binding = tenant_scoped(
            operation.operation_id, bind(control_contract, operation, function, Context({}), shape_answers=False), CONTROL_ACTOR
        )
        _route(app, emulator, operation, binding, control_actor, public_operation=False)
    dashboard.register(app, service, controls, settings.control_token, strict=settings.auth == "strict")
    if service.telemetry is not None:
        prometheus.register(app, service.telemetry, service.clock, settings.control_token, strict=settings.auth == "strict")
    for kind, render in ((ApiError, render_api_error), (HTTPException, render_http_error), (Exception, render_unexpected)):
        app.register_error_handler(kind, _journaled(render))
    guard = Guard(settings.allowed_hosts, any_host=settings.control_token is not None)
    app.wsgi_app = Front(app.wsgi_app, controls.journal, service.clock, lambda: emulator.saver, emulator.pid, guard)  # type: ignore[method-assign]
    return app


FAULT_HEADER = "x-mockfabric-fault"


def header_fault(environ: dict[str, Any]) -> FaultRule | None:
    """The request's own fault (`X-Mockfabric-Fault: {"status": 429}`): the effects of a fault rule, for this request
    only; MalformedRequest for a value that is not a JSON object, ValidationFailed for a field it may not have."""
    text = next((value for name, value in request_headers(environ) if name == FAULT_HEADER), None)
    if text is None:
        return None
    try:
        spec = decode_json(text)  # the bodies' strict JSON: no NaN or Infinity
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest(f"X-Mockfabric-Fault: not JSON ({exc})"[:300]) from None
    invalid = first_invalid_text(spec, "X-Mockfabric-Fault")
    if invalid is not None:
        raise ValidationFailed(f"{invalid}: not valid Unicode (a lone UTF-16 surrogate escape such as \\ud800)")
    if not isinstance(spec, dict) or not spec:
        raise MalformedRequest('X-Mockfabric-Fault: expected a JSON object of fault effects, e.g. {"status": 429}')
    misplaced = sorted(set(spec) - EFFECT_FIELDS)
    if misplaced:
        raise ValidationFailed(f"X-Mockfabric-Fault: {', '.join(misplaced)} is not an effect ({', '.join(sorted(EFFECT_FIELDS))})")
    problem = contracts.control_contract().component_check("FaultSpec").problem(spec)
    if problem is not None:
        raise ValidationFailed(f"X-Mockfabric-Fault: {problem}")
    return FaultRule("header", FaultMatch(), FaultEffect(**spec))


def _base_url(environ: Mapping[str, Any]) -> str:
    """The base URL the client used, read straight from the WSGI environ (werkzeug's host_url costs ~70 µs a call)."""
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ['wsgi.url_scheme']}://{host}/"


def _query_args() -> MultiDict[str, str]:
    """The request's query parameters as Flask parsed them (only asked for when there is a query string)."""
    return request.args


def _public_actor(authenticator: Authenticator, environ: dict[str, Any]) -> Actor:
    presented = Presented(
        method=environ["REQUEST_METHOD"],
        path=request_path(environ),
        headers=lowered_headers(request_headers(environ)),
        read_query=lambda: [(k, v) for k, values in request.args.lists() for v in values],
        read_body=lambda: request_body(environ),
    )
    return authenticator.actor(presented)


def _control_actor(emulator: Emulator, public_actor: ActorOf, environ: dict[str, Any]) -> Actor:
    """The control token when one is set (the whole server's CONTROL_ACTOR); else, under --auth strict, a credential
    that strict mode verifies, as its own tenant's actor (the binding keeps it to that tenant: auth.tenant_scoped)."""
    token = emulator.settings.control_token
    if token is not None:
        presented = request.headers.get(CONTROL_TOKEN_HEADER, "")
        if not hmac.compare_digest(presented.encode(), token.encode()):
            raise Unauthorized(f"the control API needs the control token in {CONTROL_TOKEN_HEADER}")
    elif emulator.settings.auth == "strict":
        return public_actor(environ)  # Unauthorized unless a configured token or a verifying signature is presented
    return CONTROL_ACTOR


def _route(
    app: Flask,
    emulator: Emulator,
    operation: contracts.Operation,
    binding: Callable[[Call], Any],
    actor_of: ActorOf,
    *,
    public_operation: bool,
) -> None:
    view = _view(emulator, operation, binding, actor_of, public_operation)
    automatic = None if not public_operation else False  # None: Flask's own OPTIONS; the public API's are _options_routes'
    app.add_url_rule(_rule(operation.path), operation.operation_id, view, methods=[operation.method], provide_automatic_options=automatic)


def _rule(path: str) -> str:
    return path.replace("{", "<").replace("}", ">")


def _options_routes(app: Flask, contract: contracts.Contract) -> None:
    """OPTIONS on a public path answers `Allow` with the methods the contract gives that path, and only those:
    Flask's own OPTIONS would list every rule the URL matches, so `/jobs/runs` (POST, GET) also advertised
    `/jobs/{job_id}`'s PUT and DELETE."""
    methods: dict[str, set[str]] = {}
    for operation in contract.operations.values():
        if operation.operation_id in SERVICE_OPERATIONS:
            methods.setdefault(operation.path, set()).add(operation.method)
    for path, allowed in methods.items():
        listed = ", ".join(sorted(allowed | {"OPTIONS"} | ({"HEAD"} if "GET" in allowed else set())))
        answer = partial(_options_answer, listed)
        app.add_url_rule(_rule(path), OPTIONS_ENDPOINT + path, answer, methods=["OPTIONS"], provide_automatic_options=False)


def _options_answer(allowed: str, **_path_values: str) -> Response:
    return Response(status=200, headers={"Allow": allowed})


def _view(
    emulator: Emulator,
    operation: contracts.Operation,
    binding: Callable[[Call], Any],
    actor_of: ActorOf,
    public_operation: bool,
) -> Callable[..., Response]:
    service, controls = emulator.service, emulator.controls
    prepare = invocations.PREPARATIONS.get(operation.operation_id)

    def view(**path_values: str) -> Response:
        environ = request.environ  # the request's one proxy lookup: the rest is read from its WSGI environ
        exchange = exchange_of(environ)
        exchange.operation = operation.operation_id
        actor = actor_of(environ)
        exchange.tenant = actor.tenant
        fault = None
        if public_operation:  # the gateway's throttling, then this request's fault header or a fault rule
            emulator.throttle.admit(operation.operation_id, actor.tenant)
            fault = header_fault(environ) if emulator.settings.fault_header else None
            fault = fault or controls.faults.fire(operation.operation_id, environ["REQUEST_METHOD"], request_path(environ), actor.tenant)
        if fault is not None:
            exchange.fault = fault.id
            dropped = _apply_fault(fault, handover_of(environ))
            if dropped is not None:
                return dropped
        call = parse_call(operation, environ, _query_args, path_values, actor, _base_url(environ))
        if prepare is not None:
            call.prepared = _prepared(prepare, service, call.body)  # stateless work, outside the lock others wait on
        with service.store.lock:  # one atomic read-modify-write per request; serialised before anyone else can change it
            result = binding(call)
            payload = result if isinstance(result, Invocation | bytes) or result is None else to_json(result)
        if isinstance(payload, Invocation):
            return _invocation(emulator, operation, payload, call, fault)
        if payload is None:
            response = Response(b"", operation.success_status)
            response.headers.pop("Content-Type", None)
            return response
        if emulator.settings.validate_responses:
            _check_response(operation, json.loads(payload))
        return Response(payload, operation.success_status, mimetype="application/json")

    view.__name__ = operation.operation_id
    return view


def _prepared(prepare: Any, service: Service, body: Any) -> Any:
    """What `prepare` makes of the body; a refusal naming a field names it where it was sent (the body)."""
    try:
        return prepare(service, body)
    except ApiError as error:
        if error.field is not None:
            error.locate("body")
        raise


def _invocation(
    emulator: Emulator, operation: contracts.Operation, invocation: Invocation, call: Call, fault: FaultRule | None
) -> Response:
    """An invocation's answer: JSON, or a stream paced by the instance's timing and shaped by the request's fault and
    the answer's own effects (the request's win where both set one). The answer's latency and dropped connection
    come after the request's fault had its turn (the answer is decided only then)."""
    validating = emulator.settings.validate_responses
    environ = request.environ
    handover = handover_of(environ)
    exchange = exchange_of(environ)
    exchange.answer = invocation.completion
    exchange.queued_ms = round(invocation.queued * 1000, 3) if invocation.queued else None
    own = invocation.effect
    if own is not None:
        hold(handover, own.latency_ms / 1000)
        if own.drop_connection:
            return Response(_dropped("answer"), 200, mimetype="application/json")
    stream_effect = combined(fault.effect if fault is not None else None, own)
    shaped = None if stream_effect is None else (fault.id if fault is not None else "answer", stream_effect)
    note = partial(note_outcome, environ)
    chunk_check = _chunk_check() if validating else None
    paced = partial(note_pace, environ)
    telemetry = emulator.service.telemetry
    tally = None
    if telemetry is not None and invocation.stream:
        tally = telemetry.stream(telemetry.series(exchange.tenant or "", invocation.completion.model))
    response = invocation_view.render(invocation, emulator.service.clock, shaped, chunk_check, handover, note, paced, tally)
    if validating and not invocation.stream:
        _check_response(operation, json.loads(response.get_data()))
    return response


def _apply_fault(fault: FaultRule, handover: Handover | None) -> Response | None:
    """Latency first (real time), then either a dropped connection, an error answer, or nothing (stream faults).
    With the server's handover the latency is waited out by the server before the answer goes, holding no thread
    (the request is worked on at once); without one this thread sleeps first."""
    effect = fault.effect
    hold(handover, effect.latency_ms / 1000)
    if effect.drop_connection:
        return Response(_dropped(fault.id), 200, mimetype="application/json")
    if effect.status is not None:
        code, message = error_of(effect)
        headers = {"Retry-After": str(effect.retry_after)} if effect.retry_after is not None else None
        raise InjectedError(effect.status, code, message, headers=headers)
    return None


def _dropped(cause: str) -> Iterator[bytes]:
    yield b'{"'
    raise invocation_view.StreamCut(f"injected fault {cause}: connection dropped")


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


def _journaled(render: Callable[[Any, str | None], Response]) -> Callable[[Any], Response]:
    """An error handler given the request id the front gave this request (for the gateway's error bodies), whose
    answer's error_code and error_msg also go into the request's journal entry."""

    def handler(error: Any) -> Response:
        environ = request.environ
        response = render(error, request_id_of(environ))
        body = response.get_json(silent=True)
        if isinstance(body, dict):
            note_error(environ, body)
        return response

    return handler
