"""Time as an injected dependency: every timestamp, progression and token delay reads a Clock."""

from __future__ import annotations

import functools
import math
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

# The latest instant a clock may reach: timestamps are rendered as ISO dates, which end with year 9999; a year of
# headroom is left for the due times of lifecycles and tokens computed from `now`.
LATEST_INSTANT = datetime(9999, 1, 1, tzinfo=UTC).timestamp()


class ClockLimit(ValueError):
    """A move that would take the clock backwards or past LATEST_INSTANT; nothing moved."""


def _checked_move(now: float, seconds: float) -> float:
    if seconds < 0:
        raise ClockLimit("a clock cannot go backwards")
    if now + seconds > LATEST_INSTANT:
        raise ClockLimit(f"the clock cannot go past 9999-01-01T00:00:00Z ({LATEST_INSTANT - now:.0f} s from now)")
    return now + seconds


class Clock(Protocol):
    """What the emulator needs of time: the current instant, and how long a wait on it lasts in real time."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def real_seconds(self, seconds: float) -> float:
        """How many real seconds `seconds` of this clock's time take to pass (a ManualClock: none)."""
        ...


class ControlledClock(Clock, Protocol):
    """A clock the control API can drive: advance it, freeze it and (if it runs by itself) let it run again."""

    @property
    def frozen(self) -> bool:
        """Whether time stands still until advanced."""
        ...

    @property
    def runs_by_itself(self) -> bool:
        """Whether `unfreeze` can make it run (a ManualClock never does)."""
        ...

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` (ClockLimit, nothing moved, when that would go backwards or too far)."""
        ...

    def freeze(self) -> float:
        """Stand still at the current instant, returned."""
        ...

    def unfreeze(self) -> float:
        """Run on from the frozen instant, returned (ClockLimit when the clock cannot run by itself)."""
        ...


class SystemClock:
    """Wall-clock time; what `mockfabric serve` uses unless frozen through the control API."""

    def now(self) -> float:
        return time.time()

    def real_seconds(self, seconds: float) -> float:
        return max(seconds, 0.0)


class ManualClock:
    """A clock that moves only when told: tests and users jump it instead of waiting.

    Its waits take no real time, so a streamed answer with inter-token latency under a ManualClock finishes
    immediately while its timestamps stay consistent.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def real_seconds(self, seconds: float) -> float:
        return 0.0

    @property
    def frozen(self) -> bool:
        return True

    @property
    def runs_by_itself(self) -> bool:
        return False

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now = _checked_move(self._now, seconds)
            return self._now

    def freeze(self) -> float:
        return self.now()

    def unfreeze(self) -> float:
        raise ClockLimit("this emulator runs on a manual clock, which only moves when advanced")


class ControllableClock:
    """The clock `serve` runs on: system time plus an offset, which the control API can advance or freeze.

    Frozen, it behaves like a ManualClock (nothing progresses by itself); unfrozen, it resumes from the frozen
    instant, so advancing and freezing never make time run backwards.
    """

    def __init__(self, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = 0.0
        self._frozen_at: float | None = None
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._base.now() + self._offset

    def real_seconds(self, seconds: float) -> float:
        # read without the lock: asked for every stream chunk, and a read racing a freeze affects that chunk only
        return 0.0 if self._frozen_at is not None else self._base.real_seconds(seconds)

    @property
    def frozen(self) -> bool:
        with self._lock:
            return self._frozen_at is not None

    @property
    def runs_by_itself(self) -> bool:
        return True

    def advance(self, seconds: float) -> float:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = _checked_move(self._frozen_at, seconds)
                return self._frozen_at
            now = self._base.now() + self._offset
            self._offset += _checked_move(now, seconds) - now
            return self._base.now() + self._offset

    def freeze(self) -> float:
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = self._base.now() + self._offset
            return self._frozen_at

    def unfreeze(self) -> float:
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - self._base.now()
                self._frozen_at = None
            return self._base.now() + self._offset


def iso_millis(instant: float) -> str:
    """ISO-8601 UTC with milliseconds and `Z`, the service's timestamp format (e.g. 2023-05-30T12:24:30.401Z).

    Every record stamps one, so the seconds part is formatted once per second (strftime was ~4 % of a create);
    microseconds round the way datetime.fromtimestamp rounds them."""
    fraction, whole = math.modf(instant)
    micros = round(fraction * 1e6)
    seconds = int(whole)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    elif micros < 0:
        seconds, micros = seconds - 1, micros + 1_000_000
    return f"{_second(seconds)}.{micros // 1000:03d}Z"


@functools.lru_cache(maxsize=8)
def _second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
