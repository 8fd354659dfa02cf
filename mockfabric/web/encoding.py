"""Compact UTF-8 JSON for every answer and stream chunk, as fast as the hot paths need it."""

from __future__ import annotations

import json
from typing import Any

import orjson

_FALLBACK = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def to_json(value: Any) -> bytes:
    """orjson (~10x the standard library's speed: a stream chunk costs ~0.5 us instead of ~5) with `json` as the
    fallback for what orjson refuses (integers beyond 64 bits, keys that are not strings), so nothing a client
    managed to store fails to render."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _FALLBACK.encode(value).encode("utf-8")
