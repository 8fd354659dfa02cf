"""The ASGI application `mockfabric serve` runs: the Flask app behind a front that does the slow parts on the event loop.

- Request bodies are read here, bounded: a declared length over MAX_BODY is refused (413) before a byte of the body
  is read, a chunked body as soon as it passes the limit; a client that stops sending its body for `read_timeout`
  seconds gets 408. Both close the connection. Bodies stay in memory; nothing is spooled to disk.
- The Flask app then runs with the body already in hand (mockfabric.wsgi_bridge), so a slow uploader holds no
  thread: on the event loop itself for small public requests (a thread hand-off cost more than the request,
  bench/SERVERS.md), on a pool of worker threads for control requests and large bodies.
- What the app hands over (`mockfabric.streaming.Handover`) happens after its thread has returned: an injected
  latency is waited out here, and an invocation stream is written here, paced, with a bounded backlog per reader.

This module does not import Flask: any WSGI app is served the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from .errors import ApiError, BodyTooLarge, GatewayError, MalformedRequest, RequestTimeout, ServiceUnavailable, new_request_id
from .streaming import BACKLOG_LIMIT, ENVIRON_KEY, Backlogs, ClientLeft, Handover, StreamAbandoned, write_stream
from .web.guard import CONTROL_PREFIX
from .wsgi_bridge import WsgiAnswer, WsgiApp, call_wsgi, environ_of

log = logging.getLogger("mockfabric")
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Served:
    """What became of one request, for the access log: its status, request id, the WSGI environ it was served with
    (None when refused before the app ran) and how long it took, its stream included."""

    __slots__ = ("environ", "request_id", "seconds", "status")

    def __init__(self) -> None:
        self.status: int | None = None
        self.request_id: str | None = None
        self.environ: dict[str, Any] | None = None
        self.seconds = 0.0

    def watching(self, send: Send) -> Send:
        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.request_id = next((v.decode("latin-1") for k, v in message.get("headers", ()) if k.lower() == b"x-request-id"), None)
            await send(message)

        return watched


class WholeAnswer:
    """An answer sent in one piece with its Content-Length: its head held back, its body collected, both sent when
    the body ends (a stream to an HTTP/1.0 client, which has no chunked framing: it waits for the whole, paced as
    ever, then gets it at once). A stream cut before its end sends nothing: the connection just closes."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.start: Message | None = None
        self.parts: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        self.parts.append(message.get("body", b""))
        if message.get("more_body") or self.start is None:
            return
        body = b"".join(self.parts)
        kept = [(k, v) for k, v in self.start.get("headers", ()) if k.lower() not in (b"content-length", b"transfer-encoding")]
        await self.send({**self.start, "headers": [*kept, (b"content-length", str(len(body)).encode())]})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})


AccessHook = Callable[[Scope, Served], None]  # told when a request is over, its answer (and stream) sent or cut
INLINE_BODY = 64 * 1024  # public requests with bodies up to this are answered on the event loop (~0.1-1 ms each)
BODY_BUDGET = 256 * 1024 * 1024  # bytes of request bodies held at once, all connections together (~21 of the largest)
TURN_SECONDS = 0.001  # requests answered on the loop per loop iteration, at most (then timers and sockets get a turn)
T = TypeVar("T")


class Turns:
    """Requests answered on the event loop take turns with everything else the loop does. Per loop iteration they
    get about TURN_SECONDS; past that they wait in arrival order for the next iterations, so the stream chunks and
    socket events that fell due meanwhile go first: a burst of requests delays an open stream's chunks by about one
    turn, never by the whole burst."""

    def __init__(self, budget: float = TURN_SECONDS) -> None:
        self.budget = budget
        self._used = 0.0
        self._waiting: deque[tuple[asyncio.Future[Any], Callable[[], Any]]] = deque()
        self._next_turn_scheduled = False

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` now if this iteration's share is left and nobody waits, else in a later iteration."""
        if not self._waiting and self._used < self.budget:
            return self._timed(work)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((future, work))
        self._schedule_next_turn()
        return await future

    def _timed(self, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return work()
        finally:
            self._used += time.perf_counter() - started
            self._schedule_next_turn()

    def _schedule_next_turn(self) -> None:
        if not self._next_turn_scheduled:
            self._next_turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._next_turn)  # runs in the next iteration of the loop

    def _next_turn(self) -> None:
        self._next_turn_scheduled, self._used = False, 0.0
        ran = False
        while self._waiting and (not ran or self._used < self.budget):  # one at least: the queue always moves
            future, work = self._waiting.popleft()
            if future.cancelled():  # its client left while it waited
                continue
            ran = True
            try:
                future.set_result(self._timed(work))
            except Exception as exc:
                future.set_exception(exc)
        if self._waiting:
            self._schedule_next_turn()


class ClientGone(Exception):
    """The client closed the connection before its request was read: there is nobody to answer."""


class BodyBudget:
    """The bytes of request bodies being read or worked on, all connections together, and their ceiling: many large
    uploads at once are refused (503, retry) instead of growing the process until the system kills it."""

    def __init__(self, limit: int = BODY_BUDGET) -> None:
        self.limit, self.held = limit, 0

    def take(self, size: int) -> None:
        """Hold `size` more bytes, or raise ServiceUnavailable (nothing held) when that would pass the ceiling."""
        if self.held + size > self.limit:
            raise ServiceUnavailable(
                f"too many request bodies in flight ({self.held} bytes held, ceiling {self.limit}); retry later",
                headers={"Retry-After": "1"},
            )
        self.held += size

    def give(self, size: int) -> None:
        self.held -= size


class AsgiFront:
    """ASGI 3 app around a WSGI app. Small public requests are answered on the event loop itself; control requests
    and large bodies on up to `threads` worker threads (streams and injected latency hold none). `on_served`, if
    given, is told of each request once it is over (the access log)."""

    def __init__(
        self,
        wsgi_app: WsgiApp,
        *,
        threads: int,
        max_body: int,
        read_timeout: float,
        backlog_limit: int = BACKLOG_LIMIT,
        on_served: AccessHook | None = None,
    ) -> None:
        self.app = wsgi_app
        self.on_served = on_served
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mockfabric-worker")
        self.max_body, self.read_timeout, self.backlog_limit = max_body, read_timeout, backlog_limit
        self.turns = Turns()
        self.bodies = BodyBudget()
        self.backlogs = Backlogs()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets are switched off in the server's config
            return
        served = Served() if self.on_served is not None else None
        started = time.perf_counter()
        try:
            await self._serve(scope, receive, send if served is None else served.watching(send), served)
        finally:
            if served is not None and self.on_served is not None:
                served.seconds = time.perf_counter() - started
                self.on_served(scope, served)

    def close(self) -> None:
        """Let the worker threads go once they are done (they hold nothing long: no stream, no latency)."""
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, served: Served | None) -> None:
        try:
            body = await read_body(scope, receive, self.max_body, self.read_timeout, self.bodies)
        except ApiError as refusal:
            await send_error(send, refusal)
            return
        except ClientGone:
            return
        try:
            await self._answer(scope, receive, send, body, served)
        finally:
            self.bodies.give(len(body))

    async def _answer(self, scope: Scope, receive: Receive, send: Send, body: bytes, served: Served | None) -> None:
        environ = environ_of(scope, body)
        if served is not None:
            served.environ = environ
        handover = environ[ENVIRON_KEY] = Handover()
        if len(body) <= INLINE_BODY and not scope["path"].startswith(CONTROL_PREFIX):
            answer = await self.turns.run(partial(call_wsgi, self.app, environ))
        else:
            answer = await asyncio.get_running_loop().run_in_executor(self.executor, call_wsgi, self.app, environ)
        if scope.get("http_version") == "1.0" and handover.steps is not None:
            send = WholeAnswer(send)  # no chunked framing in HTTP/1.0, and uvicorn chunks an answer without a length
        await self._send_answer(answer, handover, send, receive)

    async def _send_answer(self, answer: WsgiAnswer, handover: Handover, send: Send, receive: Receive) -> None:
        if handover.delay > 0:
            await asyncio.sleep(handover.delay)
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        streamed = handover.steps is not None and answer.error is None
        body = b"".join(answer.body)
        if body or not streamed:
            await send({"type": "http.response.body", "body": body, "more_body": streamed or answer.error is not None})
        if answer.error is not None:
            raise answer.error  # the server closes the connection after what was written
        if handover.steps is not None:
            await self._write_stream(handover, send, receive)

    async def _write_stream(self, handover: Handover, send: Send, receive: Receive) -> None:
        """The handed-over steps written; a stream that ends early is journaled (and logged, unless its client left)."""
        assert handover.steps is not None
        try:
            await write_stream(handover.steps, send, receive, self.backlog_limit, self.read_timeout, self.backlogs)
        except ConnectionAbortedError as ended:  # StreamAbandoned, or an injected cut: the connection is closed
            if handover.note is not None:
                handover.note(str(ended))
            if isinstance(ended, StreamAbandoned) and not isinstance(ended, ClientLeft):
                log.warning("%s", ended)
            raise


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length the client declared; None when it declared none; MalformedRequest when unreadable."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise MalformedRequest(f"Content-Length {value[:40]!r} is not a number") from None
    return None


async def read_body(scope: Scope, receive: Receive, limit: int, timeout: float, budget: BodyBudget) -> bytes:
    """The whole request body, at most `limit` bytes, each part arriving within `timeout` seconds of the last, held
    in `budget` (the caller gives it back once the request is done; a refusal gives back what it took)."""
    declared = _declared_length(scope)
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"request body exceeds {limit} bytes")
    if not declared and not any(name == b"transfer-encoding" for name, _ in scope["headers"]):
        return b""  # no body: nothing to wait for
    parts: list[bytes] = []
    size = 0
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                part = message.get("body", b"")
                if size + len(part) > limit:
                    raise BodyTooLarge(f"request body exceeds {limit} bytes")
                budget.take(len(part))
                size += len(part)
                parts.append(part)
                if not message.get("more_body", False):
                    break
                deadline.reschedule(loop.time() + timeout)
    except TimeoutError:
        budget.give(size)
        raise RequestTimeout(f"the request body stopped arriving for {timeout:g} s ({size} bytes read)") from None
    except BaseException:
        budget.give(size)
        raise
    return b"".join(parts)


async def send_error(send: Send, error: ApiError) -> None:
    """Answer a request refused while its body was read with the service's error body, and close the connection:
    what is left of the request was never read."""
    request_id = new_request_id()
    if isinstance(error, GatewayError):
        error.request_id = request_id
    payload = error.payload()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"x-request-id", request_id.encode()),
        *((name.lower().encode(), value.encode()) for name, value in error.headers.items()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})
