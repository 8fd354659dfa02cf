"""An endpoint's capacity: how many streams it serves at once, and what becomes of an invocation past that.

What must hold: with `streams_per_mu` = 0 nothing is limited (the default). Otherwise an endpoint serves at most
`streams_per_mu` x its reserved MUs (`reserved_resource.mu.max`; 1 when it reserves none, inferred) answers at once,
each busy from its start until its last token is due on the emulator's clock (a client that leaves early does not
free its slot sooner: the emulator cannot know the model stopped). Past that an invocation either waits for the
first slot to free (`queue`: its time to first token grows by the wait) or is refused with the gateway's 429
(`refuse`). Everything is emulator time: on a frozen or manual clock a queued answer waits no real time, and moving
the clock frees the slots whose answers are over.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import Throttled

EPSILON = 1e-6  # seconds


def reserved_mus(endpoint: Mapping[str, Any]) -> int:
    """The MUs an endpoint reserves at most (1 when it names none)."""
    mu = (endpoint.get("reserved_resource") or {}).get("mu") or {}
    found = mu.get("max")
    return found if isinstance(found, int) and found > 0 else 1


@dataclass(slots=True)
class Capacity:
    """Busy slots per endpoint: a heap of the emulator times at which each answer in progress ends."""

    streams_per_mu: int = 0
    over_capacity: str = "queue"
    busy: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    @property
    def limited(self) -> bool:
        return self.streams_per_mu > 0

    def wait(self, tenant: str, endpoint: Mapping[str, Any], now: float) -> float:
        """Emulator seconds until the endpoint has a free slot for an invocation arriving `now` (0: free now);
        Throttled when it is full and the setting refuses rather than queues."""
        key = (tenant, endpoint["id"])
        slots = self.busy.get(key)
        if not slots:
            return 0.0
        while slots and slots[0] <= now + EPSILON:  # float sums of delays: a slot due within a microsecond is free
            heapq.heappop(slots)
        if not slots:
            del self.busy[key]
            return 0.0
        if len(slots) < self.streams_per_mu * reserved_mus(endpoint):
            return 0.0
        if self.over_capacity == "refuse":
            raise Throttled(
                f"The throttling threshold has been reached: endpoint {endpoint['id']} is serving {len(slots)} streams, its capacity "
                f"({self.streams_per_mu} per reserved MU)"
            )
        return slots[0] - now

    def occupy(self, tenant: str, endpoint: Mapping[str, Any], start: float, seconds: float) -> None:
        """Hold a slot from `start` for `seconds`; a full endpoint's first slot to free is the one taken."""
        slots = self.busy.setdefault((tenant, endpoint["id"]), [])
        if len(slots) >= self.streams_per_mu * reserved_mus(endpoint):
            heapq.heapreplace(slots, start + seconds)
        else:
            heapq.heappush(slots, start + seconds)

    def clear(self, tenant: str | None = None) -> None:
        for key in [k for k in self.busy if tenant is None or k[0] == tenant]:
            del self.busy[key]
