"""Server-sent events framing, nothing else: `data: <json>\\n\\n` per event, `data: [DONE]\\n\\n` last."""

from __future__ import annotations

import json
from typing import Any

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one per stream chunk: build it once


def event(data: Any) -> bytes:
    return b"data: " + _ENCODER.encode(data).encode("utf-8") + b"\n\n"
