"""A client that half-closes its side after sending the request (`shutdown(SHUT_WR)`, what `nc -N` and some proxies
do) still gets its whole answer (issue 28, item 9): a paced stream used to end after its first chunk. Over real
sockets, on the emulator and through the proxy; a client that half-closes with nothing asked is simply closed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from ..proxy.running import RunningProxy
from .flow import Deployed, fresh_deployment
from .sockets import read_until_closed


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    with fresh_deployment() as found:
        found.fabric.set_timing(found.instance, ttft_ms=50, itl_ms=20)
        yield found


def half_closed_stream(base_url: str, path: str, headers: dict[str, str]) -> bytes:
    body = json.dumps({"messages": [{"role": "user", "content": "tell me a story"}], "stream": True, "max_tokens": 12}).encode()
    named = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{named}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", int(base_url.rsplit(":", 1)[1])), timeout=10) as client:
        client.sendall(head.encode() + body)
        client.shutdown(socket.SHUT_WR)
        return read_until_closed(client, seconds=20)


def test_a_half_closed_client_gets_its_whole_paced_stream(deployed: Deployed) -> None:
    path = deployed.invoke_url.removeprefix(deployed.fabric.base_url)
    answer = half_closed_stream(deployed.fabric.base_url, path, deployed.fabric.headers)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert answer.count(b"data: {") >= 5 and b"data: [DONE]" in answer, answer[-500:]


def test_a_half_closed_client_gets_its_whole_stream_through_the_proxy(deployed: Deployed) -> None:
    path = deployed.invoke_url.removeprefix(deployed.fabric.base_url)
    with RunningProxy(deployed.fabric.base_url, token="proxy-token") as proxy:
        answer = half_closed_stream(proxy.url, path, {"X-Project-Id": deployed.fabric.tenant or ""})
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert answer.count(b"data: {") >= 5 and b"data: [DONE]" in answer, answer[-500:]


def test_a_client_that_half_closes_having_asked_nothing_is_closed(deployed: Deployed) -> None:
    with socket.create_connection(("127.0.0.1", int(deployed.fabric.base_url.rsplit(":", 1)[1])), timeout=10) as client:
        client.shutdown(socket.SHUT_WR)
        assert read_until_closed(client, seconds=5) == b""
