"""Calling a WSGI app for an ASGI request whose body is already read: the environ (PEP 3333) built from the scope,
the answer collected whole.

Collected whole because every answer of the emulator is in memory already: the one long answer, an invocation
stream, is handed over to the server instead (mockfabric.streaming). The call is plain and synchronous, so the
ASGI front can make it on the event loop itself for small requests (no thread hand-off: bench/SERVERS.md) and on a
worker thread for the rest.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
HEADERS_KEY = "mockfabric.headers"  # the request's headers as sent: [(lower-case name, value)], in order
_OWN_KEYS = {"content-length": "CONTENT_LENGTH", "content-type": "CONTENT_TYPE"}
_ENVIRON_KEYS: dict[str, str] = dict(_OWN_KEYS)  # header name -> environ key, as met


@dataclass(slots=True)
class WsgiAnswer:
    """What the app answered. `error`: its body raised after the head (a dropped connection, an injected cut); the
    chunks before it are in `body`, and the connection must be closed after them."""

    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    error: BaseException | None = None


def environ_of(scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The WSGI environ of an ASGI HTTP request: strings carry the raw bytes as latin-1, repeated headers are joined
    with commas, Content-Length and Content-Type have their own keys. The headers as sent (names not folded into
    environ keys) are under HEADERS_KEY too. `wsgi.input` is the whole body and says so (`wsgi.input_terminated`),
    so a chunked body, which declares no length, is read whole too."""
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = str(client[0]), str(client[1])
    headers = environ[HEADERS_KEY] = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
    for name, value in headers:
        key = _ENVIRON_KEYS.get(name)
        if key is None:
            key = _ENVIRON_KEYS[name] = "HTTP_" + name.upper().replace("-", "_")
            if len(_ENVIRON_KEYS) > 4096:  # names are the client's: a bounded cache, not one entry per hostile name
                _ENVIRON_KEYS.clear()
                _ENVIRON_KEYS.update(_OWN_KEYS)
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def call_wsgi(app: WsgiApp, environ: dict[str, Any]) -> WsgiAnswer:
    """Run the app to the end of its body. An exception before the head propagates (the server answers 500)."""
    answer = WsgiAnswer()

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        answer.status = int(status[:3])
        answer.headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        return answer.body.append  # the legacy write(): collected in order with the rest

    result = app(environ, start_response)
    try:
        for chunk in result:
            if chunk:
                answer.body.append(chunk)
    except ConnectionAbortedError as exc:  # the app asked for the connection to be dropped after what it wrote
        answer.error = exc
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answer
