"""One proxied exchange as it happens: the request, the status and headers, and the answer's bytes as they pass.

What must hold: the answer is forwarded untouched; what is kept of it for checking is bounded (KEEP_BYTES of a plain
body, KEEP_EVENTS stream events), decoded from gzip/deflate when the upstream compressed it, and a stream's events
are kept with the milliseconds since the request started, so a recording replays with its real timing.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from ..contracts import Operation

KEEP_BYTES = 16 * 1024 * 1024  # of a plain answer: enough for any answer the contract describes
KEEP_EVENTS = 200_000  # of a stream: a 32k-token answer of 4 choices fits
Headers = list[tuple[str, str]]


@dataclass(slots=True)
class Event:
    at_ms: float  # since the request started
    data: str


@dataclass
class Exchange:
    seq: int
    operation: Operation | None
    method: str
    path: str
    query: str
    request_headers: Headers
    request_body: bytes
    started: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)
    status: int | None = None
    response_headers: Headers = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    events: list[Event] = field(default_factory=list)
    cut_short: str | None = None  # why the answer did not arrive whole (upstream cut, client left, too long to keep)
    client_cut: str | None = None  # why the client did not get the whole answer (it stopped reading): no drift
    framing: list[str] = field(default_factory=list)  # SSE framing problems (an event not ended by a blank line)
    _pending: bytes = b""
    _inflate: Any = None
    _stream: bool = False

    def answered(self, status: int, headers: Headers) -> None:
        self.status, self.response_headers = status, headers
        self._stream = self.header("content-type").startswith("text/event-stream")
        encoding = self.header("content-encoding").lower()
        if encoding in ("gzip", "deflate"):
            self._inflate = zlib.decompressobj(47)  # gzip or zlib wrapper, found from the header

    def header(self, name: str, headers: Headers | None = None) -> str:
        return next((v for k, v in (headers if headers is not None else self.response_headers) if k.lower() == name), "")

    @property
    def is_stream(self) -> bool:
        return self._stream

    def took(self, chunk: bytes) -> None:
        """Keep what passed, within bounds (the client got it all regardless)."""
        if self._inflate is not None:
            chunk = self._inflate.decompress(chunk, KEEP_BYTES)
        if not self._stream:
            if len(self.body) + len(chunk) > KEEP_BYTES:
                self.cut_short = self.cut_short or f"answer over {KEEP_BYTES} bytes: not checked past them"
                chunk = chunk[: max(0, KEEP_BYTES - len(self.body))]
            self.body += chunk
            return
        buffer = self._pending + chunk
        if b"\r" in buffer:  # CRLF line ends: one spelling, so that one search finds every event's end
            buffer = buffer.replace(b"\r\n", b"\n")
        start = 0
        while (end := buffer.find(b"\n\n", start)) >= 0:
            self._event(buffer[start:end])
            start = end + 2
        self._pending = buffer[start:]

    def _event(self, block: bytes) -> None:
        lines = block.decode("utf-8", errors="replace").split("\n")
        data = [line[5:].lstrip(" ") for line in lines if line.startswith("data:")]
        if not data:
            return
        if len(self.events) >= KEEP_EVENTS:
            self.cut_short = self.cut_short or f"stream over {KEEP_EVENTS} events: not checked past them"
            return
        self.events.append(Event(round((time.monotonic() - self.started) * 1000, 3), "\n".join(data)))

    def ended(self) -> None:
        """The answer is over: a stream's unterminated last event is kept, and named as a framing problem."""
        if self._pending.strip():
            self.framing.append("the last event was not terminated by a blank line")
            self._event(self._pending)
            self._pending = b""

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 3)
