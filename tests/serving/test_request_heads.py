"""Request heads are bounded before they are parsed (issue 28, item 4): a 64 MB header line took the parser seconds of
the event loop, stalling every client. A head over 64 KiB is answered 431 in the service's error format and the
connection closed; a body, however large, and pipelined requests are not counted as head. Over real sockets, on the
emulator and on the proxy (which serve through the same protocol)."""

from __future__ import annotations

import contextlib
import json
import select
import socket
from collections.abc import Iterator

import pytest

from mockfabric import MockFabric
from mockfabric.serving import MAX_HEAD

from ..proxy.running import RunningProxy
from .flow import deploy
from .sockets import read_until_closed

PIECE = 4096
WAIT_FOR_ANSWER = 0.05  # seconds to look for an answer after each piece sent


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with MockFabric() as fabric:
        yield fabric.base_url


@pytest.fixture(scope="module")
def proxy(emulator: str) -> Iterator[str]:
    with RunningProxy(emulator, token="proxy-token") as running:
        yield running.url


def address(url: str) -> tuple[str, int]:
    return "127.0.0.1", int(url.rsplit(":", 1)[1])


def send_a_growing_header(url: str, total: int) -> tuple[bytes, int]:
    """A head with one header line of up to `total` bytes, sent a piece at a time until an answer comes."""
    first = b"GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "
    return send_until_closed(url, first, b"a" * PIECE, total, last=b"\r\nConnection: close\r\n\r\n")


def send_until_closed(url: str, first: bytes, piece: bytes, total: int, last: bytes = b"") -> tuple[bytes, int]:
    """Sends `first`, then `piece` until `total` bytes (then `last`) or until an answer arrives (so that the server is
    not left with unread bytes); what came back and how many bytes of pieces were sent."""
    with socket.create_connection(address(url), timeout=10) as client:
        client.sendall(first)
        sent = 0
        while sent < total:
            try:
                client.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
            if select.select([client], [], [], WAIT_FOR_ANSWER)[0]:
                break
        else:
            client.sendall(last)
        return read_until_closed(client), sent


def create_head(length: int) -> bytes:
    """The head of a CreateWorkspace request with a body of `length` bytes, closing the connection after."""
    return (
        f"POST /v1/workspaces HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: t\r\nX-Project-Id: heads\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


def assert_serves_on(url: str) -> None:
    with socket.create_connection(address(url), timeout=10) as client:
        client.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert status_and_body(read_until_closed(client))[0] == 200


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("server", ["emulator", "proxy"])
def test_a_head_over_64_kib_is_refused_431_before_the_rest_is_read(server: str, request: pytest.FixtureRequest) -> None:
    url: str = request.getfixturevalue(server)
    answer, sent = send_a_growing_header(url, total=16 * MAX_HEAD)
    status, body = status_and_body(answer)
    assert status == 431 and b"connection: close" in answer.lower(), answer[:300]
    assert json.loads(body)["error_code"] == "common.00000431"
    assert sent <= 2 * MAX_HEAD, f"the server read {sent} bytes of head before refusing"
    assert_serves_on(url)


def test_a_head_just_under_the_bound_is_served(emulator: str) -> None:
    answer, _ = send_a_growing_header(emulator, total=MAX_HEAD - 2 * PIECE)
    assert status_and_body(answer)[0] == 200, answer[:300]


def test_a_large_body_sent_with_its_head_in_one_write_is_not_counted_as_head(emulator: str) -> None:
    body = json.dumps({"name": "big", "description": "d" * 1_000_000}).encode()
    head = create_head(len(body))
    with socket.create_connection(address(emulator), timeout=10) as client:
        client.sendall(head + body)
        status, answer = status_and_body(read_until_closed(client))
    assert status == 400 and json.loads(answer)["error_code"].startswith("dataartsfabric."), answer[:300]


def test_pipelined_requests_each_get_their_own_bound(emulator: str) -> None:
    padding = "p" * (MAX_HEAD - 1024)  # each head alone is under the bound, the two together are not
    one = f"GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {padding}\r\n\r\n"
    two = f"GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {padding}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(address(emulator), timeout=10) as client:
        client.sendall((one + two).encode())
        answers = read_until_closed(client)
    assert answers.count(b"HTTP/1.1 200") == 2, answers[:300]


def test_a_trailer_over_the_bound_is_refused_like_a_head(emulator: str) -> None:
    """Trailers of a chunked body are parsed like headers (joined piece by piece): a 64 MB one froze the loop."""
    chunked = b"POST /v1/workspaces HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer, sent = send_until_closed(emulator, chunked + b"5\r\nhello\r\n0\r\nX-Trailer: ", b"a" * PIECE, 16 * MAX_HEAD)
    assert sent <= 2 * MAX_HEAD, f"the server read {sent} bytes of trailer"
    assert b"HTTP/1.1 200" not in answer and b"HTTP/1.1 201" not in answer, answer[:300]
    assert_serves_on(emulator)


def test_a_blank_line_split_between_two_reads_does_not_count_the_body_as_head(emulator: str) -> None:
    body = json.dumps({"name": "split", "description": "d" * 200_000}).encode()
    head = create_head(len(body))
    for split in (1, 2, 3):
        with socket.create_connection(address(emulator), timeout=10) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.sendall(head[:-split])
            select.select([client], [], [], 0.2)  # let the server read the first part on its own
            client.sendall(head[-split:] + body)
            status, answer = status_and_body(read_until_closed(client))
        assert status == 400 and json.loads(answer)["error_code"].startswith("dataartsfabric."), (split, answer[:300])


def test_a_huge_head_pipelined_behind_a_running_stream_closes_it_without_a_status_line_inside(emulator: str) -> None:
    fabric = MockFabric.connect(emulator, tenant="heads-stream")
    deployed = deploy(fabric)
    fabric.advance(10)
    fabric.set_timing(deployed.instance, ttft_ms=20, itl_ms=30)
    body = json.dumps({"messages": [{"role": "user", "content": "a long story"}], "stream": True, "max_tokens": 40}).encode()
    path = deployed.invoke_url.removeprefix(emulator)
    named = "".join(f"{k}: {v}\r\n" for k, v in fabric.headers.items())
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{named}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(address(emulator), timeout=10) as client:
        client.sendall(head.encode() + body)
        first = client.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first[:300]
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            client.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"p" * (16 * MAX_HEAD) + b"\r\n\r\n")
        try:
            rest = read_until_closed(client)
        except ConnectionResetError:
            rest = b""
    answers = first + rest
    if b"HTTP/1.1 431" in answers:  # only once the stream's answer is whole: its last chunk, then the refusal
        assert answers.index(b"HTTP/1.1 431") > answers.index(b"data: [DONE]\n\n\r\n0\r\n\r\n"), answers[-400:]


@pytest.mark.parametrize("first", [10, 1000, 60_000])
def test_a_head_over_the_bound_is_refused_however_it_is_split(emulator: str, first: int) -> None:
    """The first read of a head counts too (it used to be forgotten when the parser began the message)."""
    head = b"GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"p" * (MAX_HEAD + 1000) + b"\r\n\r\n"
    with socket.create_connection(address(emulator), timeout=10) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.sendall(head[:first])
        select.select([client], [], [], 0.2)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            client.sendall(head[first:])
        answer = read_until_closed(client)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:200]


def test_a_second_head_over_the_bound_is_refused_after_the_first_answer(emulator: str) -> None:
    """Behind a request still being answered (2 s of injected latency), a head over the bound waits for that answer,
    which is sent whole, and is then refused with 431."""
    slow = b'GET /v1/specs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: t\r\nX-Mockfabric-Fault: {"latency_ms": 1000}\r\n\r\n'
    with socket.create_connection(address(emulator), timeout=10) as client:
        client.sendall(slow)
        select.select([client], [], [], 0.2)
        second = b"GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"p" * (2 * MAX_HEAD) + b"\r\n\r\n"
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            client.sendall(second)
        answers = read_until_closed(client)
    assert answers.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 431" in answers, answers[:300]
    assert answers.index(b"HTTP/1.1 431") > answers.index(b"\r\n\r\n")  # after the first answer's head and body
