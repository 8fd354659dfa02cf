"""mockfabric.asgi and mockfabric.wsgi_bridge on a real event loop: the environ a WSGI app sees, answers collected
whole (with a dropped connection's partial body), and requests answered on the loop taking turns with timers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from mockfabric.asgi import Turns
from mockfabric.wsgi_bridge import HEADERS_KEY, call_wsgi, environ_of


def scope(headers: list[tuple[bytes, bytes]], path: str = "/v1/ws") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"a=1&b=%C3%A9",
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "headers": headers,
    }


def test_the_environ_follows_pep_3333_and_keeps_the_headers_as_sent() -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2"), (b"x-a", b"1"), (b"x-a", b"2"), (b"x_b", b"3")]
    environ = environ_of(scope(headers, path="/v1/wörk"), b"{}")
    assert environ["CONTENT_TYPE"] == "application/json" and environ["CONTENT_LENGTH"] == "2"
    assert environ["HTTP_X_A"] == "1,2"  # repeated headers joined, as servers do
    assert environ["PATH_INFO"] == "/v1/wörk".encode().decode("latin-1")  # the raw bytes as latin-1
    assert environ["QUERY_STRING"] == "a=1&b=%C3%A9" and environ["SERVER_PORT"] == "8080"
    assert environ["wsgi.input"].read() == b"{}"
    # the names as sent: an underscore stays an underscore (the environ key cannot tell them apart)
    assert environ[HEADERS_KEY] == [(name.decode(), value.decode()) for name, value in headers]


def test_an_answer_is_collected_whole_and_a_dropped_connection_keeps_what_came_before() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        yield b'{"'
        raise ConnectionAbortedError("dropped")

    answer = call_wsgi(app, environ_of(scope([]), b""))
    assert answer.status == 200 and answer.headers == [(b"content-type", b"application/json")]
    assert answer.body == [b'{"'] and isinstance(answer.error, ConnectionAbortedError)


def test_work_on_the_loop_takes_turns_with_timers_that_fall_due() -> None:
    """Forty 2 ms pieces of work arrive together; a timer due 5 ms later must not wait for all of them (~80 ms)."""

    def work() -> float:
        until = time.perf_counter() + 0.002
        while time.perf_counter() < until:
            pass
        return time.perf_counter()

    async def scenario() -> tuple[float, list[float]]:
        loop, turns = asyncio.get_running_loop(), Turns(budget=0.001)
        fired: list[float] = []
        loop.call_later(0.005, lambda: fired.append(time.perf_counter()))
        done = await asyncio.gather(*(turns.run(work) for _ in range(40)))
        return fired[0], done

    timer_fired, finished = asyncio.run(scenario())
    assert finished == sorted(finished)  # first come, first served
    assert sum(1 for at in finished if at < timer_fired) <= 10, "the timer waited behind the queued work"


def test_work_that_fails_on_its_turn_fails_its_own_request_only() -> None:
    def boom() -> None:
        raise ValueError("bad")

    async def scenario() -> list[Any]:
        turns = Turns(budget=0.0)  # everything waits for a turn
        return await asyncio.gather(turns.run(boom), turns.run(lambda: 7), return_exceptions=True)

    failed, fine = asyncio.run(scenario())
    assert isinstance(failed, ValueError) and fine == 7


def test_request_bodies_in_flight_share_one_ceiling_and_give_it_back() -> None:
    """Two 80-byte uploads under a 100-byte ceiling: the second is refused (503, retry) while the first is held; once
    the first is given back, the next one fits. A refused or broken read holds nothing."""
    from mockfabric.asgi import BodyBudget, read_body
    from mockfabric.errors import ServiceUnavailable

    def upload(size: int) -> Any:
        parts = [{"type": "http.request", "body": b"x" * (size // 2), "more_body": True}]
        parts.append({"type": "http.request", "body": b"x" * (size - size // 2), "more_body": False})

        async def receive() -> dict[str, Any]:
            return parts.pop(0)

        return receive

    async def scenario() -> None:
        budget = BodyBudget(limit=100)
        declared = scope([(b"content-length", b"80")])
        first = await read_body(declared, upload(80), 1000, 5.0, budget)
        assert len(first) == 80 and budget.held == 80
        try:
            await read_body(declared, upload(80), 1000, 5.0, budget)
        except ServiceUnavailable as refusal:
            assert refusal.status == 503 and refusal.headers == {"Retry-After": "1"}
        else:
            raise AssertionError("a body past the ceiling was accepted")
        assert budget.held == 80  # the refused one gave back its first half
        budget.give(len(first))
        assert len(await read_body(declared, upload(80), 1000, 5.0, budget)) == 80

    asyncio.run(scenario())


def test_kept_alive_requests_are_answered_at_once_on_asyncio_s_own_loop_too(monkeypatch: Any) -> None:
    """Where uvloop is missing (Windows) the standard loop serves; answers on a kept-alive connection must not wait
    ~40 ms each for a delayed ACK (Nagle left on by a listening socket that did not say it was TCP)."""
    import http.client

    import mockfabric.serving as serving
    from mockfabric.config import Settings
    from mockfabric.testing.server import ThreadedServer
    from mockfabric.web.app import create_app

    monkeypatch.setattr(serving, "loop_factory", lambda: asyncio.new_event_loop)
    with ThreadedServer(create_app(Settings()), Settings()) as server:
        host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        timings = []
        for _ in range(6):
            started = time.perf_counter()
            connection.request("GET", "/v1/workspaces", headers={"X-Auth-Token": "nagle"})
            assert connection.getresponse().read().startswith(b"{")
            timings.append(time.perf_counter() - started)
        connection.close()
    assert max(timings[1:]) < 0.03, timings


def test_a_chunked_body_reaches_the_app_whole_and_the_journal_shows_the_headers_as_sent() -> None:
    """A chunked body declares no length: the app still reads all of it, whether it arrives in one part or (300 KB,
    past the server's read buffer) in many, and the journal shows no Content-Length the client did not send."""
    import json
    import socket
    import urllib.request

    from mockfabric.config import Settings
    from mockfabric.testing.server import ThreadedServer
    from mockfabric.web.app import create_app

    def send_chunked(address: tuple[str, int], body: bytes) -> bytes:
        head = b"POST /v1/workspaces HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: chunks\r\nContent-Type: application/json\r\n"
        framed = b"".join(b"%x\r\n%b\r\n" % (len(body[i : i + 65536]), body[i : i + 65536]) for i in range(0, len(body), 65536))
        with socket.create_connection(address, timeout=10) as client:
            client.sendall(head + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + framed + b"0\r\n\r\n")
            answer = b""
            while data := client.recv(65536):
                answer += data
        return answer

    with ThreadedServer(create_app(Settings()), Settings()) as server:
        host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
        small = send_chunked((host, int(port)), json.dumps({"name": "chunked-one"}).encode())
        assert small.startswith(b"HTTP/1.1 200") and b'"name":"chunked-one"' in small, small[-300:]
        large = send_chunked((host, int(port)), json.dumps({"name": "chunked-big", "description": "d" * 300_000}).encode())
        assert b'"error_msg": "body.description' in large, large[-300:]  # read whole: the too-long field is named
        with urllib.request.urlopen(f"{server.base_url}/_mockfabric/requests?operation=CreateWorkspace", timeout=10) as reply:
            entries = json.loads(reply.read())["requests"]
    assert len(entries) == 2 and all(name.lower() != "content-length" for e in entries for name in e["headers"]), entries
