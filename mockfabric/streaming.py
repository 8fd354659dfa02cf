"""Invocation streams written by the server's event loop: no thread per stream, a bounded backlog per reader.

The app decides what a stream says (its steps: `(seconds to wait, chunk)`), the server writes it. A request that
answers with a stream finds a `Handover` in its WSGI environ under ENVIRON_KEY (`mockfabric.asgi` puts it there),
hands its steps over and returns an empty body at once, so the worker thread is free again; the ASGI front then
writes the steps with `write_stream` on the event loop. Without a handover (Flask's test client, another WSGI
server) the request's thread sleeps between the steps itself (`mockfabric.web.invocations`).

Paced steps keep their schedule whatever the reader does: a chunk falls due `seconds` after the previous one fell
due, and chunks the reader has not taken yet wait in that stream's backlog. Steps due at once (no pacing, or a
stream already behind) are read only as the reader takes them, BATCH bytes at a time, with a turn of the event loop
for everyone else in between. A stream ends early, with its connection closed (StreamAbandoned), when its reader
leaves more than `backlog_limit` bytes due and untaken, or takes nothing for `stall_seconds` while data waits: a
reader can hold a little memory and a socket for a while, never the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

log = logging.getLogger("mockfabric")
Step = tuple[float, bytes]  # (seconds to wait before it, chunk)
ENVIRON_KEY = "mockfabric.handover"
BACKLOG_LIMIT = 4 * 1024 * 1024  # bytes a reader may leave untaken before its stream is cut (--stream-backlog)
ALL_BACKLOGS_LIMIT = 256 * 1024 * 1024  # bytes all streams of a server may hold untaken, together
STALL_SECONDS = 10.0  # seconds a reader may take nothing while data waits (--read-timeout)
BATCH = 64 * 1024  # bytes of steps due at once read per turn of the event loop
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class StreamAbandoned(ConnectionAbortedError):
    """A stream ended early because of its reader: too slow, stalled, or gone."""


class ClientLeft(StreamAbandoned):
    """The client closed the connection mid-stream: nobody to tell, nothing to log."""


class Handover:
    """What one request leaves for the server to do after its worker thread has returned: wait before answering
    (an injected latency) and write a stream. Filled from the worker thread before the app returns; read by the
    event loop after."""

    __slots__ = ("delay", "note", "steps")

    def __init__(self) -> None:
        self.steps: Iterator[Step] | None = None
        self.note: Callable[[str], None] | None = None
        self.delay = 0.0

    def stream(self, steps: Iterator[Step], note: Callable[[str], None] | None = None) -> None:
        """Write these steps as the body; `note` is told what became of the stream if it ends early (the journal)."""
        self.steps, self.note = steps, note

    def wait(self, seconds: float) -> None:
        """Hold the answer back this long (real time) without holding a thread."""
        self.delay += seconds


class Backlogs:
    """Every open stream's backlog of one server, and one ceiling on them all: when the streams together hold more
    than `limit` bytes their readers have not taken, the stream holding the most is cut. One reader at its own
    ceiling is bounded by --stream-backlog; this bounds thousands of them at once."""

    def __init__(self, limit: int = ALL_BACKLOGS_LIMIT) -> None:
        self.limit, self.held = limit, 0
        self.open: set[_Backlog] = set()

    def grew(self, size: int) -> None:
        self.held += size
        if self.held > self.limit and self.open:
            largest = max(self.open, key=lambda backlog: backlog.size)
            largest.overflow(
                f"stream cut: the streams together left over {self.limit} bytes unread; this client left the most, {largest.size}"
            )

    def shrank(self, size: int) -> None:
        self.held -= size


class _Backlog:
    """The due chunks of one stream that its reader has not taken yet: paced ones added by timer callbacks on
    schedule, ones due at once added a batch at a time when the writer asks (`fill`)."""

    def __init__(self, steps: Iterator[Step], loop: asyncio.AbstractEventLoop, limit: int, ledger: Backlogs) -> None:
        self.steps, self.loop, self.limit, self.ledger = steps, loop, limit, ledger
        ledger.open.add(self)  # until close()
        self.chunks: list[bytes] = []
        self.size = 0  # bytes fallen due and not yet accepted by the server
        self.finished = False
        self.more_due = False  # a batch was cut short: more steps are due at once, for the writer's next `fill`
        self.error: BaseException | None = None
        self.ready = asyncio.Event()
        self.on_overflow: Callable[[], None] = lambda: None
        self._waiting: bytes | None = None  # the chunk the timer is for
        self._timer: asyncio.TimerHandle | None = None

    def fill(self) -> None:
        """Add the chunk the timer was for and the steps due with it, up to BATCH bytes; arm the timer for the next
        later one."""
        self._timer, self.more_due = None, False
        added = 0
        if self._waiting is not None:
            chunk, self._waiting = self._waiting, None
            added += self._add(chunk)
        while not self.finished:
            if added >= BATCH:
                self.more_due = True
                return
            try:
                delay, chunk = next(self.steps)
            except StopIteration:
                self.end(None)
            except Exception as exc:  # an injected cut or a drifted chunk: the stream ends with it
                self.end(exc)
            else:
                if delay > 0:
                    self._waiting, self._timer = chunk, self.loop.call_later(delay, self.fill)
                    return
                added += self._add(chunk)

    def _add(self, chunk: bytes) -> int:
        self.chunks.append(chunk)
        self.size += len(chunk)
        self.ready.set()
        self.ledger.grew(len(chunk))  # past the server-wide ceiling this cuts the largest backlog, maybe this one
        if self.size > self.limit:
            self.overflow(f"stream cut: the client left {self.size} bytes unread (limit {self.limit})")
        return len(chunk)

    def overflow(self, reason: str) -> None:
        """End the stream for holding too much; a send stuck on its full socket ends too (on_overflow)."""
        self.end(StreamAbandoned(reason))
        self.on_overflow()

    def end(self, error: BaseException | None) -> None:
        """The stream is over (error None: every step was taken); the first reason given stands."""
        if not self.finished:
            self.finished, self.error = True, error
        self.ready.set()

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data

    def taken(self, size: int) -> None:
        self.size -= size
        self.ledger.shrank(size)

    def close(self) -> None:
        """Stop the schedule and give back what it held; the steps' own clean-up runs (a generator's `finally`)."""
        self.ledger.open.discard(self)
        self.ledger.shrank(self.size)
        self.size = 0
        self.chunks.clear()
        if self._timer is not None:
            self._timer.cancel()
        close = getattr(self.steps, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.exception("closing an ended stream failed")


async def write_stream(
    steps: Iterator[Step],
    send: Send,
    receive: Receive,
    backlog_limit: int = BACKLOG_LIMIT,
    stall_seconds: float = STALL_SECONDS,
    backlogs: Backlogs | None = None,
) -> None:
    """Write every step as a body chunk after the response head was sent, then end the body.

    Raises StreamAbandoned when the reader fell more than `backlog_limit` bytes behind, took nothing for
    `stall_seconds` while data waited, or left, or held the most when the server's streams together (`backlogs`)
    passed their ceiling; and whatever the steps raised (an injected cut). Either way the caller must close the
    connection, not end the body cleanly."""
    loop = asyncio.get_running_loop()
    ledger = backlogs if backlogs is not None else Backlogs()
    backlog = _Backlog(steps, loop, backlog_limit, ledger)
    departure = loop.create_task(_departure(receive))
    departure.add_done_callback(lambda _: backlog.end(ClientLeft("the client left mid-stream")))
    try:
        async with asyncio.timeout(None) as deadline:
            backlog.on_overflow = lambda: deadline.reschedule(loop.time())  # a send stuck on a full socket ends too
            backlog.fill()
            await _drain(backlog, send, deadline, stall_seconds)
    except TimeoutError:
        backlog.end(StreamAbandoned(f"stream cut: the client took nothing for {stall_seconds:g} s"))
    finally:
        departure.cancel()
        backlog.close()
    if backlog.error is not None:
        raise backlog.error
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _drain(backlog: _Backlog, send: Send, deadline: asyncio.Timeout, stall_seconds: float) -> None:
    """Hand the backlog to the server as fast as the reader takes it, one joined body message per wake-up."""
    loop = asyncio.get_running_loop()
    while True:
        await backlog.ready.wait()
        backlog.ready.clear()
        if isinstance(backlog.error, StreamAbandoned):  # reader gone or too slow: nothing more is written
            return
        if backlog.chunks:
            data = backlog.take()
            deadline.reschedule(loop.time() + stall_seconds)
            await send({"type": "http.response.body", "body": data, "more_body": True})
            deadline.reschedule(None)
            backlog.taken(len(data))
        if backlog.more_due:
            await asyncio.sleep(0)  # a turn for everyone else between batches of a fast stream
            backlog.fill()
        elif backlog.finished and not backlog.chunks:
            return


async def _departure(receive: Receive) -> None:
    """Returns when the client has gone: the request body was already read, so the next message is the disconnect."""
    while (await receive())["type"] != "http.disconnect":
        pass


def hold(handover: Handover | None, seconds: float) -> None:
    """Hold an answer back `seconds` of real time: the server waits, holding no thread, when it offers a handover;
    else this thread sleeps."""
    if seconds <= 0:
        return
    if handover is not None:
        handover.wait(seconds)
    else:
        time.sleep(seconds)


def handover_of(environ: dict[str, Any]) -> Handover | None:
    """The request's Handover, if its server offers one (mockfabric.asgi does)."""
    found = environ.get(ENVIRON_KEY)
    return found if isinstance(found, Handover) else None
