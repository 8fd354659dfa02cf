"""`mockfabric serve`: the app on uvicorn, one process, one event loop, with a graceful stop on SIGINT/SIGTERM.

uvicorn (httptools parser, uvloop where installed) runs `mockfabric.asgi.AsgiFront`: request bodies are read,
small requests answered and invocation streams written on the event loop; control requests and large bodies go to
a small pool of worker threads.
bench/SERVERS.md has the measurements behind the choice. One process, no workers: the in-memory state cannot be
split between processes by configuration.

uvicorn bounds a connection's idle time between requests (keep-alive) but not the time a client may take to send a
request head; `ReadDeadlines` adds that, so a thousand half-sent requests are dropped after `--read-timeout`
instead of being held for ever. It goes through the protocol class uvicorn's typed `http=` setting takes: a
subclass of the class `--http httptools` names, overriding asyncio.Protocol's own methods, and two methods of
uvicorn's (`send_400_response`, so that a request the parser rejects is answered in the service's error format, and
`shutdown`, so that a graceful stop does not wait for lingering connections).
The request head is bounded (`MAX_HEAD`) before the parser reads it, and so are chunk framing and trailers; to know
where a head begins and ends and where body bytes are, it also extends uvicorn's httptools callbacks
`on_message_begin`, `on_headers_complete`, `on_body` and `on_message_complete` (calling uvicorn's own too); a
client's half-close goes through asyncio.Protocol's `eof_received`. uvicorn's protocol is handed a
`LingeringTransport` (mockfabric/linger.py) in place of the loop's, so that every close of a request not read to its
end lingers.
Those methods are not documented: uvicorn is pinned to 0.54.x, and tests/serving/test_cli.py and
test_hostile_clients.py exercise both over real sockets.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .asgi import AsgiFront, Served
from .config import ConfigError, Settings
from .errors import ApiError, HeadTooLarge, MalformedRequest, RequestTimeout, new_request_id
from .fixture.answers import FixtureError
from .identities import CredentialsError
from .linger import LingeringTransport
from .logs import BackgroundLog
from .persistence import StateFileError
from .redaction import redact_query
from .service.catalog import CatalogError
from .web.app import create_app
from .web.errors import MAX_BODY
from .web.front import EXCHANGE

log = logging.getLogger("mockfabric")
access_log = logging.getLogger("mockfabric.access")
FULL_COLLECTION_EVERY = 1000  # gen-1 collections per full one (CPython's default: 10)
KEEP_ALIVE_SECONDS = 30  # an idle connection between requests is closed after this long
CONNECTION_LIMIT = 4096  # connections (or requests in progress) past which new requests are answered 503
LOG_DRAIN_SECONDS = 2.0  # at the end, how long the last log lines may take to be written
MAX_HEAD = 64 * 1024  # bytes of one request head (request line and headers), as common gateways bound it
HEAD_END = b"\r\n\r\n"


class _ExpectedEnds(logging.Filter):
    """uvicorn logs every exception that ends a response; a stream cut by a fault rule, a reader too slow (already
    logged by mockfabric.asgi), a client gone, or a task cancelled at the end of the shutdown timeout is no error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionAbortedError | asyncio.CancelledError))


def quiet_expected_ends() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _ExpectedEnds) for f in logger.filters):
        logger.addFilter(_ExpectedEnds())


class _Watch:
    """One connection's read deadline: armed while the client owes a request head, off while a request is in the app.
    When it expires the connection is closed, with a 408 if the client had begun a request."""

    __slots__ = ("busy", "ended", "heard", "peer", "pending", "refuse_when_done", "seconds", "timer", "transport")

    def __init__(self, transport: LingeringTransport, peer: tuple[str, int], seconds: float) -> None:
        self.transport, self.peer, self.seconds = transport, peer, seconds
        self.busy = 0
        self.pending = 0  # requests whose head was read and whose app has not finished
        self.heard = False
        self.ended = False  # the client closed its side (half-close): close ours once nothing is pending
        self.refuse_when_done = False  # a head over the bound came behind a pending answer: 431 once it is sent
        self.timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        if not self.busy and self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.seconds, self.expire)

    def expire(self) -> None:
        self.timer = None
        if self.busy or self.transport.is_closing():
            return
        if self.heard:
            self.transport.write(_timeout_answer())
        self.transport.close_now()  # a client that stopped sending has nothing to linger for

    def enter(self) -> None:
        self.busy += 1
        self.disarm()

    def leave(self) -> None:
        self.busy -= 1
        self.pending = max(0, self.pending - 1)
        if self.pending:
            return
        if self.refuse_when_done:
            self.transport.write(_head_too_large_answer())
            self.transport.close()
        elif self.ended:
            self.transport.close()  # what was written still goes out first

    def client_ended(self) -> bool:
        """The client half-closed: True (keep the connection open to answer) while a request it sent is pending."""
        self.ended = True
        return self.pending > 0

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class _HeadBound:
    """Counts the bytes of the request head a connection is sending, before the parser sees them: httptools joins a
    header's pieces by concatenation, so a 64 MB header line cost seconds of the event loop before any check could
    run. A head is counted from the parser's message begin (or the connection's start) to its blank line; body bytes
    are not counted. After a head, what is neither head nor body (chunk sizes and extensions, trailers, which httptools
    joins the same way) is counted between two pieces of body, and is bounded the same. Bytes of a pipelined head
    that arrive in the same read as the previous request's end, and trailers in the same read as the body's last
    piece, are not counted: at most one read (256 KiB) past the bound."""

    __slots__ = ("begun", "body_seen", "counted", "gap", "in_head", "limit", "tail")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_head = True  # a new connection owes its first head
        self.counted = self.gap = 0
        self.tail = b""
        self.begun = self.body_seen = False

    def begin(self) -> None:
        """A message begins (during a read). Its head has been counted since the previous message ended (or the
        connection began): the count goes on."""
        self.in_head, self.begun = True, True

    def message_complete(self) -> None:
        """A message ended: what comes next is the next one's head, counted from here."""
        self.in_head, self.counted, self.tail = True, 0, b""

    def complete(self) -> None:
        self.in_head, self.gap = False, 0

    def body(self) -> None:
        self.body_seen = True

    def admit(self, data: bytes) -> bool:
        """Before the parser reads `data`: False once the head being sent is longer than the bound."""
        self.begun = self.body_seen = False
        if not self.in_head:
            return True
        end = (self.tail + data).find(HEAD_END)
        self.counted += len(data) if end < 0 else end + len(HEAD_END) - len(self.tail)
        self.tail = (self.tail + data)[-(len(HEAD_END) - 1) :]
        return self.counted <= self.limit

    def read(self, size: int) -> bool:
        """After the parser read `size` bytes: False once what came after a head without being body (chunk framing,
        trailers) is longer than the bound."""
        if self.in_head or self.begun:
            return True
        self.gap = 0 if self.body_seen else self.gap + size
        return self.gap <= self.limit


def _printable(text: str, limit: int = 512) -> str:
    """`text` for one log line: control characters and quotes escaped (a path with %0A cannot forge a line), bounded."""
    cut = text if len(text) <= limit else text[:limit] + "..."
    return "".join(ch if ch.isprintable() and ch not in '"\\' else _escaped(ch) for ch in cut)


def _escaped(ch: str) -> str:
    """A character that may not stand as itself in a log line: quote, backslash, and whatever is not printable
    (controls, NEL, line and paragraph separators, bidirectional overrides)."""
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def access_line(scope: dict[str, Any], served: Served) -> str:
    """One request as the access log shows it: client, method, path (secret query values redacted), status, duration,
    tenant, request id, and what became of a stream that did not end normally."""
    exchange = served.environ.get(EXCHANGE) if served.environ is not None else None
    tenant = getattr(exchange, "tenant", None)
    entry = getattr(exchange, "entry", None)
    outcome = getattr(entry, "outcome", None)
    query = scope.get("query_string", b"").decode("latin-1")
    target = _printable(scope.get("path", "") + (f"?{redact_query(query)}" if query else ""))
    client = scope.get("client") or ("-", 0)
    line = (
        f'{client[0]}:{client[1]} "{scope.get("method", "-")} {target}" {served.status or "-"} {served.seconds * 1000:.1f} ms '
        f"tenant={_printable(tenant or '-', 64)} id={served.request_id or '-'}"
    )
    return line + (f" ({_printable(outcome, 200)})" if outcome else "")


def log_access(scope: dict[str, Any], served: Served) -> None:
    if access_log.isEnabledFor(logging.INFO):
        access_log.info("%s", access_line(scope, served))


def configure_logging(settings: Settings, stream: TextIO) -> BackgroundLog:
    """serve's log on `stream`, written off the event loop: the access log (one line per request) at info, unless
    quiet; warnings always. The handler is returned so that serve can let its last lines out at the end."""
    level = logging.WARNING if settings.quiet else getattr(logging, settings.log_level.upper())
    handler = BackgroundLog(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name, own_level in (("mockfabric", level), ("uvicorn", max(level, logging.WARNING))):  # uvicorn's: never on the loop
        named = logging.getLogger(name)
        for old in [h for h in named.handlers if isinstance(h, BackgroundLog)]:
            named.removeHandler(old)
        named.setLevel(own_level)
        named.addHandler(handler)
        named.propagate = False
    return handler


def _raw_answer(error: ApiError, reason: str) -> bytes:
    """A whole HTTP answer, closing the connection, for the cases the protocol answers before any app runs."""
    body = error.payload()
    head = (
        f"HTTP/1.1 {error.status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Request-Id: {new_request_id()}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _unparseable_answer(reason: str) -> bytes:
    return _raw_answer(MalformedRequest(f"failed to read http request: {reason}"), "Bad Request")


def _head_too_large_answer() -> bytes:
    message = f"the request head (request line and headers) is over {MAX_HEAD // 1024} KiB"
    return _raw_answer(HeadTooLarge(message), "Request Header Fields Too Large")


def _timeout_answer() -> bytes:
    return _raw_answer(RequestTimeout("the request head was not completed within the read timeout"), "Request Timeout")


def _peer(transport: asyncio.BaseTransport) -> tuple[str, int] | None:
    """The client's (host, port), as uvicorn puts it in the ASGI scope's `client`."""
    info = transport.get_extra_info("peername")
    return (str(info[0]), int(info[1])) if isinstance(info, list | tuple) and len(info) >= 2 else None


class ReadDeadlines:
    """A deadline on request heads for every connection of one server; requests reaching the app lift it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.watches: dict[tuple[str, int], _Watch] = {}

    def request_started(self, scope: dict[str, Any]) -> Callable[[], None]:
        client = scope.get("client")
        watch = self.watches.get((client[0], client[1])) if client else None
        if watch is None:
            return lambda: None
        watch.enter()
        return watch.leave

    def protocol_class(self) -> type[asyncio.Protocol]:
        """uvicorn's httptools protocol, extended through asyncio.Protocol's own methods only."""
        deadlines = self

        class DeadlineProtocol(HttpToolsProtocol):
            mockfabric_watch: _Watch | None = None
            mockfabric_head: _HeadBound
            mockfabric_linger: LingeringTransport
            mockfabric_unread = False  # a request is not read to its end: a close now lingers

            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                linger = self.mockfabric_linger = LingeringTransport(transport, lambda: self.mockfabric_unread)
                super().connection_made(linger)
                self.mockfabric_head = _HeadBound(MAX_HEAD)
                peer = _peer(transport)
                if peer is not None:
                    watch = self.mockfabric_watch = deadlines.watches[peer] = _Watch(linger, peer, deadlines.seconds)
                    watch.arm()  # a new connection owes its first request head

            def data_received(self, data: bytes) -> None:
                if self.mockfabric_linger.drop(data):
                    return
                self.mockfabric_unread = True
                watch = self.mockfabric_watch
                if watch is not None:
                    watch.heard = True
                    watch.arm()
                head = self.mockfabric_head
                if not head.admit(data):
                    self.mockfabric_refuse_head(behind=self.mockfabric_watch.pending if self.mockfabric_watch else 0)
                    return
                super().data_received(data)
                if not head.read(len(data)) and not self.transport.is_closing():
                    self.mockfabric_refuse_head(behind=0)  # this request's own framing or trailers: its answer has not begun

            def mockfabric_refuse_head(self, behind: int) -> None:
                """431 and close; when a request of this connection is still being answered, its answer goes out
                first (a status line written now would land inside it), then the 431."""
                watch = self.mockfabric_watch
                if watch is not None and behind:  # earlier requests' answers first: read nothing more meanwhile
                    self.transport.pause_reading()
                    watch.refuse_when_done = True
                    return
                self.transport.write(_head_too_large_answer())
                self.transport.close()

            def on_body(self, body: bytes) -> None:
                self.mockfabric_head.body()
                super().on_body(body)

            def on_message_complete(self) -> None:
                self.mockfabric_unread = False
                super().on_message_complete()
                self.mockfabric_head.message_complete()

            def on_message_begin(self) -> None:
                self.mockfabric_unread = True
                super().on_message_begin()
                self.mockfabric_head.begin()

            def on_headers_complete(self) -> None:
                self.mockfabric_head.complete()
                if self.mockfabric_watch is not None:
                    self.mockfabric_watch.pending += 1
                super().on_headers_complete()

            def eof_received(self) -> bool:  # type: ignore[override]  # asyncio.Protocol says bool | None
                """A client that half-closes after its request still gets the answer (a stream to its end); one
                that was refused and lingered over is done."""
                if self.mockfabric_linger.client_closed():
                    return False
                self.mockfabric_unread = False  # nothing more can come
                watch = self.mockfabric_watch
                return watch is not None and watch.client_ended()

            def shutdown(self) -> None:
                """uvicorn's graceful stop (closes the idle connection, lets a request in flight finish): lingering
                is over for this connection (mockfabric/linger.py)."""
                self.mockfabric_linger.stop_lingering()
                super().shutdown()

            def send_400_response(self, msg: str) -> None:
                """A request the parser rejects is answered in the service's error format, not as plain text."""
                self.transport.write(_unparseable_answer(msg))
                self.transport.close()

            def connection_lost(self, exc: Exception | None) -> None:
                self.mockfabric_linger.lost()
                watch = self.mockfabric_watch
                if watch is not None:
                    watch.disarm()
                    if deadlines.watches.get(watch.peer) is watch:
                        del deadlines.watches[watch.peer]
                super().connection_lost(exc)

        return DeadlineProtocol


def with_read_deadlines(app: Any, deadlines: ReadDeadlines) -> Any:
    """An ASGI app that tells `deadlines` when each HTTP request reaches `app` and when `app` is done with it, so
    that a request in progress (a slow upstream, a long stream) is never taken for a client that stopped sending."""

    async def watched(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        ended = deadlines.request_started(scope)
        try:
            await app(scope, receive, send)
        finally:
            ended()

    return watched


class ServeError(RuntimeError):
    """Serving failed; the message is one line for the terminal. `exit_code` 2: the start was refused (a file or
    address that cannot be used); 1: serving ran but its end failed (the final state save)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts so that port 0 is known at once. Made with protocol
    IPPROTO_TCP (socket.create_server leaves it 0): asyncio's loop turns Nagle off only on sockets that say TCP, and
    with Nagle on, every answer after the first on a kept-alive connection waited ~40 ms for a delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host.strip("[]"), port))
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return listener


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # uvloop is not built for every platform (Windows): asyncio's loop serves the same
        return asyncio.new_event_loop
    return uvloop.new_event_loop


class BoundServer:
    """uvicorn on a socket bound before it runs, so that port 0 is known at once; `run()` serves until `stop()` or
    a signal, then releases the socket and whatever `closed()` says."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self._socket = listen(host, port)  # ServeError naming the address when it cannot be had
        self._uvicorn: uvicorn.Server | None = None

    def release(self) -> None:
        """Give the address back without serving (a start that failed after the socket was bound)."""
        self._socket.close()

    def serve_with(self, config: uvicorn.Config) -> None:
        self._uvicorn = uvicorn.Server(config)
        quiet_expected_ends()

    @property
    def base_url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host.strip('[]')}]"
        return f"http://{host}:{self._socket.getsockname()[1]}"

    def stop(self) -> None:
        """Ask the server to stop (from any thread or a signal handler); `run()` returns after the graceful drain."""
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True

    def run(self) -> None:
        """Serve until stopped: in-flight requests and streams get the graceful timeout, then are cancelled."""
        if self._uvicorn is None:
            raise RuntimeError("serve_with(config) comes before run()")
        try:
            with asyncio.Runner(loop_factory=loop_factory()) as runner:
                runner.run(self._uvicorn.serve(sockets=[self._socket]))
        finally:
            self.release()
            self.closed()

    def closed(self) -> None:
        """What to release once serving is over (nothing, here)."""


class Server(BoundServer):
    """The emulator app on a BoundServer, behind the ASGI front."""

    def __init__(self, settings: Settings, app: Any | None = None) -> None:
        self.settings = settings
        self.app = app if app is not None else create_app(settings)
        try:
            super().__init__(settings.host, settings.port)
        except ServeError:
            self._close_app()
            raise
        deadlines = ReadDeadlines(settings.read_timeout)
        self.front = AsgiFront(
            self.app,
            threads=settings.threads,
            max_body=MAX_BODY,
            read_timeout=settings.read_timeout,
            backlog_limit=settings.stream_backlog,
            on_served=log_access,
        )
        config = uvicorn.Config(
            with_read_deadlines(self.front, deadlines),
            http=deadlines.protocol_class(),
            ws="none",
            lifespan="off",
            interface="asgi3",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            headers=[("Server", "mockfabric")],
            limit_concurrency=CONNECTION_LIMIT,
            backlog=2048,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout),  # whole seconds: never shorter than asked
        )
        self.serve_with(config)

    def closed(self) -> None:
        self.front.close()
        self._close_app()

    def _close_app(self) -> None:
        emulator = getattr(self.app, "extensions", {}).get("mockfabric")
        if emulator is not None:
            emulator.close()


def serve(
    settings: Settings,
    out: TextIO = sys.stdout,
    install_signals: Callable[[Server], None] | None = None,
    notes: Sequence[str] = (),
) -> int:
    """Serve until SIGTERM/SIGINT. The first line printed starts `mockfabric serving on <base URL>`; `notes` follow it."""
    try:
        server = Server(settings)
    except (StateFileError, CredentialsError, CatalogError, ConfigError, FixtureError) as exc:
        raise ServeError(str(exc)) from None
    logged = configure_logging(settings, sys.stderr)
    (install_signals or _install_signal_handlers)(server)
    _calm_the_collector()
    seed = "random seed" if settings.seed is None else f"seed {settings.seed}"
    print(f"mockfabric serving on {server.base_url} (admin and ep planes; {seed}; Ctrl+C to stop)", file=out, flush=True)
    for note in notes:
        print(f"mockfabric: {note}", file=out, flush=True)
    try:
        server.run()
    except StateFileError as exc:  # the final save failed: the state of this run is not on disk
        raise ServeError(f"{exc}; the changes since the last good save are lost", exit_code=1) from None
    finally:
        logged.drain(LOG_DRAIN_SECONDS)
    _say("mockfabric stopped", out)
    return 0


def _say(line: str, out: TextIO) -> None:
    """A status line for whoever reads our output; nobody reading any more (a closed pipe) is no error at exit."""
    try:
        print(line, file=out, flush=True)
    except BrokenPipeError:
        if out is sys.stdout:  # what Python's docs advise: point stdout at /dev/null so the final flush is silent too
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


def _calm_the_collector() -> None:
    """For the server process only (not an app embedded in someone's tests): the start-up heap (contract, schemas,
    Flask) is frozen out of the cyclic collector's scans, and full collections are made 100x rarer. Each one
    walks every record and pauses every request and stream for as long, once thousands of resources exist; young
    cycles are still collected as before."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def _install_signal_handlers(server: Server) -> None:
    """Stop on SIGINT/SIGTERM. uvicorn captures both while it serves and hands them back here when it is done."""

    def handle(signum: int, frame: object) -> None:
        server.stop()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
