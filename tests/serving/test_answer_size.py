"""A small request that asks for a huge answer, over real sockets (issue 28, item 2): one 64 KB echo request with
`n=16` and `max_tokens=32768` asks for ~520 000 chunks. Its chunks are made as the stream takes them: an unread
stream of it holds its texts only, and what it held is given back when its client leaves. The long version (20
unread streams, RSS of a `mockfabric serve` process, the loop's time in /healthcheck latency) is
bench/answer_size.py."""

from __future__ import annotations

import gc
import json
import socket
import time
import tracemalloc
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from mockfabric import MockFabric

from .flow import Deployed, deploy

MESSAGE = "a " * 32500  # ~32 500 tokens; the body stays within 64 KiB, so it is answered on the event loop
HUGE = {"messages": [{"role": "user", "content": MESSAGE}], "n": 16, "max_tokens": 32768, "stream": True}


@pytest.fixture(scope="module")
def echoing() -> Iterator[MockFabric]:
    with MockFabric(completion_mode="echo", read_timeout=30) as fabric:
        yield fabric


@pytest.fixture
def deployed(echoing: MockFabric) -> Deployed:
    return deploy(echoing.for_tenant())


def open_stream(deployed: Deployed, body: dict[str, object], receive_buffer: int | None = 4096) -> socket.socket:
    """The request sent on a socket that takes little (a small receive buffer, unless None) and is not read."""
    url = urlsplit(deployed.invoke_url)
    data = json.dumps(body).encode()
    headers = "".join(f"{name}: {value}\r\n" for name, value in deployed.session.headers.items() if name.lower().startswith("x-"))
    head = (
        f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n{headers}Content-Length: {len(data)}\r\n\r\n"
    )
    client = socket.create_connection((url.hostname, url.port), timeout=30)
    if receive_buffer is not None:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    client.sendall(head.encode() + data)
    return client


def first_bytes(client: socket.socket) -> bytes:
    """What the server sent first: the head, and the start of the body once its first chunk is made."""
    received = b""
    while b"data: " not in received:
        part = client.recv(4096)
        assert part, received
        received += part
    return received


def wait_until_left(deployed: Deployed, count: int, deadline: float = 30.0) -> None:
    """Until the journal says `count` streams of this tenant ended because their client left."""
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        outcomes = [entry.get("outcome") or "" for entry in deployed.fabric.requests(operation="InvokeModelService")]
        if sum("left" in outcome for outcome in outcomes) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server did not see the clients leave: {outcomes}")


def test_unread_huge_streams_hold_little_and_give_it_back_when_their_clients_leave(deployed: Deployed) -> None:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        clients = [open_stream(deployed, HUGE) for _ in range(2)]
        for client in clients:
            first_bytes(client)  # the stream is under way; nothing more is read
        held = tracemalloc.get_traced_memory()[0] - before
        for client in clients:
            client.close()
        wait_until_left(deployed, 2)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # before: each such stream held ~120 MB (a dict per chunk to come) the moment it started
    assert held < 8 * 1024 * 1024, held
    assert kept < 2 * 1024 * 1024, kept
