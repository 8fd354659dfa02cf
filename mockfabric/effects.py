"""What a fault does to the request it hits, shared by fault rules, the fault header and answer fixtures.

What must hold: latency comes first (real time), then a dropped connection, an error answer (status, code, message,
Retry-After), or a stream fault (a stall before the first token, a cut or an error event after N chunks); an error
effect that names no code answers the service's code for its status.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError, InternalError, RequestTimeout, ServiceUnavailable, Throttled


@dataclass(frozen=True, slots=True)
class FaultEffect:
    """What a fault does to a request it hits: latency first (real time), then a dropped connection, an error
    answer (status, code, message, Retry-After), or a stream fault (a stall before the first token, a cut or an
    error event after N chunks)."""

    status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    drop_connection: bool = False
    stream_cut_after: int | None = None
    stream_error_after: int | None = None
    stall_ms: int = 0


EFFECT_FIELDS = frozenset(FaultEffect.__dataclass_fields__)

DEFAULT_ERRORS: dict[int, tuple[type[ApiError], str]] = {  # what an error rule answers when it names no code
    408: (RequestTimeout, "timeout exception occurred"),
    429: (Throttled, "The throttling threshold has been reached"),
    500: (InternalError, "internal error"),
    503: (ServiceUnavailable, "service unavailable"),
}
FALLBACK_ERROR = ("dataartsfabric.00000001", "the system is busy; retry later")  # other statuses, mid-stream errors


def error_of(effect: FaultEffect) -> tuple[str, str]:
    """The error_code and error_msg an error effect answers with (defaults per status, from the error tree)."""
    known = DEFAULT_ERRORS.get(effect.status or 500)
    code, message = (known[0].error_code, known[1]) if known is not None else FALLBACK_ERROR
    return effect.error_code or code, effect.error_msg or message


def combined(first: FaultEffect | None, then: FaultEffect | None) -> FaultEffect | None:
    """`first`'s effects, with `then`'s for each one `first` leaves unset (a request's own fault over its answer's)."""
    if first is None or then is None:
        return first or then
    unset = FaultEffect()
    merged = {name: getattr(first, name) if getattr(first, name) != getattr(unset, name) else getattr(then, name) for name in EFFECT_FIELDS}
    return FaultEffect(**merged)
