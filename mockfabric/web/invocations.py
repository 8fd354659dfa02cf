"""Rendering an invocation: one JSON body, or an SSE stream paced by the clock, with stream faults applied."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response

from ..clock import Clock
from ..effects import FALLBACK_ERROR, FaultEffect
from ..service.invocations import Invocation
from ..service.pacing import pacer
from ..service.telemetry import StreamTally
from ..streaming import Handover, Step, hold
from . import sse


class StreamCut(ConnectionAbortedError):
    """Raised inside a response body to make the server drop the connection (an injected fault, not a bug)."""


Fault = tuple[str, FaultEffect]  # the rule's id, what it does
TIMELINE_CHUNKS = 1000  # chunks whose due time a stream's journal entry keeps (the dashboard's timeline)


def render(
    invocation: Invocation,
    clock: Clock,
    fault: Fault | None,
    check_chunk: Callable[[Any], None] | None,
    handover: Handover | None = None,
    note: Callable[[str], None] | None = None,
    paced: Callable[[float, float, list[float]], None] | None = None,
    tally: StreamTally | None = None,
) -> Response:
    """With the server's `handover` the stream is written by the server's event loop (the body returned is empty);
    without one the request's thread sleeps between chunks itself. `note` records how a stream ended early; `tally`
    (the telemetry's) learns each token's pace and is closed however the stream ends.
    A plain answer waits (real time, as the clock counts it) only for its endpoint's free slot, if it queued."""
    if not invocation.stream:
        hold(handover, clock.real_seconds(invocation.queued))
        return Response(json.dumps(invocation.completion.as_json(), ensure_ascii=False), 200, mimetype="application/json")
    steps = _steps(invocation, clock, fault, check_chunk, paced, tally)
    if tally is not None:
        steps = _tallied(steps, tally, invocation.completion.choices[0].finish_reason)
    if handover is not None:
        handover.stream(steps, note)
        events: Iterator[bytes] = iter(())
    else:
        events = _by_sleeping(steps)
    return Response(events, 200, mimetype="text/event-stream", headers=sse.HEADERS)


def _tallied(steps: Iterator[Step], tally: StreamTally, finish_reason: str) -> Iterator[Step]:
    """The same steps; the tally learns the finish when the stream is whole (its `[DONE]` comes: a stream cut, or
    ended by an error event, has none), and is closed however the stream ends."""
    try:
        for step in steps:
            if step[1] is sse.DONE:
                tally.finished(finish_reason)
            yield step
    finally:
        tally.close()


def _by_sleeping(steps: Iterator[Step]) -> Iterator[bytes]:
    for seconds, chunk in steps:
        if seconds > 0:
            time.sleep(seconds)
        yield chunk


def _steps(
    invocation: Invocation,
    clock: Clock,
    fault: Fault | None,
    check_chunk: Callable[[Any], None] | None,
    paced: Callable[[float, float, list[float]], None] | None = None,
    tally: StreamTally | None = None,
) -> Iterator[Step]:
    """Role deltas at once (headers go out with them), then each token chunk after its pace (TTFT, or the wait for
    a free slot plus TTFT, then ITL, or the answer's own delay: what `Invocation.paced` says, computed inline here
    because a stream may have a million chunks). Each step is (real seconds to wait before it, chunk): pacing is on
    the emulator's clock (a frozen or manual clock waits for nothing), an injected stall is real time."""
    rule_id, effect = fault if fault is not None else ("", FaultEffect())
    cut, error_after = effect.stream_cut_after, effect.stream_error_after
    pace = pacer(invocation.timing, invocation.completion.prompt_tokens, invocation.seed)
    first = True
    first_ms = total = 0.0  # emulator seconds: told to `paced` once the stream is whole
    dues: list[float] = []  # when the first TIMELINE_CHUNKS token chunks fell due, emulator ms since the request
    event = sse.event
    for sent, (chunk, token, own_ms) in enumerate(invocation.completion.paced_chunks(invocation.include_usage, invocation.shape)):
        if cut is not None and sent >= cut:
            raise StreamCut(f"injected fault {rule_id}: connection cut after {sent} chunks")
        if error_after is not None and sent >= error_after:
            message = effect.error_msg or "the inference service failed mid-stream"
            yield 0.0, sse.error_event(effect.error_code or FALLBACK_ERROR[0], message)
            return
        seconds = 0.0
        if token:
            delay = own_ms / 1000 if own_ms is not None else pace(first)
            if first:
                first = False
                delay += invocation.queued
                first_ms = delay * 1000
                seconds = effect.stall_ms / 1000  # real time, even on a frozen clock: a stall trips a client's read timeout
            total += delay
            if tally is not None:
                tally.token(delay)
            if len(dues) < TIMELINE_CHUNKS:
                dues.append(round(total * 1000, 3))
            if delay:
                seconds += clock.real_seconds(delay)
        if check_chunk is not None:
            check_chunk(chunk)
        yield seconds, event(chunk)
    if paced is not None:
        paced(first_ms, total * 1000, dues)
    yield 0.0, sse.DONE
