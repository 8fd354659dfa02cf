"""The request journal: what clients sent and what they got, newest last, bounded in entries and in bytes.

What must hold:
- Memory is bounded by `budget_bytes` (plus one entry): each entry keeps at most VALUE_LIMIT characters of its path,
  query and each header value, HEADERS_LIMIT characters of headers in all, and BODY_LIMIT bytes of body, each cut
  marked as such; the oldest entries are dropped past the budget or MAX_ENTRIES.
- Nothing it keeps is longer than its limit: a value within it is kept as it came (no copy on the hot path), a
  longer one only as a copy of its cut, so no huge string or buffer of a request outlives the request.
- Credentials are redacted when an entry is rendered (`redaction.py`), so nothing secret is ever answered.
- Reading pages: one answer holds at most PAGE_ENTRIES entries and about PAGE_BYTES of them; `next_since_seq` says
  where the next page starts.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..clock import iso_millis
from ..redaction import redact_headers
from ..text import invalid_text_in

MAX_ENTRIES = 10_000
DEFAULT_BUDGET_BYTES = 32 * 1024 * 1024
VALUE_LIMIT = 2048  # characters of the path, the query and each header value
HEADERS_LIMIT = 16 * 1024  # characters of all header names and values of one entry
BODY_LIMIT = 64 * 1024  # bytes of body
ENTRY_OVERHEAD = 256  # the fixed fields, counted so that many tiny entries are bounded too
PAGE_ENTRIES = 1000
PAGE_BYTES = 4 * 1024 * 1024


def _clip(text: str, limit: int = VALUE_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[truncated: {len(text)} characters in all]"


def _clip_headers(headers: Iterable[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    """The headers to keep, and their size in characters."""
    given = list(headers)
    size = sum(len(name) + len(value) for name, value in given)
    if size <= min(HEADERS_LIMIT, VALUE_LIMIT):
        return given, size  # the usual case, on every request: nothing to cut
    kept: list[tuple[str, str]] = []
    used, dropped = 0, 0
    for name, value in given:
        name, value = _clip(name, 256), _clip(value)
        if used + len(name) + len(value) > HEADERS_LIMIT:
            dropped += 1
            continue
        used += len(name) + len(value)
        kept.append((name, value))
    if dropped:
        kept.append(("x-mockfabric-truncated", f"{dropped} more headers not kept"))
    return kept, used


@dataclass(slots=True)
class JournalEntry:
    """What one request was, captured cheaply while serving and cut to the limits; rendered only when read."""

    at: float
    request_id: str
    tenant: str | None
    operation: str | None
    method: str
    path: str
    query: str
    status: int
    fault: str | None
    headers: list[tuple[str, str]]
    body: bytes
    body_size: int
    seq: int = 0
    size: int = 0
    outcome: str | None = None  # what became of the answer after it started, e.g. a stream cut off

    @classmethod
    def capture(
        cls,
        *,
        at: float,
        request_id: str,
        tenant: str | None,
        operation: str | None,
        method: str,
        path: str,
        query: str,
        status: int,
        fault: str | None,
        headers: Iterable[tuple[str, str]],
        body: bytes,
    ) -> JournalEntry:
        kept_headers, header_size = _clip_headers(headers)
        path = path if len(path) <= VALUE_LIMIT else _clip(path)
        query = query if len(query) <= VALUE_LIMIT else _clip(query)
        kept_body = body if len(body) <= BODY_LIMIT else body[:BODY_LIMIT]
        size = ENTRY_OVERHEAD + len(path) + len(query) + len(kept_body) + header_size
        method = _clip(method, 32)
        return cls(at, request_id, tenant, operation, method, path, query, status, fault, kept_headers, kept_body, len(body), 0, size)

    def render(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": iso_millis(self.at),
            "request_id": self.request_id,
            "tenant": self.tenant,
            "operation": self.operation,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "fault": self.fault,
            "outcome": self.outcome,
            "headers": redact_headers((_title(k), v) for k, v in self.headers),
            "body": self._readable_body(),
        }

    def _readable_body(self) -> Any:
        """JSON when the body is JSON of valid Unicode; else text (a refused body may be anything), marked if cut."""
        raw = self.body
        if not raw:
            return None
        if self.body_size > len(raw):
            return f"{raw.decode('utf-8', errors='replace')}...[truncated: {self.body_size} bytes in all]"
        try:
            body: Any = json.loads(raw)
        except (ValueError, RecursionError):
            return raw.decode("utf-8", errors="replace")
        if invalid_text_in(raw, body) is not None:
            return raw.decode("utf-8", errors="replace")  # the escapes stay as written: readable, and valid text
        return body


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


class Journal:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES, limit: int = MAX_ENTRIES) -> None:
        self._entries: deque[JournalEntry] = deque()
        self._lock = threading.Lock()
        self._seq = 0
        self._bytes = 0
        self._budget, self._limit = budget_bytes, limit

    @property
    def bytes_kept(self) -> int:
        with self._lock:
            return self._bytes

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self._seq += 1
            entry.seq = self._seq
            self._entries.append(entry)
            self._bytes += entry.size
            while len(self._entries) > 1 and (self._bytes > self._budget or len(self._entries) > self._limit):
                self._bytes -= self._entries.popleft().size

    def page(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        """The matching entries after `since_seq` (the newest `limit` of them, if given), oldest first, one page:
        `total` counts them all, `requests` holds the page, `next_since_seq` continues (None on the last page)."""
        with self._lock:
            chosen = list(self._entries)
        for name in ("tenant", "operation", "method", "status"):
            if filters.get(name) is not None:
                chosen = [e for e in chosen if getattr(e, name) == filters[name]]
        if filters.get("path_contains"):
            chosen = [e for e in chosen if filters["path_contains"] in e.path]
        if filters.get("since_seq") is not None:
            chosen = [e for e in chosen if e.seq > filters["since_seq"]]
        if filters.get("limit"):
            chosen = chosen[-filters["limit"] :]
        page: list[JournalEntry] = []
        size = 0
        for entry in chosen[:PAGE_ENTRIES]:
            if page and size + entry.size > PAGE_BYTES:
                break
            page.append(entry)
            size += entry.size
        more = len(page) < len(chosen)
        return {
            "total": len(chosen),
            "requests": [entry.render() for entry in page],
            "next_since_seq": page[-1].seq if more else None,
        }

    def clear(self, tenant: str | None = None) -> int:
        with self._lock:
            before = len(self._entries)
            kept = [e for e in self._entries if tenant is not None and e.tenant != tenant]
            self._entries.clear()
            self._entries.extend(kept)
            self._bytes = sum(e.size for e in kept)
            return before - len(kept)
