"""mockfabric.serving's dispatcher: which requests the event loop waits for, that it waits no longer than SETUP_TURN,
and that it writes the chunks that fell due meanwhile. Against stand-ins for waitress's channel and thread pool."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from mockfabric.pacing import Pacer
from mockfabric.serving import SETUP_TURN, _SetupsInTurn, _stream_openers

DEADLINE = 10.0


class Pool:
    """waitress's thread pool, reduced to what the dispatcher uses; `finish` says whether a worker sets the request up."""

    def __init__(self, finish: bool = True) -> None:
        self.finish, self.shut_down = finish, False
        self.tasks: list[Any] = []
        self.workers: list[threading.Thread] = []

    def add_task(self, channel: Any) -> None:
        self.tasks.append(channel)
        if self.finish:
            worker = threading.Thread(target=lambda: channel.set_up and channel.set_up.set())
            self.workers.append(worker)
            worker.start()

    def shutdown(self) -> bool:
        self.shut_down = True
        return True


class CountingPacer(Pacer):
    def __init__(self) -> None:
        super().__init__()
        self.sends = 0

    def send_due(self) -> None:
        self.sends += 1
        super().send_due()


def _channel(command: str | None = "POST", path: str | None = "/v1/workspaces/w/services/instances/i/invocations") -> Any:
    request = SimpleNamespace(error=None, **{k: v for k, v in (("command", command), ("path", path)) if v is not None})
    if command is None:  # as waitress's parser leaves a request it could not parse
        request.error = ValueError("bad header")
    return SimpleNamespace(requests=[request], set_up=None)


def _on_the_loop(pool: Pool, pacer: Pacer | None = None) -> _SetupsInTurn:
    setups = _SetupsInTurn(pool, pacer or CountingPacer())
    setups.loop_thread = threading.get_ident()
    return setups


def test_an_invocation_is_set_up_in_turn_then_the_due_chunks_are_written() -> None:
    pool, pacer = Pool(), CountingPacer()
    channel = _channel()
    _on_the_loop(pool, pacer).add_task(channel)
    assert pool.tasks == [channel] and channel.set_up is not None and channel.set_up.is_set()
    assert pacer.sends == 1


@pytest.mark.parametrize(
    "channel",
    [
        _channel(command="GET", path="/v1/workspaces"),
        _channel(command="POST", path="/v1/workspaces"),
        _channel(command=None, path=None),  # waitress could not parse it: answered with an error, never a stream
    ],
    ids=["read", "create", "unparseable"],
)
def test_other_requests_go_straight_to_the_pool_while_nothing_streams(channel: Any) -> None:
    pool, pacer = Pool(finish=False), CountingPacer()
    _on_the_loop(pool, pacer).add_task(channel)
    assert pool.tasks == [channel] and channel.set_up is None and pacer.sends == 0


def test_while_streams_are_paced_every_request_waits_its_turn() -> None:
    pool, pacer = Pool(), CountingPacer()
    pacer.stream(iter([(60.0, b"later")]), lambda chunk: None)  # one stream open, its chunk a minute away
    channel = _channel(command="GET", path="/v1/workspaces")
    _on_the_loop(pool, pacer).add_task(channel)
    assert channel.set_up is not None and channel.set_up.is_set() and pacer.sends == 1
    unparseable = _channel(command=None, path=None)  # except one answered with waitress's canned error
    _on_the_loop(Pool(finish=False), pacer).add_task(unparseable)
    assert unparseable.set_up is None
    pacer.close()


def test_a_set_up_that_takes_long_holds_the_loop_no_longer_than_its_turn() -> None:
    pool, pacer = Pool(finish=False), CountingPacer()  # e.g. an injected latency: the worker sleeps on
    channel = _channel()
    started = time.monotonic()
    _on_the_loop(pool, pacer).add_task(channel)
    assert time.monotonic() - started < SETUP_TURN + 1.0  # bounded by the turn (plus a loaded machine's slack)
    assert channel.set_up is not None and not channel.set_up.is_set() and pacer.sends == 1


def test_requests_queued_from_a_worker_thread_never_wait() -> None:
    """waitress queues a connection's next pipelined request from the worker that answered the previous one."""
    pool, pacer = Pool(finish=False), CountingPacer()
    setups = _on_the_loop(pool, pacer)
    channel = _channel()
    channel.set_up = threading.Event()  # left over from the previous request
    worker = threading.Thread(target=setups.add_task, args=(channel,))
    worker.start()
    worker.join(DEADLINE)
    assert not worker.is_alive() and pool.tasks == [channel] and channel.set_up is None and pacer.sends == 0


def test_everything_else_is_waitress_dispatchers_own() -> None:
    pool = Pool()
    assert _on_the_loop(pool).shutdown() is True and pool.shut_down


def test_the_requests_that_may_open_a_stream_come_from_the_contract() -> None:
    """Its one operation answering text/event-stream is the invocation (the seed flow's step 5)."""
    assert _stream_openers() == frozenset({("POST", "/invocations")})
