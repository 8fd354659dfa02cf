"""Server-sent events framing, nothing else: `data: <json>\\n\\n` per event, `data: [DONE]\\n\\n` last."""

from __future__ import annotations

from typing import Any

from .encoding import to_json

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event(data: Any) -> bytes:
    return b"data: " + to_json(data) + b"\n\n"
