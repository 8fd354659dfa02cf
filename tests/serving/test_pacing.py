"""The pacer on its own: order and spacing of chunks, errors handed back, streams ended on close, and who writes what.

The pacer has no thread: a loop drives it (mockfabric.serving's event loop; here `Loop`, which does the same with an
event for its sleep). Waits are on events with deadlines, never on sleeps; spacing is checked from the writer's own
timestamps."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from waitress.channel import ClientDisconnected

from mockfabric import MockFabric
from mockfabric.pacing import Pacer, Step
from mockfabric.serving import _PacedTask
from mockfabric.testing.streams import chunk_rule_problems, parse_sse

from ..helpers import SEED_INVOKE
from .flow import Deployed, deploy

DEADLINE = 10.0


class Recorder:
    def __init__(self, fail_after: int | None = None) -> None:
        self.chunks: list[tuple[float, bytes]] = []
        self.threads: set[int] = set()
        self.fail_after = fail_after

    def __call__(self, chunk: bytes) -> None:
        if self.fail_after is not None and len(self.chunks) >= self.fail_after:
            raise ConnectionResetError("the client went away")
        self.chunks.append((time.monotonic(), chunk))
        self.threads.add(threading.get_ident())


class Loop:
    """Drives a pacer as the server's event loop does: asleep until the next chunk is due or a new stream wakes it,
    then `send_due()`."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer, self._woken, self._stopping = pacer, threading.Event(), False
        pacer.wake = self._woken.set
        self.thread = threading.Thread(target=self._run, name="test-pacing-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stopping:
            due = self.pacer.due_in()
            self._woken.wait(None if due is None else max(0.0, due))
            self._woken.clear()
            self.pacer.send_due()

    def stop(self) -> None:
        self._stopping = True
        self._woken.set()
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive()


@pytest.fixture
def pacer() -> Iterator[Pacer]:
    running = Pacer()
    loop = Loop(running)
    yield running
    running.close()
    loop.stop()


def _steps(count: int, delay: float, tag: bytes, first_delay: float = 0.0) -> Iterator[Step]:
    for index in range(count):
        yield (first_delay if index == 0 else delay), tag + str(index).encode()


def test_chunks_arrive_in_order_spaced_by_their_delays(pacer: Pacer) -> None:
    writer = Recorder()
    paced = pacer.stream(_steps(6, 0.02, b"a"), writer)
    assert paced.done.wait(DEADLINE) and paced.error is None
    assert [chunk for _, chunk in writer.chunks] == [b"a0", b"a1", b"a2", b"a3", b"a4", b"a5"]
    gaps = [b - a for (a, _), (b, _) in zip(writer.chunks, writer.chunks[1:], strict=False)]
    # a delay runs from when the pacer took up the previous chunk, a hair before that chunk's write returned
    assert all(gap >= 0.015 for gap in gaps) and sum(gaps) >= 5 * 0.02 - 0.002, gaps


def test_many_streams_interleave_and_all_finish(pacer: Pacer) -> None:
    writers = [Recorder() for _ in range(50)]
    streams = [pacer.stream(_steps(5, 0.01, str(i).encode() + b"-"), writer) for i, writer in enumerate(writers)]
    assert all(paced.done.wait(DEADLINE) for paced in streams)
    assert all(paced.error is None for paced in streams)
    assert all([c for _, c in w.chunks] == [f"{i}-{n}".encode() for n in range(5)] for i, w in enumerate(writers))
    assert not pacer.busy and pacer.due_in() is None


def test_a_failing_writer_ends_only_its_stream_and_its_thread_learns_why(pacer: Pacer) -> None:
    broken, healthy = Recorder(fail_after=2), Recorder()
    failing = pacer.stream(_steps(5, 0.01, b"x"), broken)
    fine = pacer.stream(_steps(5, 0.01, b"y"), healthy)
    assert failing.done.wait(DEADLINE) and fine.done.wait(DEADLINE)
    assert isinstance(failing.error, ConnectionResetError) and len(broken.chunks) == 2
    assert fine.error is None and len(healthy.chunks) == 5


def test_an_error_raised_by_the_steps_is_handed_back(pacer: Pacer) -> None:
    def cut() -> Iterator[Step]:
        yield 0.0, b"first"
        raise ConnectionAbortedError("injected cut")

    writer = Recorder()
    paced = pacer.stream(cut(), writer)
    assert paced.done.wait(DEADLINE)
    assert isinstance(paced.error, ConnectionAbortedError) and [c for _, c in writer.chunks] == [b"first"]


class ClosingBadly:
    """Steps whose clean-up fails."""

    def __init__(self) -> None:
        self._steps = _steps(3, 0.0, b"c")

    def __iter__(self) -> ClosingBadly:
        return self

    def __next__(self) -> Step:
        return next(self._steps)

    def close(self) -> None:
        raise RuntimeError("clean-up failed")


def test_a_failing_clean_up_still_ends_the_stream_and_the_pacer_serves_on(pacer: Pacer, caplog: pytest.LogCaptureFixture) -> None:
    failing = pacer.stream(ClosingBadly(), Recorder(fail_after=1))
    assert failing.done.wait(DEADLINE) and isinstance(failing.error, ConnectionResetError)
    assert "closing an ended stream failed" in caplog.text
    healthy = Recorder()
    fine = pacer.stream(_steps(3, 0.0, b"ok"), healthy)
    assert fine.done.wait(DEADLINE) and fine.error is None and len(healthy.chunks) == 3


def test_a_failure_while_pacing_ends_its_streams_and_the_loop_paces_on(
    pacer: Pacer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(entry: Any, now: float) -> Any:
        raise RuntimeError("a bug in the pacer")

    monkeypatch.setattr(pacer, "_send", broken)
    # the first chunks are due later, so the loop (not the calling thread) meets the bug
    streams = [pacer.stream(_steps(3, 0.01, b"b", first_delay=0.01), Recorder()) for _ in range(3)]
    assert all(paced.done.wait(DEADLINE) for paced in streams)
    assert all(isinstance(paced.error, ConnectionAbortedError) for paced in streams)
    assert "pacing failed" in caplog.text and not pacer.busy
    monkeypatch.undo()
    healthy = Recorder()
    again = pacer.stream(_steps(3, 0.01, b"ok"), healthy)
    assert again.done.wait(DEADLINE) and again.error is None and len(healthy.chunks) == 3


def test_close_ends_open_streams_and_later_ones_at_once() -> None:
    pacer = Pacer()
    paced = pacer.stream(_steps(3, 60.0, b"slow"), Recorder())  # a minute between chunks: still open at close
    assert pacer.busy
    pacer.close()
    assert paced.done.wait(DEADLINE) and isinstance(paced.error, ConnectionAbortedError)
    late = pacer.stream(_steps(2, 0.0, b"late", first_delay=1.0), Recorder())
    assert late.done.wait(DEADLINE) and isinstance(late.error, ConnectionAbortedError) and pacer.due_in() is None


def test_the_calling_thread_writes_a_first_chunk_due_at_once_and_the_loop_the_rest() -> None:
    """Without a loop nothing else is written: the pacer has no thread of its own. The caller's thread writes the
    first chunk (with the response head, on waitress); each `send_due()` writes what has fallen due."""
    pacer = Pacer()
    wakes: list[int] = []
    pacer.wake = lambda: wakes.append(1)
    writer = Recorder()
    paced = pacer.stream(_steps(3, 0.0, b"z"), writer)
    assert [c for _, c in writer.chunks] == [b"z0"] and writer.threads == {threading.get_ident()}
    assert wakes == [1] and pacer.busy and (pacer.due_in() or 0.0) <= 0  # due now: the loop is woken to write it
    for _ in range(3):
        pacer.send_due()
    assert [c for _, c in writer.chunks] == [b"z0", b"z1", b"z2"] and paced.done.is_set() and paced.error is None
    assert pacer.due_in() is None


def test_the_loop_is_woken_only_when_a_new_stream_is_due_before_everything_queued() -> None:
    pacer = Pacer()
    wakes: list[str] = []
    later, sooner, latest = Recorder(), Recorder(), Recorder()
    pacer.wake = lambda: wakes.append("wake")
    pacer.stream(_steps(2, 0.0, b"l", first_delay=30.0), later)
    pacer.stream(_steps(2, 0.0, b"s", first_delay=10.0), sooner)
    pacer.stream(_steps(2, 0.0, b"t", first_delay=50.0), latest)
    assert wakes == ["wake", "wake"]  # the first stream, then the sooner one; not the latest
    assert 9.0 < (pacer.due_in() or 0.0) <= 10.0
    assert not (later.chunks or sooner.chunks or latest.chunks)
    pacer.close()


# Over real sockets, through mockfabric.serving's writer: waitress writes the head, the pacer the chunks.


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    with MockFabric(clock="system", validate_responses=True) as fabric:
        fabric.set_lifecycle("endpoint", "instant")
        fabric.set_lifecycle("service_instance", "instant")
        flow = deploy(fabric)
        fabric.set_timing(flow.instance, ttft_ms=0, itl_ms=0)
        yield flow


def _open_stream(flow: Deployed, body: dict[str, Any], receive_buffer: int | None = None) -> socket.socket:
    parts = urlsplit(flow.invoke_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # set before connecting, so the advertised window stays small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(DEADLINE)
    sock.connect((parts.hostname, parts.port))
    payload = json.dumps(body).encode()
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json", f"Content-Length: {len(payload)}"]
    head += ["Connection: close", *(f"{k}: {v}" for k, v in flow.fabric.headers.items())]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    return sock


def _dechunked(raw: bytes) -> bytes:
    """The body of a chunked HTTP/1.1 response, failing on any framing error."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head, head
    body = b""
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert rest == b"\r\n", rest[:80]
            return body
        body, rest = body + rest[:size], rest[size:]
        assert rest[:2] == b"\r\n"
        rest = rest[2:]


def test_a_long_stream_read_in_small_bites_arrives_whole_and_in_order(deployed: Deployed) -> None:
    words = [f"word{n}" for n in range(1500)]
    deployed.fabric.script_completion(deployed.instance, " ".join(words))
    with _open_stream(deployed, {**SEED_INVOKE, "max_tokens": 0}, receive_buffer=4096) as sock:
        received = bytearray()
        while piece := sock.recv(512):
            received += piece
    stream = parse_sse(_dechunked(bytes(received)).split(b"\n"))
    assert chunk_rule_problems(stream) == [] and stream.events[-1] == "[DONE]"
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in stream.events[:-1] if e["choices"])
    assert content.split() == words  # every word, once, in order


def test_a_reader_that_leaves_mid_stream_ends_its_stream_and_the_server_serves_on(deployed: Deployed) -> None:
    deployed.fabric.set_timing(deployed.instance, ttft_ms=0, itl_ms=20)
    try:
        with _open_stream(deployed, {**SEED_INVOKE, "max_tokens": 200}) as sock:
            received = b""
            while b"data: " not in received:  # the stream is under way (the socket has a deadline), then the client goes
                piece = sock.recv(4096)
                assert piece, received
                received += piece
        answered = deployed.invoke({**SEED_INVOKE, "max_tokens": 5}, stream=True)
        stream = parse_sse(answered.iter_lines(delimiter=b"\n"))
        assert answered.status_code == 200 and chunk_rule_problems(stream) == [] and stream.events[-1] == "[DONE]"
    finally:
        deployed.fabric.set_timing(deployed.instance, ttft_ms=0, itl_ms=0)


# The writer's choices, against a stand-in for waitress's channel: what it sends, what it queues, and when it gives up.


class FakeSocket:
    def __init__(self, accepts: list[int | type[BaseException]]) -> None:
        self.accepts, self.sent = accepts, b""

    def send(self, data: bytes) -> int:
        answer = self.accepts.pop(0) if self.accepts else len(data)
        if isinstance(answer, type):
            raise answer()
        self.sent += data[:answer]
        return min(answer, len(data))


class FakeChannel:
    def __init__(self, sock: FakeSocket, queued_before: int = 0) -> None:
        self.socket, self.outbuf_lock, self.connected = sock, threading.Condition(), True
        self.total_outbufs_len, self.queued = queued_before, b""

    def write_soon(self, data: bytes) -> int:
        with self.outbuf_lock:  # re-entrant, as waitress's is
            self.queued += data
            self.total_outbufs_len += len(data)
        return len(data)


def _writer(channel: FakeChannel) -> Any:
    task: Any = _PacedTask.__new__(_PacedTask)  # only the attributes the writer reads, not a whole waitress task
    task.channel, task.wrote_header, task.chunked_response = channel, True, True
    return task._write_from_pacer


@pytest.mark.parametrize(
    ("accepts", "queued_before", "sent", "queued"),
    [
        ([], 0, b"5\r\nhello\r\n", b""),  # the socket takes it all: nothing queued
        ([BlockingIOError], 0, b"", b"5\r\nhello\r\n"),  # the socket is full: all queued
        ([4], 0, b"5\r\nh", b"ello\r\n"),  # part sent, the rest queued behind it
        ([], 3, b"", b"5\r\nhello\r\n"),  # something already waits in waitress's buffers: queue behind it
    ],
)
def test_the_writer_sends_what_the_socket_takes_and_queues_the_rest_in_order(
    accepts: list[int | type[BaseException]], queued_before: int, sent: bytes, queued: bytes
) -> None:
    channel = FakeChannel(FakeSocket(accepts), queued_before)
    _writer(channel)(b"hello")
    assert (channel.socket.sent, channel.queued) == (sent, queued)


def test_the_writer_reports_a_gone_client() -> None:
    gone = FakeChannel(FakeSocket([]))
    gone.connected = False
    with pytest.raises(ClientDisconnected):
        _writer(gone)(b"x")
    reset = FakeChannel(FakeSocket([ConnectionResetError]))
    with pytest.raises(ClientDisconnected):
        _writer(reset)(b"x")
