"""The proxy talks only to its configured upstream, whatever the request line, Host or absolute-form URI names
(issue 28, item 1): a request target such as `*@HOST:PORT/x` used to be sent to HOST:PORT with the proxy's token.

Over real sockets: a canary server stands where the hostile targets point; it must never be reached, and every
such request gets a 400 in the service's error format, while the proxy keeps serving."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from mockfabric import MockFabric

from .running import RunningAsgi, RunningProxy

SECRET = "the-proxys-own-token"


class Canary:
    """An ASGI app that notes every request it gets (what a hostile target would send the proxy's credential to)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"canary"})


@pytest.fixture(scope="module")
def canary() -> Iterator[tuple[Canary, int]]:
    app = Canary()
    with RunningAsgi(app) as served:
        yield app, int(served.url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def proxy() -> Iterator[RunningProxy]:
    with MockFabric() as upstream, RunningProxy(upstream.base_url, token=SECRET) as running:
        yield running


def exchange(proxy: RunningProxy, request_line: str, host: str = "127.0.0.1") -> tuple[int, bytes]:
    """One raw request on its own connection: (status, body)."""
    port = int(proxy.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(f"{request_line}\r\nHost: {host}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}".encode())
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("target", ["*@127.0.0.1:{port}/v1/workspaces", "*", "//127.0.0.1:{port}/v1/workspaces"])
def test_a_target_that_is_not_a_path_is_refused_and_reaches_no_other_host(
    proxy: RunningProxy, canary: tuple[Canary, int], target: str
) -> None:
    seen, port = canary
    status, body = exchange(proxy, f"POST {target.format(port=port)} HTTP/1.1")
    assert status == 400, body[:300]
    error = json.loads(body)
    assert set(error) == {"error_code", "error_msg"} and error["error_code"] == "common.01000001", error
    assert seen.seen == [], "the canary was reached"
    assert exchange(proxy, "GET /v1/workspaces HTTP/1.1")[0] == 200  # and the proxy serves on


def test_a_target_the_parser_refuses_reaches_nothing(proxy: RunningProxy, canary: tuple[Canary, int]) -> None:
    """The parser refuses `@host:port/x` before the proxy app sees it: a 400 in the service's error format too."""
    seen, port = canary
    status, body = exchange(proxy, f"POST @127.0.0.1:{port}/v1/workspaces HTTP/1.1")
    assert status == 400 and json.loads(body)["error_code"] == "common.01000001", body[:300]
    assert seen.seen == [] and exchange(proxy, "GET /v1/workspaces HTTP/1.1")[0] == 200


def test_an_absolute_uri_or_a_foreign_host_goes_to_the_upstream_or_nowhere(proxy: RunningProxy, canary: tuple[Canary, int]) -> None:
    seen, port = canary
    status, body = exchange(proxy, f"GET /v1/workspaces#@127.0.0.1:{port}/ HTTP/1.1")  # the parser drops the fragment
    assert status == 200 and "workspaces" in json.loads(body)
    status, body = exchange(proxy, f"GET http://127.0.0.1:{port}/v1/workspaces HTTP/1.1")
    assert status in (200, 400), body[:300]
    assert b"canary" not in body
    if status == 200:
        assert "workspaces" in json.loads(body)  # the upstream's answer, not the canary's
    assert exchange(proxy, "GET /v1/workspaces HTTP/1.1", host=f"127.0.0.1:{port}")[0] == 200  # Host names no upstream
    assert seen.seen == []
