"""Rendering an invocation: one JSON body, or an SSE stream paced by the clock, with stream faults applied."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response

from ..clock import Clock
from ..fixture.faults import FALLBACK_ERROR, FaultEffect
from ..fixture.scripts import Timing
from ..service.invocations import Invocation
from ..streaming import Handover, Step
from . import sse


class StreamCut(ConnectionAbortedError):
    """Raised inside a response body to make the server drop the connection (an injected fault, not a bug)."""


Fault = tuple[str, FaultEffect]  # the rule's id, what it does


def render(
    invocation: Invocation,
    timing: Timing,
    clock: Clock,
    fault: Fault | None,
    check_chunk: Callable[[Any], None] | None,
    handover: Handover | None = None,
    note: Callable[[str], None] | None = None,
) -> Response:
    """With the server's `handover` the stream is written by the server's event loop (the body returned is empty);
    without one the request's thread sleeps between chunks itself. `note` records how a stream ended early."""
    if not invocation.stream:
        return Response(json.dumps(invocation.completion.as_json(), ensure_ascii=False), 200, mimetype="application/json")
    steps = _steps(invocation, timing, clock, fault, check_chunk)
    if handover is not None:
        handover.stream(steps, note)
        events: Iterator[bytes] = iter(())
    else:
        events = _by_sleeping(steps)
    return Response(events, 200, mimetype="text/event-stream", headers=sse.HEADERS)


def _by_sleeping(steps: Iterator[Step]) -> Iterator[bytes]:
    for seconds, chunk in steps:
        if seconds > 0:
            time.sleep(seconds)
        yield chunk


def _pacer(timing: Timing, invocation: Invocation) -> Callable[..., float]:
    """Seconds before the first token and before each next one: the means, drawn around them when jitter is set
    (seeded by the request, so the same request is paced alike), prefill time per prompt token before the first."""
    prefill_ms = timing.prefill_us_per_token * invocation.completion.prompt_tokens / 1000
    if not (timing.ttft_jitter_ms or timing.itl_jitter_ms):
        ttft, itl = (timing.ttft_ms + prefill_ms) / 1000, timing.itl_ms / 1000
        return lambda first: ttft if first else itl
    draw = random.Random(invocation.seed).gauss

    def pace(first: bool) -> float:
        if first:
            return (max(0.0, draw(timing.ttft_ms, timing.ttft_jitter_ms)) + prefill_ms) / 1000
        return max(0.0, draw(timing.itl_ms, timing.itl_jitter_ms)) / 1000

    return pace


def _steps(
    invocation: Invocation, timing: Timing, clock: Clock, fault: Fault | None, check_chunk: Callable[[Any], None] | None
) -> Iterator[Step]:
    """Role deltas at once (headers go out with them), then TTFT, then one content chunk per token ITL apart.
    Each step is (real seconds to wait before it, chunk): TTFT and ITL are on the emulator's clock (a frozen or
    manual clock waits for nothing), an injected stall is real time."""
    rule_id, effect = fault if fault is not None else ("", FaultEffect())
    cut, error_after = effect.stream_cut_after, effect.stream_error_after
    pace = _pacer(timing, invocation)
    content_seen = False
    for sent, chunk in enumerate(invocation.completion.chunks(invocation.include_usage, invocation.shape)):
        if cut is not None and sent >= cut:
            raise StreamCut(f"injected fault {rule_id}: connection cut after {sent} chunks")
        if error_after is not None and sent >= error_after:
            error = {
                "error_code": effect.error_code or FALLBACK_ERROR[0],
                "error_msg": effect.error_msg or "the inference service failed mid-stream",
            }
            yield 0.0, sse.event(error)
            return
        stall = delay = 0.0
        delta = chunk["choices"][0]["delta"] if chunk["choices"] else {}
        is_content = bool(delta.get("content") or delta.get("reasoning_content"))  # a token, not an empty role delta
        if is_content:
            if not content_seen:
                content_seen = True
                if effect.stall_ms:
                    stall = effect.stall_ms / 1000  # real time, even on a frozen clock: a stall trips a client's read timeout
                delay = pace(first=True)
            else:
                delay = pace(first=False)
        if check_chunk is not None:
            check_chunk(chunk)
        yield stall + (clock.real_seconds(delay) if delay else 0.0), sse.event(chunk)
    yield 0.0, sse.DONE
