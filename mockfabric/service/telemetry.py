"""What the emulated engine says about its own traffic, as vLLM's Prometheus metrics would (`--metrics`).

What must hold: every figure is on the emulator's clock and comes from the emulator's own traffic and capacity
model, never from wall time. Per series (tenant, instance):
- tokens: the prompt and answer tokens of every answer decided (as the endpoint's `tokens_quota` counts them: a
  stream cut short still generated them all);
- running / waiting, read at `now`: the answers whose slot (service/capacity.py, unlimited by default) is in use,
  from the end of their wait to their last token's due time, and the answers still waiting for a slot;
- histograms in vLLM's buckets: the wait for a slot (every answer); a stream's time to first token (the wait
  included) and the gaps between its tokens as they are paced, its whole duration and its finish reason once its
  last chunk is written (a stream the client leaves or a fault cuts reports the tokens it paced, and no finish);
  a plain answer is whole at once, after its wait: its first token and its end are that wait, it has no gaps (one
  whose own effect drops the connection is never delivered: it has no first token, end or finish);
- a reset forgets a series: a stream decided before it tells nothing after it.
At most MAX_SERIES series are kept; answers of later ones count in the OTHER series. At most MAX_IN_FLIGHT answers
are tracked for running / waiting (on a frozen clock none ever ends): past it the one due to end first is dropped.
Thread-safe: answers are decided under the store lock, streams are paced on the server's loop, scrapes anywhere.
"""

from __future__ import annotations

import heapq
import math
import threading
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

# vLLM's own buckets (vllm/v1/metrics/loggers.py), so that dashboards built for vLLM read these alike
TTFT_BUCKETS: tuple[float, ...] = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
)
TTFT_BUCKETS += (2560.0,)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
REQUEST_BUCKETS: tuple[float, ...] = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
)
REQUEST_BUCKETS += (7680.0,)

Series = tuple[str, str]  # (tenant, instance id)
OTHER: Series = ("_other", "_other")
MAX_SERIES = 256
MAX_IN_FLIGHT = 100_000
MAX_LABEL = 128  # characters of a tenant or instance id kept in a label


@dataclass(slots=True)
class Histogram:
    """Counts per bucket (the last one past every bound: +Inf) and the sum of what was observed."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # a value equal to a bound is in that bound's bucket (le)
        self.total += value

    def add(self, other: Histogram) -> None:
        for index, count in enumerate(other.counts):
            self.counts[index] += count
        self.total += other.total

    def copy(self) -> Histogram:
        return Histogram(self.bounds, list(self.counts), self.total)


@dataclass(slots=True)
class Figures:
    """One series' figures; `running` and `waiting` are filled in by `Telemetry.snapshot` for the time it reads."""

    prompt_tokens: int = 0
    generation_tokens: int = 0
    finished: Counter[str] = field(default_factory=Counter)  # finish reason -> answers
    queue: Histogram = field(default_factory=lambda: Histogram(REQUEST_BUCKETS))
    first_token: Histogram = field(default_factory=lambda: Histogram(TTFT_BUCKETS))
    inter_token: Histogram = field(default_factory=lambda: Histogram(ITL_BUCKETS))
    whole: Histogram = field(default_factory=lambda: Histogram(REQUEST_BUCKETS))
    running: int = 0
    waiting: int = 0

    def copy(self) -> Figures:
        return Figures(
            self.prompt_tokens,
            self.generation_tokens,
            Counter(self.finished),
            self.queue.copy(),
            self.first_token.copy(),
            self.inter_token.copy(),
            self.whole.copy(),
            self.running,
            self.waiting,
        )


@dataclass(slots=True)
class _InFlight:
    """Answers in progress: a heap of when each one's slot frees (with when its wait is over, -inf if it did not
    wait), and a heap of when each still waiting gets its slot, less `dropped`: the waits of answers made room for
    (`Telemetry._drop_one_locked`), forgotten as they come due or when they are half the heap."""

    ends: list[tuple[float, float]] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    dropped: Counter[float] = field(default_factory=Counter)
    gone: int = 0  # the waits in `dropped`, all in `starts`
    settled: float = -math.inf  # the latest time settled: every wait over by then has left `starts`

    @property
    def waiting(self) -> int:
        return len(self.starts) - self.gone

    def forget_wait(self, start: float) -> None:
        """The answer whose wait is over at `start` was dropped: its wait no longer counts."""
        if start <= self.settled:  # it is over (or it did not wait): it is no longer in `starts`
            return
        self.dropped[start] += 1
        self.gone += 1
        if 2 * self.gone > len(self.starts):  # as many dropped waits as live ones: keep the live ones only
            kept = [wait for wait in self.starts if not self.taken(wait)]
            heapq.heapify(kept)
            self.starts, self.dropped, self.gone = kept, Counter(), 0

    def taken(self, start: float) -> bool:
        """Whether this wait, just out of `starts`, was a dropped answer's (then it is taken off `dropped`)."""
        count = self.dropped.get(start, 0)
        if not count:
            return False
        if count == 1:
            del self.dropped[start]
        else:
            self.dropped[start] = count - 1
        self.gone -= 1
        return True


class Telemetry:
    """The figures of every series, kept as the service decides answers and the server paces streams."""

    def __init__(self, max_series: int = MAX_SERIES, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self._max_series, self._max_in_flight = max_series, max_in_flight
        self._lock = threading.Lock()
        self._figures: dict[Series, Figures] = {}
        self._in_flight: dict[Series, _InFlight] = {}
        self._tracked = 0  # answers in `_in_flight`, over every series

    def series(self, tenant: str, instance: str) -> Series:
        """The series an answer of `instance` counts in: its own while fewer than MAX_SERIES exist, else OTHER."""
        key = (tenant[:MAX_LABEL], instance[:MAX_LABEL])
        with self._lock:
            return self._series_locked(key)

    def _series_locked(self, key: Series) -> Series:
        own = len(self._figures) - (OTHER in self._figures)
        if key in self._figures or own < self._max_series - 1:  # one place stays for OTHER
            return key
        return OTHER

    def decided(
        self,
        series: Series,
        *,
        now: float,
        queued: float,
        duration: float,
        prompt_tokens: int,
        generation_tokens: int,
        finish_reason: str | None,
    ) -> None:
        """An answer decided at `now`: it waits `queued` for its slot and holds it until `now + duration` (both in
        emulator seconds). A plain answer gives its `finish_reason` (it is whole at once); a stream gives None and
        tells the rest as it is paced (`StreamTally`)."""
        with self._lock:
            series = self._series_locked(series)  # OTHER if the series was cleared and others took its place
            figures = self._figures_locked(series)
            figures.prompt_tokens += prompt_tokens
            figures.generation_tokens += generation_tokens
            figures.queue.observe(queued)
            if finish_reason is not None:
                figures.first_token.observe(queued)
                figures.whole.observe(queued)
                figures.finished[finish_reason] += 1
            self._track_locked(series, now, queued, duration)

    def stream(self, series: Series) -> StreamTally:
        """A tally for one stream's pacing, told to this telemetry when the stream ends, whichever way: to the
        series' figures of now, so that a stream still running when its series is reset counts in nothing."""
        with self._lock:
            key = self._series_locked(series)
            return StreamTally(self, key, self._figures_locked(key))

    def _settled(self, series: Series, figures: Figures, tally: StreamTally) -> None:
        with self._lock:
            if self._figures.get(series) is not figures:  # the series was reset since the stream began
                return
            if tally.first is not None:
                figures.first_token.observe(tally.first)
            figures.inter_token.add(tally.gaps)
            if tally.finish_reason is not None:
                figures.whole.observe(tally.whole)
                figures.finished[tally.finish_reason] += 1

    def snapshot(self, now: float) -> dict[Series, Figures]:
        """A copy of every series' figures, with what is running and waiting at `now` (emulator seconds)."""
        with self._lock:
            out = {series: figures.copy() for series, figures in self._figures.items()}
            for series, flight in list(self._in_flight.items()):
                self._tracked -= _settle(flight, now)
                if not flight.ends:
                    del self._in_flight[series]
                    continue
                figures = out[series]
                figures.waiting = flight.waiting
                figures.running = len(flight.ends) - figures.waiting
            return out

    def clear(self, tenant: str | None = None) -> None:
        """Forget the tenant's series (every series, OTHER included, when None)."""
        with self._lock:
            for series in [s for s in self._figures if tenant is None or s[0] == tenant[:MAX_LABEL]]:
                del self._figures[series]
                flight = self._in_flight.pop(series, None)
                if flight is not None:
                    self._tracked -= len(flight.ends)

    def _figures_locked(self, series: Series) -> Figures:
        key = self._series_locked(series)
        figures = self._figures.get(key)
        if figures is None:
            figures = self._figures[key] = Figures()
        return figures

    def _track_locked(self, series: Series, now: float, queued: float, duration: float) -> None:
        flight = self._in_flight.setdefault(series, _InFlight())
        end = now + max(duration, queued)
        if self._tracked >= self._max_in_flight:
            self._drop_one_locked()
        heapq.heappush(flight.ends, (end, now + queued if queued > 0 else -math.inf))
        if queued > 0:
            heapq.heappush(flight.starts, now + queued)
        self._tracked += 1

    def _drop_one_locked(self) -> None:
        """Make room: of every series, the answer that ends first goes (a waiting one with it, if it was waiting)."""
        series = min((s for s, flight in self._in_flight.items() if flight.ends), key=lambda s: self._in_flight[s].ends[0])
        flight = self._in_flight[series]
        _, start = heapq.heappop(flight.ends)
        flight.forget_wait(start)  # if it was still waiting, its wait goes with it
        self._tracked -= 1


def _settle(flight: _InFlight, now: float) -> int:
    """Let go of the answers over at `now` and start those whose wait is over; how many were let go."""
    ended = 0
    while flight.ends and flight.ends[0][0] <= now:
        heapq.heappop(flight.ends)
        ended += 1
    while flight.starts and flight.starts[0] <= now:
        flight.taken(heapq.heappop(flight.starts))
    flight.settled = max(flight.settled, now)
    return ended


class StreamTally:
    """One stream's pacing as it is written: `token(seconds)` per token chunk (the first one's wait is its time to
    first token), `finished(reason)` once its last chunk is written; `close()` tells the telemetry either way."""

    __slots__ = ("_closed", "_figures", "_series", "_telemetry", "finish_reason", "first", "gaps", "whole")

    def __init__(self, telemetry: Telemetry, series: Series, figures: Figures) -> None:
        self._telemetry, self._series, self._figures = telemetry, series, figures
        self.first: float | None = None
        self.gaps = Histogram(ITL_BUCKETS)
        self.whole = 0.0
        self.finish_reason: str | None = None
        self._closed = False

    def token(self, seconds: float) -> None:
        """A token chunk paced `seconds` after the one before it (after the request, for the first one)."""
        self.whole += seconds
        if self.first is None:
            self.first = self.whole
        else:
            self.gaps.observe(seconds)

    def finished(self, reason: str) -> None:
        self.finish_reason = reason

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._telemetry._settled(self._series, self._figures, self)
