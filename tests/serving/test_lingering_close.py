"""A refused client that is still sending reads the refusal, not a reset (issue 28, left from item 4): the server
half-closes after a 413 or 431 and drops what the client goes on sending, for a bounded time (mockfabric/linger.py).
Python's http.client, which sends the whole request before it reads, saw "connection reset by peer" every time.
Over real sockets, on the emulator and on the proxy (which serve through the same protocol)."""

from __future__ import annotations

import gc
import http.client
import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from mockfabric import MockFabric, linger
from mockfabric.web.errors import MAX_BODY

from ..proxy.running import RunningProxy
from .sockets import read_until_closed
from .test_cli import finish, start
from .test_request_heads import address, assert_serves_on, create_head, status_and_body

SHORT_LINGER, SHORT_IDLE = 1.5, 0.5  # the bounds under test, shortened so the hostile cases stay fast


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with MockFabric() as fabric:
        yield fabric.base_url


@pytest.fixture(scope="module")
def proxy(emulator: str) -> Iterator[str]:
    with RunningProxy(emulator, token="proxy-token") as running:
        yield running.url


@pytest.fixture
def short_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linger, "LINGER_SECONDS", SHORT_LINGER)
    monkeypatch.setattr(linger, "LINGER_IDLE", SHORT_IDLE)


def http_client(url: str) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(*address(url), timeout=20)


@pytest.mark.parametrize("server", ["emulator", "proxy"])
def test_a_client_sending_a_body_over_the_limit_reads_the_413(server: str, request: pytest.FixtureRequest) -> None:
    url: str = request.getfixturevalue(server)
    for _ in range(3):  # a reset was seen every time before; three tries leave no luck
        client = http_client(url)
        try:
            client.request("POST", "/v1/workspaces", body=b"x" * (MAX_BODY + 8 * 1024 * 1024), headers={"X-Auth-Token": "t"})
            answer = client.getresponse()
            assert answer.status == 413, answer.read()[:300]
            assert json.loads(answer.read())["error_code"] == "APIG.0201"
        finally:
            client.close()
    assert_serves_on(url)


@pytest.mark.parametrize("server", ["emulator", "proxy"])
def test_a_client_sending_a_head_over_the_bound_reads_the_431(server: str, request: pytest.FixtureRequest) -> None:
    url: str = request.getfixturevalue(server)
    for _ in range(3):
        client = http_client(url)
        try:
            client.request("GET", "/healthcheck", headers={"X-Padding": "a" * 3_000_000})
            answer = client.getresponse()
            assert answer.status == 431 and json.loads(answer.read())["error_code"] == "common.00000431"
        finally:
            client.close()
    assert_serves_on(url)


def keep_sending(client: socket.socket, ended: list[float]) -> None:
    """Sends until the server closes the connection for good (a reset), then notes when."""
    piece = b"x" * 65536
    try:
        while True:
            client.sendall(piece)
    except OSError:
        ended.append(time.monotonic())


def is_reset(client: socket.socket) -> bool:
    """True when the server has closed the connection for good: a byte sent now is answered with a reset."""
    try:
        client.sendall(b"x")
        threading.Event().wait(0.2)  # the reset's round trip on loopback
        client.sendall(b"x")
    except OSError:
        return True
    return False


@pytest.mark.usefixtures("short_linger")
def test_a_refused_client_that_never_stops_sending_is_closed_within_the_linger_bound(emulator: str) -> None:
    ended: list[float] = []
    with socket.create_connection(address(emulator), timeout=10) as client:
        client.sendall(create_head(MAX_BODY * 100))
        sender = threading.Thread(target=keep_sending, args=(client, ended), daemon=True)
        sender.start()
        answer = read_until_closed(client, seconds=5)  # the answer, then the server's half-close
        answered = time.monotonic()
        assert_serves_on(emulator)  # a lingering connection holds nobody else up
        sender.join(timeout=SHORT_LINGER + 5)
    assert status_and_body(answer)[0] == 413, answer[:300]
    assert ended, "the server still took bytes long after the linger bound"
    assert ended[0] - answered < SHORT_LINGER + 1, f"the connection was held {ended[0] - answered:.1f} s past the refusal"


@pytest.mark.usefixtures("short_linger")
def test_a_refused_client_gone_silent_is_closed_after_the_idle_bound(emulator: str) -> None:
    with socket.create_connection(address(emulator), timeout=10) as client:
        client.sendall(create_head(MAX_BODY * 100) + b"x" * 1000)  # then nothing: neither the body nor a close
        answer = read_until_closed(client, seconds=5)
        assert not is_reset(client), "the refused client was not lingered over"
        threading.Event().wait(SHORT_IDLE * 2)  # silent for twice the idle bound
        assert is_reset(client), "a silent client was held past the idle bound"
    assert status_and_body(answer)[0] == 413, answer[:300]


def test_an_answer_that_closes_after_a_whole_request_does_not_linger(emulator: str, short_linger: None) -> None:
    """Only a request not read to its end lingers: a plain `Connection: close` answer closes at once."""
    with socket.create_connection(address(emulator), timeout=10) as client:
        client.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        started = time.monotonic()
        answer = read_until_closed(client, seconds=5)
        held = time.monotonic() - started
    assert status_and_body(answer)[0] == 200
    assert held < SHORT_IDLE / 2, f"a whole request's connection was held {held:.2f} s after its answer"


def protocols() -> int:
    """How many of the server's connection protocols exist, alive or garbage the cyclic collector has not freed."""
    return sum(1 for thing in gc.get_objects() if type(thing).__name__ == "DeadlineProtocol")


def test_a_closed_connection_is_freed_at_once_not_left_for_the_cyclic_collector(emulator: str) -> None:
    """`serve` makes the collector's full collections 100 times rarer (serving._calm_the_collector). A cycle between a
    connection's protocol and its LingeringTransport kept every closed connection until one, and with it what uvicorn
    had buffered of a refused body (~128 KiB): 200 refused uploads left the server 25 MB larger, every time. Freed by
    reference counting (the collector off here), closed connections are gone as soon as the server has seen them go."""
    gc.collect()
    gc.disable()
    try:
        before = protocols()
        for _ in range(10):
            with socket.create_connection(address(emulator), timeout=10) as refused:
                refused.sendall(create_head(MAX_BODY * 100) + b"x" * 300_000)
                refused.shutdown(socket.SHUT_WR)  # the client is done sending: the linger ends at once
                assert status_and_body(read_until_closed(refused, seconds=5))[0] == 413
            assert_serves_on(emulator)  # a request read whole, its connection closed without lingering
        deadline = time.monotonic() + 3
        while protocols() > before and time.monotonic() < deadline:
            threading.Event().wait(0.02)  # the server's loop has yet to see the last closes
        assert protocols() <= before, f"{protocols() - before} closed connections wait for the cyclic collector"
    finally:
        gc.enable()


FLOODERS = 100  # refused clients sending flat out at once


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`mockfabric serve` in its own process: a server sharing the test's interpreter would share its GIL too."""
    process, url = start("--port", "0", "--quiet")
    yield process, url
    finish(process)


def flood(url: str, refused: threading.Semaphore, stop: threading.Event) -> None:
    """A refused client that goes on sending as fast as it can until `stop`."""
    with socket.create_connection(address(url), timeout=10) as client:
        client.sendall(create_head(MAX_BODY * 100))
        assert client.recv(12) == b"HTTP/1.1 413"
        refused.release()
        piece = b"x" * 65536
        try:
            while not stop.is_set():
                client.sendall(piece)
        except OSError:
            pass


def test_refused_clients_sending_flat_out_leave_the_server_taking_new_connections(served: tuple[subprocess.Popen[str], str]) -> None:
    """The loop read a lingering connection up to 32 times in a row per turn and takes one new connection per turn:
    with 100 refused clients sending flat out a new client waited 6.5 s for /healthcheck, and of 200, 40 to 80 were
    not even read for 10 s. Read once per turn, every refused client reads its 413 and a new client is served."""
    url = served[1]
    refused, stop = threading.Semaphore(0), threading.Event()
    flooders = [threading.Thread(target=flood, args=(url, refused, stop), daemon=True) for _ in range(FLOODERS)]
    try:
        for flooder in flooders:
            flooder.start()
        deadline = time.monotonic() + 3
        answered = sum(refused.acquire(timeout=max(0.0, deadline - time.monotonic())) for _ in range(FLOODERS))
        assert answered == FLOODERS, f"{FLOODERS - answered} of {FLOODERS} refused clients had no answer after 3 s"
        started = time.monotonic()
        assert_serves_on(url)
        waited = time.monotonic() - started
        assert waited < 0.5, f"a new client waited {waited:.2f} s for /healthcheck behind {FLOODERS} lingering clients"
    finally:
        stop.set()
        for flooder in flooders:
            flooder.join(timeout=10)


def test_sigterm_does_not_wait_for_lingering_clients(served: tuple[subprocess.Popen[str], str]) -> None:
    """A linger waits for no work (the refusal is sent), but the graceful stop waited for each lingering connection
    as for a request in flight: with refused clients still sending, SIGTERM took the whole linger bound (5 s)."""
    process, url = served
    refused, stop = threading.Semaphore(0), threading.Event()
    flooders = [threading.Thread(target=flood, args=(url, refused, stop), daemon=True) for _ in range(20)]
    try:
        for flooder in flooders:
            flooder.start()
        deadline = time.monotonic() + 3
        assert all(refused.acquire(timeout=max(0.0, deadline - time.monotonic())) for _ in flooders)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=linger.LINGER_SECONDS - 2) == 0
        assert time.monotonic() - started < linger.LINGER_SECONDS - 2
    finally:
        stop.set()
        for flooder in flooders:
            flooder.join(timeout=10)
