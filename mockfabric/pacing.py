"""The chunks of every open stream, due at their times, kept in one heap and written by the server's event loop.

History (bench/STREAMING.md has the figures): a thread per stream sleeping between chunks made 500 streams at 20 ms
25 000 thread wake-ups a second on one core (p99 gap ~145 ms); one pacing thread brought that to ~60 ms. What was
left was the GIL: every `send` releases it, and while other threads were setting up new streams each release let one
of them in for up to a switch interval (5 ms), so a chunk cost 150-550 us instead of ~30 us whenever streams were being
opened. Now no thread of its own paces: the server's event loop calls `send_due()` between its turns and sleeps no
longer than `due_in()`, and new streams are set up one at a time while it waits (mockfabric.serving), so one thread
runs Python at a time, as in a single-threaded asyncio server.

Only for a server that drives it and offers a writer the loop may call: `mockfabric.serving` does (waitress writes
the status and headers, then chunks go straight to the socket). Elsewhere (Flask's test client, other WSGI servers)
the request's thread sleeps between chunks itself, on the same steps.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("mockfabric")
Step = tuple[float, bytes]  # (seconds to wait before it, chunk)
Writer = Callable[[bytes], object]
ENVIRON_KEY = "mockfabric.pacer"


@dataclass(eq=False)
class PacedStream:
    steps: Iterator[Step]
    write: Writer
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class Handover(Protocol):
    """What a server offers the app (in the environ under ENVIRON_KEY, with a writer): take these steps and pace them."""

    def stream(self, steps: Iterator[Step], write: Writer) -> PacedStream: ...


Queued = tuple[float, int, PacedStream, bytes]  # (due, arrival order: ties go first come first served, stream, chunk)
STOPPING = "the server is stopping"


class Pacer:
    """Streams are iterators of (delay, chunk) steps; a step's delay runs from when the previous chunk was written.

    `stream()` may be called from any thread; `send_due()` and `due_in()` from the one loop that drives the pacer.
    ~25 000 chunks a second go through here at 500 streams, so each batch of due chunks takes the lock once and the
    heap holds plain tuples. `wake` is called when a new stream's first chunk is due before anything queued, so a
    loop asleep until a later chunk can shorten its sleep."""

    def __init__(self, wake: Callable[[], object] | None = None) -> None:
        self.wake = wake
        self._heap: list[Queued] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        self._batch: list[Queued] = []  # the due chunks being written right now

    @property
    def busy(self) -> bool:
        """Whether any stream is being paced."""
        return bool(self._heap or self._batch)

    def stream(self, steps: Iterator[Step], write: Writer) -> PacedStream:
        """Start pacing `steps`; wait on `.done`, then read `.error`. A first chunk due at once is written here, by the
        calling thread (with the response head, on a server that writes heads lazily), not left to the loop."""
        paced = PacedStream(steps, write)
        now = time.monotonic()
        entry = self._next(paced, now)
        if entry is not None and entry[0] <= now:
            entry = self._send(entry, now)
        if entry is None:
            return paced
        with self._lock:
            if self._closed:
                earliest = None
            else:
                earliest = not self._heap or entry[0] < self._heap[0][0]
                heapq.heappush(self._heap, entry)
        if earliest is None:
            self._finish(paced, ConnectionAbortedError(STOPPING))
        elif earliest and self.wake is not None:
            self.wake()
        return paced

    def due_in(self) -> float | None:
        """Seconds until the earliest queued chunk is due (0 or less: due now), or None when nothing is queued."""
        with self._lock:
            return self._heap[0][0] - time.monotonic() if self._heap else None

    def send_due(self) -> None:
        """Write every chunk that is due, and queue each stream's next step. Never raises: a bug here ends the streams
        it held, loudly, instead of leaving their requests waiting forever or stopping the server's loop."""
        try:
            self._send_due()
        except Exception:
            log.exception("pacing failed; the streams it held are ended")
            with self._lock:
                pending, self._heap = self._heap + self._batch, []
            self._batch = []
            self._abort(pending, "pacing failed")

    def close(self) -> None:
        """End every stream still open (their waiting threads see ConnectionAbortedError); later streams end at once."""
        with self._lock:
            self._closed = True
            pending, self._heap = self._heap, []
        self._abort(pending, STOPPING)

    def _send_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            heap = self._heap
            if not heap or heap[0][0] > now:
                return
            due = self._batch = []  # kept on self so a failure can still end them
            while heap and heap[0][0] <= now:
                due.append(heapq.heappop(heap))
        following = [entry for entry in map(self._send, due, itertools.repeat(now)) if entry is not None]
        if following:
            self._requeue(following)
        self._batch = []

    def _next(self, paced: PacedStream, now: float) -> Queued | None:
        """The stream's next step as a heap entry, or None once it is finished: exhausted, or its steps raised
        (an injected cut), which is handed to the request's thread to re-raise."""
        try:
            delay, chunk = next(paced.steps)
        except StopIteration:
            self._finish(paced, None)
            return None
        except Exception as exc:
            self._finish(paced, exc)
            return None
        return (now + delay if delay > 0 else now), next(self._order), paced, chunk

    def _requeue(self, entries: list[Queued]) -> None:
        with self._lock:
            stopping = self._closed
            if not stopping:
                for entry in entries:
                    heapq.heappush(self._heap, entry)
        if stopping:  # closed while these were being written
            self._abort(entries, STOPPING)

    def _send(self, entry: Queued, now: float) -> Queued | None:
        paced = entry[2]
        try:
            paced.write(entry[3])
        except Exception as exc:  # the client went away: its thread learns why
            self._finish(paced, exc)
            return None
        return self._next(paced, now)

    def _abort(self, entries: list[Queued], reason: str) -> None:
        """End the streams of these entries that have not ended yet; their waiting threads see ConnectionAbortedError."""
        for _, _, paced, _ in entries:
            if not paced.done.is_set():
                self._finish(paced, ConnectionAbortedError(reason))

    @staticmethod
    def _finish(paced: PacedStream, error: BaseException | None) -> None:
        paced.error = error
        close = getattr(paced.steps, "close", None)
        try:
            if close is not None and error is not None:
                close()
        except Exception:  # the steps' own clean-up failing is logged; the stream still ends
            log.exception("closing an ended stream failed")
        finally:
            paced.done.set()
