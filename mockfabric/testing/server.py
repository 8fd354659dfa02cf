"""A real-socket emulator in a background thread: port 0 on 127.0.0.1, ready when `start()` returns, quick to stop.

It runs the same uvicorn server as `mockfabric serve`, so tests exercise the production serving path
(chunked streaming included), with a smaller thread pool that starts fast.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from ..config import Settings
from ..serving import Server

TEST_THREADS = 32


class ThreadedServer:
    def __init__(self, app: Any, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.settings = settings.replace(
            host="127.0.0.1", port=0, threads=min(settings.threads, TEST_THREADS), shutdown_timeout=min(settings.shutdown_timeout, 2.0)
        )
        self.app = app
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        return self._server.base_url

    def start(self) -> ThreadedServer:
        # The socket is bound and listening before the thread starts: connections queue until the loop runs.
        self._server = Server(self.settings, self.app)
        self._thread = threading.Thread(target=self._server.run, name="mockfabric-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError("mockfabric server thread did not stop within 10 s")
        self._server, self._thread = None, None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
