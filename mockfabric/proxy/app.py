"""The proxy as an ASGI app: each request forwarded upstream as it came (credentials aside), the answer passed back
chunk by chunk as it arrives, then checked against the contract and recorded.

What must hold: status, headers (hop-by-hop ones aside) and body bytes reach the client unchanged, a stream chunk by
chunk with no buffering (a slow reader slows its own upstream read, never anyone else); an answer the upstream
cuts is cut for the client too, and so is one whose reader takes nothing for `read_timeout`. Bad input gets the
service's error body: a body over 12 MiB 413, a request body that stalls `read_timeout` 408, an upstream that
cannot be reached 502. Only loopback `Host` names are served and a foreign `Origin` is refused (the proxy signs with
your credentials: no web page may use it). Findings and recordings never stop the forwarding: a recording that
cannot be written is logged and the proxy serves on. An exchange is checked and recorded before its answer ends,
so a client that has the answer finds it recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2

from ..contracts import Contract
from ..errors import ApiError, BodyTooLarge, ForbiddenRequest, InternalError, MalformedRequest, RequestTimeout, UpstreamUnreachable
from ..web.errors import MAX_BODY
from ..web.guard import CONTROL_PREFIX, host_name, is_loopback_name
from .credentials import UpstreamCredentials
from .exchange import Exchange, Headers
from .inspection import Inspector
from .recording import Recorder
from .routes import Routes

log = logging.getLogger("mockfabric.proxy")
REPORT_PATH = "/_mockfabric/proxy/report"
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization"}
)
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length"}
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class ClientGone(Exception):
    """The client closed its connection before its request was read."""


class ProxyApp:
    def __init__(
        self,
        *,
        contract: Contract,
        upstream: str,
        ep_upstream: str | None,
        credentials: UpstreamCredentials,
        inspector: Inspector,
        recorder: Recorder | None = None,
        read_timeout: float = 10.0,
        upstream_timeout: float = 300.0,
    ) -> None:
        self.routes = Routes(contract.operations.values())
        self.upstream, self.ep_upstream = upstream.rstrip("/"), (ep_upstream or upstream).rstrip("/")
        self.credentials, self.inspector, self.recorder = credentials, inspector, recorder
        self.read_timeout = read_timeout
        self.timeout = httpx2.Timeout(upstream_timeout, connect=10.0)
        self.client: httpx2.AsyncClient | None = None
        self.seq = 0
        self._record_failing = False

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            try:
                await self._http(scope, receive, send)
            except ApiError as refused:  # before any answer went out
                await _answer(send, refused.status, refused.body())
            except ClientGone:
                return
            except ConnectionAbortedError:
                raise  # an answer cut on purpose: the server closes the connection
            except Exception:  # a bug of ours: the client gets the service's error body if nothing was sent yet
                log.exception("proxy failed on %s %s", scope.get("method"), scope.get("path"))
                with contextlib.suppress(Exception):
                    await _answer(send, 500, InternalError("the proxy failed; see its log").body())

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._client()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _client(self) -> httpx2.AsyncClient:
        if self.client is None:
            limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
            self.client = httpx2.AsyncClient(timeout=self.timeout, limits=limits, trust_env=False, follow_redirects=False)
        return self.client

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        _refuse_foreign(headers)
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        if path == REPORT_PATH and method == "GET":
            await _answer(send, 200, self.inspector.report_dict())
            return
        body = await self._body(receive)
        operation = self.routes.find(method, path)
        self.seq += 1
        exchange = Exchange(self.seq, operation, method, path, query, headers, body)
        base = self.ep_upstream if operation is not None and operation.plane == "ep" else self.upstream
        raw_path: bytes = scope.get("raw_path") or b""
        sent_path = raw_path.decode("ascii") if raw_path.isascii() and raw_path else path  # as the client escaped it
        url = upstream_url(base, sent_path, query)
        forwarded = [(k, v) for k, v in headers if k.lower() not in NOT_FORWARDED]
        url, forwarded = self.credentials.apply(method, url, forwarded, body)
        client = self._client()
        try:
            as_sent = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in forwarded]  # bytes as they came, any charset
            response = await client.send(client.build_request(method, url, headers=as_sent, content=body), stream=True)
        except httpx2.HTTPError as exc:
            log.error("upstream %s failed for %s %s: %s", base, method, path, type(exc).__name__)
            raise UpstreamUnreachable(f"the upstream {base} did not answer: {type(exc).__name__} {exc}"[:500]) from None
        try:
            last = await self._relay_while_present(response, exchange, send, receive)
        finally:
            await response.aclose()  # a client gone: the upstream connection closes at once, its model stops
            if not path.startswith(CONTROL_PREFIX):  # checked and recorded before the client sees the end of it
                await self._finish(exchange)
        if last is not None:
            await send({"type": "http.response.body", "body": last, "more_body": False})

    async def _relay_while_present(self, response: httpx2.Response, exchange: Exchange, send: Send, receive: Receive) -> bytes | None:
        """`_relay`, given up when the client leaves (the server's next message after the body can only say so):
        None then, and the exchange notes it."""
        relay = asyncio.ensure_future(self._relay(response, exchange, send))
        gone = asyncio.ensure_future(receive())
        try:
            await asyncio.wait({relay, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not relay.done():
                relay.cancel()
                exchange.client_cut = "the client left mid-answer"
                await asyncio.gather(relay, return_exceptions=True)
        return None if exchange.client_cut is not None and relay.cancelled() else relay.result()

    async def _body(self, receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except TimeoutError:
                raise RequestTimeout(f"the request body stopped arriving for {self.read_timeout:g} s") from None
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise BodyTooLarge(f"request body exceeds {MAX_BODY} bytes")  # answered with the gateway's documented text
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _relay(self, response: httpx2.Response, exchange: Exchange, send: Send) -> bytes:
        """Status and headers, then each piece of the body as the upstream sends it, but the end of it: the piece
        that completes a declared Content-Length (a client has the answer once it has that many bytes) is returned
        unsent, as is nothing (b"") for an answer without one."""
        raw = [(k, v) for k, v in response.headers.raw if k.decode("latin-1").lower() not in HOP_BY_HOP]  # bytes as sent
        exchange.answered(response.status_code, [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw])
        await send({"type": "http.response.start", "status": response.status_code, "headers": raw})
        declared = response.headers.get("content-length")
        remaining = int(declared) if declared is not None and declared.isdigit() else -1
        try:
            async for piece in response.aiter_raw():
                exchange.took(piece)
                remaining -= len(piece)
                if remaining == 0:
                    return piece
                async with asyncio.timeout(self.read_timeout):  # a reader that takes nothing holds no upstream for ever
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
        except httpx2.HTTPError as exc:  # the upstream cut its answer: cut it for the client too
            exchange.cut_short = f"the upstream cut the answer ({type(exc).__name__})"
            raise ConnectionAbortedError(exchange.cut_short) from None
        except TimeoutError:
            exchange.client_cut = f"the client took nothing for {self.read_timeout:g} s: its answer was cut"
            log.warning("%s %s: %s", exchange.method, exchange.path, exchange.client_cut)
            raise ConnectionAbortedError(exchange.client_cut) from None
        finally:
            exchange.ended()
        return b""

    async def _finish(self, exchange: Exchange) -> None:
        name = self.recorder.name_of(exchange) if self.recorder is not None else None
        self.inspector.inspect(exchange, name)
        if self.recorder is None:
            return
        try:
            await asyncio.to_thread(self.recorder.write, exchange)
            self._record_failing = False
        except OSError as exc:
            if not self._record_failing:
                log.error("cannot write recording %s: %s (forwarding goes on)", name, exc.strerror or exc)
            self._record_failing = True


def upstream_url(base: str, target: str, query: str) -> str:
    """The URL a request goes to: `base` and the request's path, never another host. A target that is not a path
    (`*`, `*@host:port/x`, anything not starting with one `/`, or with a `#`) or a URL whose origin is not the base's is refused
    (400, MalformedRequest): the proxy sends its credentials, so it talks only to its configured upstreams."""
    if not target.startswith("/") or target.startswith("//") or "#" in target:
        raise MalformedRequest(f"request target {target[:100]!r} is not a path: the proxy forwards paths to its upstream only")
    try:
        url, origin = httpx2.URL(base + target + (f"?{query}" if query else "")), httpx2.URL(base)
    except httpx2.InvalidURL as exc:
        raise MalformedRequest(f"request target {target[:100]!r} does not make a URL: {exc}"[:300]) from None
    if (url.scheme, url.userinfo, url.host, url.port) != (origin.scheme, origin.userinfo, origin.host, origin.port):
        raise MalformedRequest(f"request target {target[:100]!r} names another host than the upstream")
    return str(url)


def _refuse_foreign(headers: Headers) -> None:
    host = next((v for k, v in headers if k.lower() == "host"), "")
    if not is_loopback_name(host_name(host)):
        raise ForbiddenRequest(f"Host {host[:100]!r} is not a loopback name: the proxy serves local clients only")
    origin = next((v for k, v in headers if k.lower() == "origin"), None)
    if origin is not None and origin != f"http://{host}":
        raise ForbiddenRequest(f"cross-site request from {origin[:100]!r} refused")


async def _answer(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
