"""A `mockfabric proxy` in a background thread: port 0 on 127.0.0.1, ready when entered, stopped on exit."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

import requests

from mockfabric.proxy.server import ProxyServer, ProxySettings


class RunningProxy:
    def __init__(self, upstream: str, **settings: Any) -> None:
        self.server = ProxyServer(ProxySettings(upstream=upstream, port=0, **settings))
        self.thread = threading.Thread(target=self.server.run, name="mockfabric-proxy", daemon=True)

    @property
    def url(self) -> str:
        return self.server.base_url

    def report(self) -> dict[str, Any]:
        reply = requests.get(f"{self.url}/_mockfabric/proxy/report", timeout=10)
        assert reply.status_code == 200
        data: dict[str, Any] = reply.json()
        return data

    def findings(self) -> list[dict[str, Any]]:
        return [finding for result in self.report()["operations"].values() for finding in result["findings"]]

    def __enter__(self) -> RunningProxy:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.server.stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the proxy did not stop within 15 s"


class RunningAsgi:
    """Any ASGI app on uvicorn in a background thread (an upstream that misbehaves on purpose)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        from mockfabric.serving import listen

        self.socket = listen("127.0.0.1", 0)
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: self.server.run(sockets=[self.socket]), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def __enter__(self) -> RunningAsgi:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.socket.close()
