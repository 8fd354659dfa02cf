"""`mockfabric serve`: the app on waitress, one process, with a graceful stop on SIGINT/SIGTERM.

waitress was chosen by measurement (bench/SERVERS.md): the best small-request throughput of the servers tried
and, with a large thread pool, hundreds of concurrent streams; it has no worker processes, so the in-memory
state cannot be split between processes by configuration.
"""

from __future__ import annotations

import gc
import json
import logging
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TextIO

from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask, WSGITask

from .config import Settings
from .identities import CredentialsError
from .pacing import ENVIRON_KEY as PACER_KEY
from .pacing import Pacer
from .persistence import StateFileError
from .web.app import create_app
from .web.invocations import StreamCut

FULL_COLLECTION_EVERY = 1000  # gen-1 collections per full one (CPython's default: 10)


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
        body = json.dumps(
            {"error_code": "common.01000001", "error_msg": f"failed to read http request: {error.reason}: {error.body}"[:512]}
        )
        payload = body.encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        headers: Any = self.response_headers
        headers.extend([("Content-Type", "application/json"), ("X-Request-Id", uuid.uuid4().hex)])
        self.set_close_on_finish()
        self.content_length = len(payload)
        self.write(payload)


class _PacedTask(WSGITask):
    """Offers the app the server's pacing thread and a writer that thread may call (mockfabric.pacing).

    waitress's own `write` costs ~60 us a chunk from another thread (buffer objects, locks, its flush loop),
    which at 25 000 chunks/s is more than the core. After the status line and headers, which go through
    waitress, a chunk is framed here and sent straight to the socket when nothing waits in waitress's buffers,
    and queued behind them otherwise, so order is kept and a slow reader is buffered by waitress as usual."""

    def get_environment(self) -> Any:
        environ = super().get_environment()
        server: Any = self.channel.server
        environ[PACER_KEY] = (server.mockfabric_pacer, self._write_from_pacer)
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
            if not channel.total_outbufs_len:
                try:
                    data = data[channel.socket.send(data) :]
                except BlockingIOError:
                    pass
                except OSError:
                    raise ClientDisconnected from None
            if data:
                channel.write_soon(data)


class _HuaweiChannel(HTTPChannel):
    error_task_class = _HuaweiErrorTask
    task_class = _PacedTask


class ServeError(RuntimeError):
    """Start-up failed (port taken, bad address); the message is one line for the terminal."""


class Server:
    """A bound waitress server around the emulator app; `run()` serves until `stop()` or a signal."""

    def __init__(self, settings: Settings, app: Any | None = None) -> None:
        self.settings = settings
        self.app = app if app is not None else create_app(settings)
        self.pacer = Pacer()
        try:
            # Typed Any: the event-loop internals used for draining (_map, accepting, active_channels) are not in the stubs.
            server: Any = create_server(
                self.app,
                host=settings.host,
                port=settings.port,
                threads=settings.threads,
                connection_limit=max(1000, settings.threads * 2),
                backlog=2048,
                channel_timeout=300,
                ident="mockfabric",
                clear_untrusted_proxy_headers=True,
            )
            server.channel_class = _HuaweiChannel  # this server only: waitress's class stays untouched
            server.mockfabric_pacer = self.pacer
        except OSError as exc:
            self.pacer.close()
            self._close_app()
            raise ServeError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
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
        server = self._server
        while not self._stop.is_set():
            server.asyncore.loop(timeout=0.5, map=server._map, use_poll=True, count=1)
        self._drain()

    def _drain(self) -> None:
        """Stop accepting, let in-flight requests finish (bounded by shutdown_timeout), then close."""
        server = self._server
        server.accepting = False
        deadline = time.monotonic() + self.settings.shutdown_timeout
        while time.monotonic() < deadline and _busy(server):
            server.asyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.1, deadline - time.monotonic()))
        server.close()
        for channel in list(server._map.values()):
            channel.close()
        self.pacer.close()
        self._close_app()

    def _close_app(self) -> None:
        emulator = getattr(self.app, "extensions", {}).get("mockfabric")
        if emulator is not None:
            emulator.close()


def _busy(server: Any) -> bool:
    return any(getattr(ch, "requests", None) or getattr(ch, "total_outbufs_len", 0) for ch in list(server.active_channels.values()))


def serve(settings: Settings, out: TextIO = sys.stdout, install_signals: Callable[[Server], None] | None = None) -> int:
    try:
        server = Server(settings)
    except (StateFileError, CredentialsError) as exc:
        raise ServeError(str(exc)) from None
    (install_signals or _install_signal_handlers)(server)
    _calm_the_collector()
    print(f"mockfabric serving on {server.base_url} (admin and ep planes; Ctrl+C to stop)", file=out, flush=True)
    server.run()
    print("mockfabric stopped", file=out, flush=True)
    return 0


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
