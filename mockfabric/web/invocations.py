"""Rendering an invocation: one JSON body, or an SSE stream paced by the clock, with stream faults applied."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response

from ..clock import Clock
from ..domain.faults import FaultRule
from ..domain.invocations import Invocation
from . import sse


class StreamCut(ConnectionAbortedError):
    """Raised inside a response body to make the server drop the connection (an injected fault, not a bug)."""


def render(invocation: Invocation, clock: Clock, fault: FaultRule | None, check_chunk: Callable[[Any], None] | None) -> Response:
    if not invocation.stream:
        return Response(json.dumps(invocation.completion.as_json(), ensure_ascii=False), 200, mimetype="application/json")
    events = _paced(invocation, clock, fault, check_chunk)
    return Response(events, 200, mimetype="text/event-stream", headers=sse.HEADERS)


def _paced(invocation: Invocation, clock: Clock, fault: FaultRule | None, check_chunk: Callable[[Any], None] | None) -> Iterator[bytes]:
    """Role deltas at once (headers go out with them), then TTFT, then one content chunk per token ITL apart."""
    cut = fault.stream_cut_after if fault else None
    error_after = fault.stream_error_after if fault else None
    content_seen = False
    for sent, chunk in enumerate(invocation.completion.chunks(invocation.include_usage)):
        if cut is not None and sent >= cut:
            raise StreamCut(f"injected fault {fault.id if fault else ''}: connection cut after {sent} chunks")
        if error_after is not None and sent >= error_after:
            yield sse.event(
                {
                    "error_code": (fault.error_code if fault else None) or "dataartsfabric.00000001",
                    "error_msg": (fault.error_msg if fault else None) or "the inference service failed mid-stream",
                }
            )
            return
        is_content = bool(chunk["choices"]) and "content" in chunk["choices"][0]["delta"] and "role" not in chunk["choices"][0]["delta"]
        if is_content:
            if not content_seen:
                content_seen = True
                if fault is not None and fault.stall_ms:
                    time.sleep(fault.stall_ms / 1000)  # real time: a stall exists to trip a client's read timeout
                clock.sleep(invocation.timing.ttft_ms / 1000)
            else:
                clock.sleep(invocation.timing.itl_ms / 1000)
        if check_chunk is not None:
            check_chunk(chunk)
        yield sse.event(chunk)
    yield sse.DONE
