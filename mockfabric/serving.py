"""`mockfabric serve`: the app on waitress, one process, with a graceful stop on SIGINT/SIGTERM.

waitress was chosen by measurement (bench/SERVERS.md): the best small-request throughput of the servers tried
and, with a large thread pool, hundreds of concurrent streams; it has no worker processes, so the in-memory
state cannot be split between processes by configuration.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask, WSGITask

from . import contracts
from .config import Settings
from .domain.catalog import CatalogError
from .errors import BodyTooLarge, MalformedRequest
from .identities import CredentialsError
from .pacing import ENVIRON_KEY as PACER_KEY
from .pacing import PacedStream, Pacer, Step, Writer
from .persistence import StateFileError
from .web.app import create_app
from .web.errors import MAX_BODY
from .web.front import note_outcome
from .web.invocations import StreamCut

STREAM_BUFFER_BYTES = 4 * 1024 * 1024  # what a reader may leave unread before its stream is cut
IDLE_SECONDS = 30  # a connection with no request in progress and no traffic for this long is closed (half-sent ones too)
log = logging.getLogger("mockfabric")
FULL_COLLECTION_EVERY = 1000  # gen-1 collections per full one (CPython's default: 10)
SETUP_TURN = 0.005  # the longest the event loop waits for one request's set-up (~0.5 ms normally) before moving on
LONGEST_TURN = 0.5  # seconds the event loop sleeps at most, so a stop is seen even without a wake-up


class _InjectedCuts(logging.Filter):
    """waitress logs every exception a response body raises; a connection cut by a fault rule is not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], StreamCut))


def _quiet_injected_cuts() -> None:
    logger = logging.getLogger("waitress")
    if not any(isinstance(f, _InjectedCuts) for f in logger.filters):
        logger.addFilter(_InjectedCuts())


class _HuaweiErrorTask(ErrorTask):
    """Requests waitress cannot even parse (bad header, oversized header block, broken chunking) answer in the
    service's error format too, instead of waitress's plain-text page."""

    def execute(self) -> None:
        error: Any = getattr(self.request, "error", None)  # the parse error waitress recorded on the request
        code = BodyTooLarge.error_code if error.code == 413 else MalformedRequest.error_code
        body = json.dumps({"error_code": code, "error_msg": f"failed to read http request: {error.reason}: {error.body}"[:512]})
        payload = body.encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        headers: Any = self.response_headers
        headers.extend([("Content-Type", "application/json"), ("X-Request-Id", uuid.uuid4().hex)])
        self.set_close_on_finish()
        self.content_length = len(payload)
        self.write(payload)


class _PacedTask(WSGITask):
    """Offers the app the server's pacer and a writer the event loop may call (mockfabric.pacing), and tells the loop
    when this request no longer needs its turn: once its stream is handed over, or once it is answered.

    waitress's own `write` costs ~60 us a chunk from another thread (buffer objects, locks, its flush loop),
    which at 25 000 chunks/s is more than the core. After the status line and headers, which go through
    waitress, a chunk is framed here and sent straight to the socket when nothing waits in waitress's buffers,
    and queued behind them otherwise, so order is kept and a slow reader is buffered by waitress as usual."""

    _set_up: threading.Event | None = None  # the loop waits on it for this request's set-up (see _SetupsInTurn)

    def service(self) -> None:
        channel: Any = self.channel
        self._set_up = channel.set_up  # this request's, read before its answer lets the channel take the next one
        try:
            super().service()
        finally:
            if self._set_up is not None:
                self._set_up.set()

    def get_environment(self) -> Any:
        environ = super().get_environment()
        server: Any = self.channel.server
        environ[PACER_KEY] = (_Handover(server.mockfabric_pacer, self._set_up), self._write_from_pacer)
        return environ

    def _write_from_pacer(self, data: bytes) -> None:
        if not self.wrote_header:
            self.write(data)
            return
        if self.chunked_response:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        channel: Any = self.channel
        with channel.outbuf_lock:  # a re-entrant lock: write_soon below takes it again
            if not channel.connected:
                raise ClientDisconnected
            if channel.total_outbufs_len + len(data) > STREAM_BUFFER_BYTES:
                # The event loop calls this: it must never wait for a buffer that only it can drain (waitress's
                # write_soon would, past its high watermark). A reader this far behind loses its stream instead.
                outcome = f"stream cut: the client left {channel.total_outbufs_len} bytes unread (limit {STREAM_BUFFER_BYTES})"
                log.warning(outcome)
                if self.environ is not None:
                    note_outcome(self.environ, outcome)
                raise ClientDisconnected("reader too slow")
            if not channel.total_outbufs_len:
                try:
                    data = data[channel.socket.send(data) :]
                except BlockingIOError:
                    pass
                except OSError:
                    raise ClientDisconnected from None
            if data:
                channel.write_soon(data)


class _Handover:
    """The pacer as offered to one request: handing a stream over also ends the request's turn (see _SetupsInTurn)."""

    def __init__(self, pacer: Pacer, set_up: threading.Event | None) -> None:
        self._pacer, self._set_up = pacer, set_up

    def stream(self, steps: Iterator[Step], write: Writer) -> PacedStream:
        paced = self._pacer.stream(steps, write)
        if self._set_up is not None:
            self._set_up.set()
        return paced


class _SetupsInTurn:
    """waitress's task dispatcher, with streams first. A request that may open a stream, and any request while streams
    are being paced, is handed to a worker thread while the event loop waits for it to be set up (answered, or its
    stream handed over), at most SETUP_TURN; then the loop writes the chunks that fell due meanwhile.

    So one thread runs Python at a time, and the pacer's `send` calls (each releases the GIL) are not overtaken by
    hundreds of threads setting up new streams: with 500 streams opened at once the p99 gap went from ~55 ms to
    ~26 ms (bench/STREAMING.md). New streams wait their turn instead: time to first byte grows. A request that takes
    longer than SETUP_TURN (an injected latency, a full thread pool) simply runs on alongside the loop."""

    def __init__(self, threads: Any, pacer: Pacer) -> None:
        self._threads, self._pacer, self._openers = threads, pacer, _stream_openers()
        self.loop_thread: int | None = None  # set by the loop; requests queued from worker threads (pipelining) never wait

    def add_task(self, channel: Any) -> None:
        request = channel.requests[0]
        wanted = self._pacer.busy or _may_stream(request, self._openers)
        # a request waitress could not parse gets a canned error answer: nothing to wait for
        in_turn = wanted and not request.error and threading.get_ident() == self.loop_thread
        set_up = channel.set_up = threading.Event() if in_turn else None
        self._threads.add_task(channel)
        if set_up is not None:
            set_up.wait(SETUP_TURN)
            self._pacer.send_due()

    def __getattr__(self, name: str) -> Any:  # shutdown, set_thread_count, ...: waitress's own
        return getattr(self._threads, name)


def _stream_openers() -> frozenset[tuple[str, str]]:
    """(method, last path segment) of each operation the contract may answer with an event stream (the invocation)."""
    contract = contracts.public_contract()
    return frozenset(
        (operation.method, "/" + operation.path.rsplit("/", 1)[1])
        for operation in contract.operations.values()
        if any("text/event-stream" in contract.resolve(answer).get("content", {}) for answer in operation.spec["responses"].values())
    )


def _may_stream(request: Any, openers: frozenset[tuple[str, str]]) -> bool:
    """Whether the request is for an operation that may answer with a stream. One waitress could not parse has neither
    method nor path: it is answered with an error, never a stream."""
    path = getattr(request, "path", None)
    return isinstance(path, str) and (getattr(request, "command", None), path[path.rfind("/") :]) in openers


class _HuaweiChannel(HTTPChannel):
    error_task_class = _HuaweiErrorTask
    task_class = _PacedTask
    set_up: threading.Event | None = None  # set by _SetupsInTurn for the request being dispatched


class ServeError(RuntimeError):
    """Serving failed; the message is one line for the terminal. `exit_code` 2: the start was refused (a file or
    address that cannot be used); 1: serving ran but its end failed (the final state save)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Server:
    """A bound waitress server around the emulator app; `run()` serves until `stop()` or a signal."""

    def __init__(self, settings: Settings, app: Any | None = None) -> None:
        self.settings = settings
        self.app = app if app is not None else create_app(settings)
        try:
            # Typed Any: the event-loop internals used for draining (_map, accepting, active_channels) are not in the stubs.
            server: Any = create_server(
                self.app,
                host=settings.host,
                port=settings.port,
                threads=settings.threads,
                connection_limit=max(4096, settings.threads * 4),  # idle or half-sent clients leave room for new ones
                backlog=2048,
                channel_timeout=IDLE_SECONDS,
                cleanup_interval=5,
                max_request_body_size=MAX_BODY,  # refused with 413 as soon as the length is known, never read past
                inbuf_overflow=MAX_BODY + 65536,  # bodies up to the limit stay in memory: nothing spooled to disk
                outbuf_overflow=2 * STREAM_BUFFER_BYTES,  # answers are buffered in memory, never in temporary files
                ident="mockfabric",
                clear_untrusted_proxy_headers=True,
            )
        except OSError as exc:
            self._close_app()
            raise ServeError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
        server.channel_class = _HuaweiChannel  # this server only: waitress's class stays untouched
        self.pacer = server.mockfabric_pacer = Pacer(wake=server.pull_trigger)
        server.task_dispatcher = self._setups = _SetupsInTurn(server.task_dispatcher, self.pacer)
        self._server: Any = server
        self._stop = threading.Event()
        _quiet_injected_cuts()

    @property
    def base_url(self) -> str:
        host = self.settings.host if ":" not in self.settings.host else f"[{self.settings.host}]"
        return f"http://{host}:{self._server.effective_port}"

    def stop(self) -> None:
        self._stop.set()
        self._server.pull_trigger()  # wake the event loop so it sees the request at once

    def run(self) -> None:
        self._setups.loop_thread = threading.get_ident()
        while not self._stop.is_set():
            self._turn(LONGEST_TURN)
        self._drain()

    def _turn(self, longest: float) -> None:
        """One turn of waitress's event loop, asleep no longer than until the next chunk is due; then the due chunks."""
        server, due = self._server, self.pacer.due_in()
        # waitress's poll takes whole milliseconds, rounded down: round up, or the loop spins until the chunk is due
        timeout = longest if due is None else min(longest, max(0.0, math.ceil(due * 1000) / 1000))
        server.asyncore.loop(timeout=timeout, map=server._map, use_poll=True, count=1)
        self.pacer.send_due()

    def _drain(self) -> None:
        """Stop accepting, let in-flight requests and streams finish (bounded by shutdown_timeout), then close."""
        server = self._server
        server.accepting = False
        deadline = time.monotonic() + self.settings.shutdown_timeout
        while time.monotonic() < deadline and _busy(server):
            self._turn(0.05)
        self.pacer.close()  # streams still open end now, so their threads finish instead of holding up the shutdown
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.1, deadline - time.monotonic()))
        server.close()
        for channel in list(server._map.values()):
            channel.close()
        self._close_app()

    def _close_app(self) -> None:
        emulator = getattr(self.app, "extensions", {}).get("mockfabric")
        if emulator is not None:
            emulator.close()


def _busy(server: Any) -> bool:
    return any(getattr(ch, "requests", None) or getattr(ch, "total_outbufs_len", 0) for ch in list(server.active_channels.values()))


def serve(
    settings: Settings,
    out: TextIO = sys.stdout,
    install_signals: Callable[[Server], None] | None = None,
    notes: Sequence[str] = (),
) -> int:
    """Serve until SIGTERM/SIGINT. The first line printed starts `mockfabric serving on <base URL>`; `notes` follow it."""
    try:
        server = Server(settings)
    except (StateFileError, CredentialsError, CatalogError) as exc:
        raise ServeError(str(exc)) from None
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
    walked every record and paused all requests and streams for 50-80 ms once thousands of resources existed
    (bench/BENCHMARKS.md); young cycles are still collected as before."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def _install_signal_handlers(server: Server) -> None:
    def handle(signum: int, frame: object) -> None:
        server.stop()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
