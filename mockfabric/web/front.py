"""The WSGI layer in front of the Flask app: what every request gets whatever route answers it.

What must hold for every request, whichever route answers it: an X-Request-Id on the answer, a journal entry
(control requests and metrics scrapes excepted), the state file's change notice after a successful change, the
refusal (503) of a copy forked after start-up, and the guard's refusals before any route. Per-request facts the
views learn (tenant, operation, fault rule, the body they read) travel in `environ[EXCHANGE]`, so the journal needs
no request context.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock
from ..errors import BodyTooLarge, MalformedRequest, ServiceUnavailable, new_request_id
from ..fixture.journal import Journal, JournalEntry, answer_summary
from ..persistence import StateSaver
from ..service.completions import Completion
from ..wsgi_bridge import HEADERS_KEY
from .errors import MAX_BODY, json_error
from .guard import CONTROL_PREFIX, Guard

EXCHANGE = "mockfabric.exchange"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(slots=True)
class Exchange:
    """What one request turned out to be, filled in while it is served."""

    request_id: str
    tenant: str | None = None
    operation: str | None = None
    fault: str | None = None
    body: bytes | None = None
    headers: list[tuple[str, str]] | None = field(default=None)
    entry: JournalEntry | None = None  # the journal's record of it, for what happens after the answer started
    answer: Completion | None = None  # what an invocation answered
    queued_ms: float | None = None  # how long an invocation waited for its endpoint's free slot (emulator time)
    error: dict[str, str] | None = None  # an error answer's body: error_code and error_msg
    journaled: bool = True  # False for what is no call of the service's API (a metrics scrape)


def note_outcome(environ: dict[str, Any], outcome: str) -> None:
    """Record in the journal what became of an answer after it started (a stream cut off, say), if it was journaled."""
    exchange: Exchange | None = environ.get(EXCHANGE)
    if exchange is not None and exchange.entry is not None:
        exchange.entry.outcome = outcome


def note_error(environ: dict[str, Any], body: dict[str, Any]) -> None:
    """Keep an error answer's `error_code` and `error_msg` for the journal (the answer itself is not journaled)."""
    exchange: Exchange | None = environ.get(EXCHANGE)
    if exchange is not None and "error_code" in body:
        exchange.error = {"error_code": str(body["error_code"]), "error_msg": str(body.get("error_msg", ""))}


def note_pace(environ: dict[str, Any], first_token_ms: float, stream_ms: float, chunk_dues_ms: list[float]) -> None:
    """Record in the journal how a stream was paced on the emulator's clock (its first token's wait, queue included,
    the whole stream's, and when each of its first chunks fell due), once it has been written."""
    exchange: Exchange | None = environ.get(EXCHANGE)
    if exchange is not None and exchange.entry is not None:
        exchange.entry.pace_ms = {"first_token": round(first_token_ms, 3), "stream": round(stream_ms, 3), "chunks": chunk_dues_ms}


def exchange_of(environ: dict[str, Any]) -> Exchange:
    """The request's Exchange; create_app always puts the Front before the Flask app, so it is there."""
    exchange: Exchange = environ[EXCHANGE]
    return exchange


def request_id_of(environ: dict[str, Any]) -> str | None:
    """The request id the front gave the request (its X-Request-Id); None for one that did not pass the front."""
    exchange: Exchange | None = environ.get(EXCHANGE)
    return exchange.request_id if exchange is not None else None


def request_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The request's headers as (lower-case name, value): as the server read them when it says (mockfabric.serving
    does), else rebuilt from the environ once (werkzeug's header objects cost tens of microseconds on this hot path);
    auth, parameters and the journal share them."""
    exchange = exchange_of(environ)
    if exchange.headers is None:
        sent: list[tuple[str, str]] | None = environ.get(HEADERS_KEY)
        if sent is not None:
            exchange.headers = sent
            return sent
        headers = [(key[5:].replace("_", "-").lower(), value) for key, value in environ.items() if key[:5] == "HTTP_"]
        headers += [
            (name, environ[key])
            for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length"))
            if environ.get(key)
        ]
        exchange.headers = headers
    return exchange.headers


def request_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and kept for auth, parsing and the journal; BodyTooLarge (413) beyond MAX_BODY."""
    exchange = exchange_of(environ)
    if exchange.body is None:
        exchange.body = _read_body(environ)
    return exchange.body


def _read_body(environ: dict[str, Any]) -> bytes:
    stream, text = environ["wsgi.input"], environ.get("CONTENT_LENGTH")
    if not text:  # PEP 3333: no length means no body, unless the server says the stream ends by itself
        return stream.read(MAX_BODY + 1) if environ.get("wsgi.input_terminated") else b""
    try:
        length = int(text)
    except ValueError:
        raise MalformedRequest(f"Content-Length {text[:40]!r} is not a number") from None
    if length > MAX_BODY:
        raise BodyTooLarge(f"request body exceeds {MAX_BODY} bytes")
    data: bytes = stream.read(max(length, 0))
    if len(data) > MAX_BODY:
        raise BodyTooLarge(f"request body exceeds {MAX_BODY} bytes")
    return data


def request_path(environ: dict[str, Any]) -> str:
    """The request's path as werkzeug's `Request.path` gives it (decoded PATH_INFO, one leading slash), from the environ."""
    return "/" + _decoded(environ.get("PATH_INFO") or "").lstrip("/")


def _decoded(path: str) -> str:
    """PATH_INFO as the client wrote it: WSGI carries the raw bytes as latin-1 (werkzeug's `request.path` does the same)."""
    return path if path.isascii() else path.encode("latin-1").decode("utf-8", "replace")


class Front:
    """Wraps `app.wsgi_app`: the Flask app still routes and renders; this adds what every answer shares."""

    def __init__(
        self, app: WsgiApp, journal: Journal, clock: Clock, saver: Callable[[], StateSaver | None], pid: int, guard: Guard
    ) -> None:
        self._app, self._requests, self._clock, self._saver, self._pid, self._guard = app, journal, clock, saver, pid, guard

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        exchange = environ[EXCHANGE] = Exchange(new_request_id())
        statuses: list[str] = []

        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if not any(name.lower() == "x-request-id" for name, _ in headers):
                headers.append(("X-Request-Id", exchange.request_id))
            statuses.append(status)
            return start_response(status, headers, exc_info)

        if os.getpid() != self._pid:
            body = self._refuse_split_state(environ, respond)
        elif (refusal := self._guard.refusal(environ)) is not None:
            exchange.error = refusal.body()
            body = json_error(refusal)(environ, respond)
        else:
            body = self._app(environ, respond)
        status = int(statuses[-1][:3]) if statuses else 500
        saver = self._saver()
        if saver is not None and environ["REQUEST_METHOD"] != "GET" and status < 400:
            saver.changed()
        if exchange.journaled and not environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            self._journal(environ, exchange, status)
        return body

    @staticmethod
    def _refuse_split_state(environ: dict[str, Any], respond: Callable[..., Any]) -> Iterable[bytes]:
        error = ServiceUnavailable(
            "this emulator was forked after start-up (e.g. several server workers): its state would "
            "split between processes; run one process (mockfabric serve)"
        )
        return json_error(error)(environ, respond)

    def _journal(self, environ: dict[str, Any], exchange: Exchange, status: int) -> None:
        if exchange.body is None:
            try:
                request_body(environ)  # a request refused before its body was read is still journaled with it
            except (BodyTooLarge, MalformedRequest):
                exchange.body = b""
        exchange.entry = JournalEntry.capture(
            at=self._clock.now(),
            request_id=exchange.request_id,
            tenant=exchange.tenant,
            operation=exchange.operation,
            method=environ["REQUEST_METHOD"],
            path=_decoded(environ.get("PATH_INFO", "")),
            query=environ.get("QUERY_STRING", ""),
            status=status,
            fault=exchange.fault,
            headers=request_headers(environ),
            body=exchange.body or b"",
            answer=answer_summary(exchange.answer) if exchange.answer is not None else None,
            queued_ms=exchange.queued_ms,
            error=exchange.error,
        )
        self._requests.record(exchange.entry)
