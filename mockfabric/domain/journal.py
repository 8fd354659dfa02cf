"""The request journal: what clients sent and what they got, with credentials redacted, newest last, bounded."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clock import iso_millis
from ..text import first_invalid_text, may_hold_surrogates

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


@dataclass(slots=True)
class JournalEntry:
    """What one request was, captured cheaply while serving; rendered (redacted, decoded) only when read."""

    at: float
    request_id: str
    tenant: str | None
    operation: str | None
    method: str
    path: str
    query: bytes
    status: int
    fault: str | None
    headers: list[tuple[str, str]]
    body: bytes
    seq: int = 0

    def render(self) -> dict[str, Any]:
        body = _readable(self.body)
        return {
            "seq": self.seq,
            "time": iso_millis(self.at),
            "request_id": self.request_id,
            "tenant": self.tenant,
            "operation": self.operation,
            "method": self.method,
            "path": self.path,
            "query": self.query.decode("latin-1"),
            "status": self.status,
            "fault": self.fault,
            "headers": redact({_title(k): v for k, v in self.headers}),
            "body": body,
        }


def _readable(raw: bytes) -> Any:
    """The body as JSON when it is JSON of valid Unicode, else as text (a refused body may be anything)."""
    if not raw:
        return None
    try:
        body: Any = json.loads(raw)
    except (ValueError, RecursionError):
        return raw.decode("utf-8", errors="replace")
    if may_hold_surrogates(raw) and first_invalid_text(body) is not None:
        return raw.decode("utf-8", errors="replace")  # the escapes stay as written: readable, and valid text
    return body


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


class Journal:
    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self._seq += 1
            entry.seq = self._seq
            self._entries.append(entry)

    def entries(self, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            chosen = list(self._entries)
        for name in ("tenant", "operation", "method", "status"):
            if filters.get(name) is not None:
                chosen = [e for e in chosen if getattr(e, name) == filters[name]]
        if filters.get("path_contains"):
            chosen = [e for e in chosen if filters["path_contains"] in e.path]
        if filters.get("since_seq") is not None:
            chosen = [e for e in chosen if e.seq > filters["since_seq"]]
        limit = filters.get("limit")
        return [entry.render() for entry in (chosen[-limit:] if limit else chosen)]

    def clear(self, tenant: str | None = None) -> int:
        with self._lock:
            before = len(self._entries)
            kept = [e for e in self._entries if tenant is not None and e.tenant != tenant]
            self._entries.clear()
            self._entries.extend(kept)
            return before - len(kept)
