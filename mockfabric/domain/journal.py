"""The request journal: what clients sent and what they got, with credentials redacted, newest last, bounded."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

REDACTED = "***"
SECRET_HEADERS = {"authorization", "x-auth-token", "x-security-token", "x-mockfabric-control-token", "cookie"}
MAX_ENTRIES = 10_000  # the oldest entries are dropped beyond this, so a long-running server does not grow without bound


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    cleaned = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            # keep the scheme and the AK of a signature: useful to debug, not a secret
            cleaned[name] = value.split(", Signature=")[0] + ", Signature=***" if value.startswith("SDK-HMAC") else REDACTED
        else:
            cleaned[name] = value
    return cleaned


class Journal:
    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append({"seq": self._seq, **entry})

    def entries(self, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            chosen = list(self._entries)
        for name in ("tenant", "operation", "method", "status"):
            if filters.get(name) is not None:
                chosen = [e for e in chosen if e.get(name) == filters[name]]
        if filters.get("path_contains"):
            chosen = [e for e in chosen if filters["path_contains"] in e["path"]]
        if filters.get("since_seq") is not None:
            chosen = [e for e in chosen if e["seq"] > filters["since_seq"]]
        limit = filters.get("limit")
        return chosen[-limit:] if limit else chosen

    def clear(self, tenant: str | None = None) -> int:
        with self._lock:
            before = len(self._entries)
            kept = [e for e in self._entries if tenant is not None and e.get("tenant") != tenant]
            self._entries.clear()
            self._entries.extend(kept)
            return before - len(kept)
