"""One thread that paces every open stream: the chunks of all streams, due at their times, written from a heap.

With a thread per stream sleeping between chunks, 500 streams at 20 ms mean 25 000 thread wake-ups a second on one
core, each through waitress's buffers and each waiting for the GIL: the p99 gap was ~145 ms and the first bytes of
the last streams came after 3.5 s (bench/STREAMING.md). Here the request's thread hands its stream over and waits
once; this thread wakes when the earliest chunk is due and writes every chunk that is due.

Only for a server that offers a writer this thread may call while the request's thread waits: `mockfabric.serving`
does (waitress writes the status and headers, then chunks go straight to the socket). Elsewhere (Flask's test
client, other WSGI servers) the request's thread sleeps between chunks itself, on the same steps.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

log = logging.getLogger("mockfabric")
Step = tuple[float, bytes]  # (seconds to wait before it, chunk)
ENVIRON_KEY = "mockfabric.pacer"


@dataclass(eq=False)
class PacedStream:
    steps: Iterator[Step]
    write: Callable[[bytes], object]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


Queued = tuple[float, int, PacedStream, bytes]  # (due, arrival order: ties go first come first served, stream, chunk)
STOPPING = "the server is stopping"


class Pacer:
    """Streams are iterators of (delay, chunk) steps; a step's delay runs from when the previous chunk was written.

    ~25 000 chunks a second go through here at 500 streams, so the loop keeps to one lock round per batch of due
    chunks and plain tuples in the heap (bench/STREAMING.md has the before/after)."""

    def __init__(self) -> None:
        self._heap: list[Queued] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._thread: threading.Thread | None = None  # started with the first stream: most servers never stream
        self._batch: list[Queued] = []  # the due chunks being written right now

    def stream(self, steps: Iterator[Step], write: Callable[[bytes], object]) -> PacedStream:
        """Start pacing `steps` (the first one waits its delay from now); wait on `.done`, then read `.error`."""
        paced = PacedStream(steps, write)
        first = self._next(paced, time.monotonic())
        if first is None:
            return paced
        with self._lock:
            if self._closed:
                first = None
            else:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="mockfabric-pacer", daemon=True)
                    self._thread.start()
                heapq.heappush(self._heap, first)
                self._wake.notify()  # the pacing thread may be asleep until a later chunk
        if first is None:
            self._finish(paced, ConnectionAbortedError(STOPPING))
        return paced

    def close(self) -> None:
        """End every stream still open (their waiting threads see ConnectionAbortedError) and stop the thread."""
        with self._lock:
            self._closed = True
            pending, self._heap = self._heap, []
            self._wake.notify()
        for _, _, paced, _ in pending:
            self._finish(paced, ConnectionAbortedError(STOPPING))
        if self._thread is not None:
            self._thread.join(timeout=5)

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

    def _run(self) -> None:
        try:
            self._pace()
        except Exception:
            # A bug here must not leave requests waiting forever on streams nobody writes: end them all, loudly,
            # and let the next stream start a fresh thread.
            log.exception("the pacing thread failed; the streams it held are ended")
            with self._lock:
                pending, self._heap, self._thread = self._heap + self._batch, [], None
            for _, _, paced, _ in pending:
                if not paced.done.is_set():
                    self._finish(paced, ConnectionAbortedError("the pacing thread failed"))

    def _pace(self) -> None:
        monotonic = time.monotonic
        while True:
            with self._lock:
                while not self._closed and (not self._heap or self._heap[0][0] > monotonic()):
                    self._wake.wait(self._heap[0][0] - monotonic() if self._heap else None)
                if self._closed:
                    return
                heap = self._heap
                now = monotonic()
                due = self._batch = []  # kept on self so a failure can still end them
                while heap and heap[0][0] <= now:
                    due.append(heapq.heappop(heap))
            following = [entry for entry in map(self._send, due, itertools.repeat(now)) if entry is not None]
            if following:
                self._requeue(following)
            self._batch = []

    def _requeue(self, entries: list[Queued]) -> None:
        with self._lock:
            stopping = self._closed
            if not stopping:
                for entry in entries:
                    heapq.heappush(self._heap, entry)
        if stopping:  # closed while these were being written
            for _, _, paced, _ in entries:
                self._finish(paced, ConnectionAbortedError(STOPPING))

    def _send(self, entry: Queued, now: float) -> Queued | None:
        paced = entry[2]
        try:
            paced.write(entry[3])
        except Exception as exc:  # the client went away: its thread learns why
            self._finish(paced, exc)
            return None
        return self._next(paced, now)

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
