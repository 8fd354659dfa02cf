"""mockfabric.streaming.write_stream on a real event loop, through the ASGI `send`/`receive` it is given: order and
spacing, batches with turns for others, and each way a stream ends early. Over real sockets: test_invocations.py and
test_hostile_clients.py."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from mockfabric.streaming import BATCH, ClientLeft, Step, StreamAbandoned, write_stream


class Recorder:
    """An ASGI `send` that keeps what it was given and when; `blocked` makes every send wait for ever, as a full
    socket does for a client that reads nothing."""

    def __init__(self, blocked: bool = False) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.blocked = blocked

    async def send(self, message: dict[str, Any]) -> None:
        if self.blocked:
            await asyncio.Event().wait()
        self.messages.append((asyncio.get_running_loop().time(), message))

    @property
    def body(self) -> bytes:
        return b"".join(message.get("body", b"") for _, message in self.messages)


def staying(leave: asyncio.Event | None = None) -> Any:
    """An ASGI `receive` after the body was read: the disconnect comes when `leave` is set (never, without one)."""

    async def receive() -> dict[str, Any]:
        await (leave or asyncio.Event()).wait()
        return {"type": "http.disconnect"}

    return receive


class Steps:
    """Steps that remember whether their clean-up ran, as the invocation's generator does."""

    def __init__(self, steps: list[Step], fail_after: int | None = None) -> None:
        self.steps, self.fail_after, self.closed = steps, fail_after, False

    def __iter__(self) -> Iterator[Step]:
        return self.run()

    def run(self) -> Iterator[Step]:
        try:
            for index, step in enumerate(self.steps):
                if self.fail_after is not None and index >= self.fail_after:
                    raise ConnectionAbortedError("injected cut")
                yield step
        finally:
            self.closed = True


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=10))


def test_chunks_go_in_order_with_their_spacing_and_the_body_ends() -> None:
    recorder = Recorder()
    steps = [(0.0, b"a"), (0.05, b"b"), (0.05, b"c")]
    run(write_stream(iter(steps), recorder.send, staying()))
    times = [at for at, message in recorder.messages if message["body"]]
    assert recorder.body == b"abc"
    assert recorder.messages[-1][1] == {"type": "http.response.body", "body": b"", "more_body": False}
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(0.045 <= gap < 0.2 for gap in gaps), gaps


def test_a_fast_stream_goes_in_batches_with_turns_for_everyone_else() -> None:
    chunk = b"x" * 1000
    steps = [(0.0, chunk)] * 1000  # ~1 MB due at once

    async def scenario() -> tuple[Recorder, int]:
        recorder, turns = Recorder(), 0

        async def other_client() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        ticking = asyncio.create_task(other_client())
        await write_stream(iter(steps), recorder.send, staying())
        ticking.cancel()
        return recorder, turns

    recorder, turns = run(scenario())
    sizes = [len(message["body"]) for _, message in recorder.messages if message["body"]]
    assert recorder.body == chunk * 1000
    assert max(sizes) <= BATCH + len(chunk) and len(sizes) >= 1_000_000 // (BATCH + len(chunk))
    assert turns >= len(sizes) - 1  # the other task ran between batches


def test_a_paced_stream_whose_reader_takes_nothing_is_cut_past_its_backlog_limit() -> None:
    steps = Steps([(0.001, b"y" * 1000)] * 100_000)
    with pytest.raises(StreamAbandoned, match=r"stream cut: the client left \d+ bytes unread \(limit 65536\)"):
        run(write_stream(iter(steps), Recorder(blocked=True).send, staying(), backlog_limit=65536, stall_seconds=60))
    assert steps.closed


def test_a_reader_that_takes_nothing_while_data_waits_is_cut_after_the_stall_time() -> None:
    steps = Steps([(0.0, b"z" * 1000)] * 10_000)
    with pytest.raises(StreamAbandoned, match=r"stream cut: the client took nothing for 0\.2 s"):
        run(write_stream(iter(steps), Recorder(blocked=True).send, staying(), stall_seconds=0.2))
    assert steps.closed


def test_a_client_that_leaves_ends_its_stream_and_the_steps_clean_up() -> None:
    steps = Steps([(0.0, b"first")] + [(0.02, b"more")] * 1000)

    async def scenario() -> Recorder:
        recorder, leave = Recorder(), asyncio.Event()
        asyncio.get_running_loop().call_later(0.1, leave.set)
        with pytest.raises(ClientLeft):
            await write_stream(iter(steps), recorder.send, staying(leave))
        return recorder

    recorder = run(scenario())
    assert steps.closed and recorder.body.startswith(b"first") and len(recorder.body) < 1000
    assert all(message.get("more_body") for _, message in recorder.messages)  # the body was never ended cleanly


def test_an_injected_cut_comes_after_the_chunks_before_it() -> None:
    recorder = Recorder()
    steps = Steps([(0.0, b"1"), (0.01, b"2"), (0.01, b"3")], fail_after=2)
    with pytest.raises(ConnectionAbortedError, match="injected cut"):
        run(write_stream(iter(steps), recorder.send, staying()))
    assert recorder.body == b"12" and all(message.get("more_body") for _, message in recorder.messages)


def test_past_the_ceiling_for_all_streams_the_stream_holding_the_most_is_cut() -> None:
    """Two readers that take nothing, under a 100 kB ceiling for all streams: the faster-filling one is cut for the
    ceiling, the other goes on (its own stall limit ends it later); what they held is given back."""
    from mockfabric.streaming import Backlogs

    async def scenario() -> tuple[BaseException | None, BaseException | None, int]:
        backlogs = Backlogs(limit=100_000)
        big = Steps([(0.001, b"b" * 2000)] * 100_000)
        small = Steps([(0.001, b"s" * 100)] * 100_000)
        results = await asyncio.gather(
            write_stream(iter(big), Recorder(blocked=True).send, staying(), stall_seconds=0.5, backlogs=backlogs),
            write_stream(iter(small), Recorder(blocked=True).send, staying(), stall_seconds=0.5, backlogs=backlogs),
            return_exceptions=True,
        )
        return results[0], results[1], backlogs.held

    big_end, small_end, held = run(scenario())
    assert isinstance(big_end, StreamAbandoned) and "the streams together left over 100000 bytes unread" in str(big_end)
    assert isinstance(small_end, StreamAbandoned) and "took nothing for 0.5 s" in str(small_end)
    assert held == 0
