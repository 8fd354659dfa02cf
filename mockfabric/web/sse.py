"""Server-sent events framing, nothing else: `data: <json>\\n\\n` per event, `data: [DONE]\\n\\n` last."""

from __future__ import annotations

from typing import Any

from .encoding import to_json

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event(data: Any) -> bytes:
    return b"data: " + to_json(data) + b"\n\n"


def error_event(error_code: str, error_msg: str) -> bytes:
    """A stream's mid-way failure (StreamErrorEvent, inferred): the service's `error_code` / `error_msg`, and the same in
    an OpenAI-style `error` object, which makes OpenAI-style clients raise instead of yielding a chunk without choices."""
    error = {"message": error_msg, "type": "service_error", "code": error_code, "error_code": error_code, "error_msg": error_msg}
    return event({"error_code": error_code, "error_msg": error_msg, "error": error})
