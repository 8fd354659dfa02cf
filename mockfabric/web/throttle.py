"""The API Gateway's throttling (`--rate-limit`): at most N requests of an operation per tenant in any minute (or
second), counted on the emulator's clock, so a test moves the clock past it instead of waiting.

What must hold: a request over the limit is answered 429 APIG.0308 with the gateway's documented message
("... policy user over ratelimit,limit:N,time:1 minute") before it reaches the service, and is not counted; memory
stays bounded whatever the number of tenants (the least recently seen counters are dropped past MAX_COUNTERS).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping

from ..clock import Clock
from ..config import ConfigError, RateLimit
from ..errors import Throttled

MAX_COUNTERS = 100_000


class Throttle:
    def __init__(self, limits: Mapping[str, RateLimit], clock: Clock, operations: Iterable[str]) -> None:
        unknown = sorted(set(limits) - set(operations))
        if unknown:
            raise ConfigError(f"rate limit: {', '.join(unknown)} is not an operation of the contract (see `mockfabric operations`)")
        self._limits = dict(limits)
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, operation: str, tenant: str) -> None:
        """Count the request, or raise Throttled when the tenant has used the operation's limit in the window."""
        rate = self._limits.get(operation)
        if rate is None:
            return
        now = self._clock.now()
        with self._lock:
            key = (operation, tenant)
            times = self._seen.pop(key, None) or deque()
            self._seen[key] = times  # most recently seen last
            while times and times[0] <= now - rate.per:
                times.popleft()
            if len(times) >= rate.limit:
                raise Throttled(
                    f"The throttling threshold has been reached: policy user over ratelimit,limit:{rate.limit},time:1 {rate.unit}"
                )
            times.append(now)
            while len(self._seen) > MAX_COUNTERS:
                self._seen.popitem(last=False)
