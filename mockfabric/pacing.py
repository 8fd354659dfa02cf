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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Step = tuple[float, bytes]  # (seconds to wait before it, chunk)
ENVIRON_KEY = "mockfabric.pacer"


@dataclass(eq=False)
class PacedStream:
    steps: Iterator[Step]
    write: Callable[[bytes], object]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


@dataclass(slots=True)
class _Pending:
    paced: PacedStream
    chunk: bytes


class Pacer:
    """Streams are iterators of (delay, chunk) steps; a step's delay runs from when the previous chunk was written."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Pending]] = []
        self._order = itertools.count()  # ties on the due time are served first come, first served
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None  # started with the first stream: most servers never stream

    def stream(self, steps: Iterator[Step], write: Callable[[bytes], object]) -> PacedStream:
        """Start pacing `steps` (the first one waits its delay from now); wait on `.done`, then read `.error`."""
        paced = PacedStream(steps, write)
        with self._wake:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="mockfabric-pacer", daemon=True)
                self._thread.start()
        self._advance(paced, time.monotonic(), wake=True)
        return paced

    def close(self) -> None:
        """End every stream still open (their waiting threads see ConnectionAbortedError) and stop the thread."""
        with self._wake:
            self._closed = True
            pending, self._heap = self._heap, []
            self._wake.notify()
        for _, _, waiting in pending:
            self._finish(waiting.paced, ConnectionAbortedError("the server is stopping"))
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _advance(self, paced: PacedStream, now: float, wake: bool = False) -> None:
        """Queue the stream's next step, or finish it: exhausted, or its steps raised (an injected cut)."""
        try:
            delay, chunk = next(paced.steps)
        except StopIteration:
            self._finish(paced, None)
            return
        except Exception as exc:  # handed to the request's thread, which re-raises it
            self._finish(paced, exc)
            return
        with self._wake:
            if self._closed:
                closed = True
            else:
                closed = False
                heapq.heappush(self._heap, (now + max(delay, 0.0), next(self._order), _Pending(paced, chunk)))
                if wake:  # from a request's thread: the pacing thread may be asleep until a later chunk
                    self._wake.notify()
        if closed:
            self._finish(paced, ConnectionAbortedError("the server is stopping"))

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._wake.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                if self._closed:
                    return
                now = time.monotonic()
                due: list[_Pending] = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
            for pending in due:
                self._send(pending, now)

    def _send(self, pending: _Pending, now: float) -> None:
        try:
            pending.paced.write(pending.chunk)
        except Exception as exc:  # the client went away: its thread learns why
            self._finish(pending.paced, exc)
            return
        self._advance(pending.paced, now)

    @staticmethod
    def _finish(paced: PacedStream, error: BaseException | None) -> None:
        paced.error = error
        close = getattr(paced.steps, "close", None)
        if close is not None and error is not None:
            close()
        paced.done.set()
