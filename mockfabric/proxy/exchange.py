"""One proxied exchange as it happens: the request, the status and headers, and the answer's bytes as they pass.

What must hold: the answer is forwarded untouched; what is kept of it for checking is bounded in bytes (KEEP_BYTES
of a plain body or of a stream's events, counted after gzip/deflate decoding, so a small compressed answer cannot
inflate past them) and in events (KEEP_EVENTS); past a bound nothing more is decoded or parsed, and an event that
never ends is searched for its end once per byte, not from its start on every piece. A stream's events are kept
with the milliseconds since the request started, so a recording replays with its real timing.
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


def _line_ends(chunk: bytes) -> bytes:
    """SSE's three line ends (CRLF, LF, CR alone) spelled LF, so that one search finds every event's end; a CR that
    ends the piece is left as CR: the next piece may begin with its LF."""
    if b"\r" not in chunk:
        return chunk
    held = chunk.endswith(b"\r")
    body = chunk[:-1] if held else chunk
    body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return body + b"\r" if held else body


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
    _pending: bytearray = field(default_factory=bytearray)  # a stream's bytes after its last complete event
    _searched: int = 0  # how much of _pending is known to hold no event end
    _kept: int = 0  # bytes kept: the body, or the events' data
    _full: bool = False  # a bound was reached: the rest passes unkept
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
        if self._full:
            return
        if self._inflate is not None:
            chunk = self._inflated(chunk)
        if not self._stream:
            self._keep_body(chunk)
        else:
            self._keep_events(chunk)

    def _inflated(self, chunk: bytes) -> bytes:
        """At most the room left under KEEP_BYTES of decoded bytes, whatever the input's ratio."""
        room = KEEP_BYTES - self._kept - len(self._pending) + 1
        try:
            decoded: bytes = self._inflate.decompress(self._inflate.unconsumed_tail + chunk, room)
        except zlib.error as exc:
            self._stop(f"the answer's {self.header('content-encoding')} encoding is broken ({exc}): not checked past it")
            return b""
        return decoded

    def _keep_body(self, chunk: bytes) -> None:
        if self._kept + len(chunk) > KEEP_BYTES:
            self.body += chunk[: KEEP_BYTES - self._kept]
            self._stop(f"answer over {KEEP_BYTES} bytes: not checked past them")
            return
        self.body += chunk
        self._kept += len(chunk)

    def _keep_events(self, chunk: bytes) -> None:
        pending = self._pending
        if pending.endswith(b"\r"):  # a CR that may be the first half of a CRLF split between two pieces
            del pending[-1]
            chunk = b"\r" + chunk
            self._searched = min(self._searched, max(0, len(pending) - 1))
        pending += _line_ends(chunk)
        start = 0
        while not self._full and (end := pending.find(b"\n\n", self._searched)) >= 0:
            self._event(bytes(pending[start:end]))
            start = self._searched = end + 2
        if self._full:
            return
        if start:
            del pending[:start]
        self._searched = max(0, len(pending) - 1)  # an end may straddle this piece and the next
        if self._kept + len(pending) > KEEP_BYTES:
            self._stop(f"stream over {KEEP_BYTES} bytes: not checked past them")

    def _stop(self, why: str) -> None:
        self.cut_short = self.cut_short or why
        self._full = True
        self._pending.clear()

    def _event(self, block: bytes) -> None:
        """One event's block; every block counts against KEEP_BYTES, comments and data-less events too (decoding
        a compressed stream of comments must stop like any other)."""
        if self._kept + len(block) + 2 > KEEP_BYTES:  # the block and its blank line: at least what its data holds
            self._stop(f"stream over {KEEP_BYTES} bytes: not checked past them")
            return
        self._kept += len(block) + 2
        lines = block.decode("utf-8", errors="replace").split("\n")
        data = [line[5:].lstrip(" ") for line in lines if line.startswith("data:")]
        if not data:
            return
        if len(self.events) >= KEEP_EVENTS:
            self._stop(f"stream over {KEEP_EVENTS} events: not checked past them")
            return
        self.events.append(Event(round((time.monotonic() - self.started) * 1000, 3), "\n".join(data)))

    def ended(self) -> None:
        """The answer is over: a stream's unterminated last event is kept, and named as a framing problem."""
        if self._pending.endswith(b"\r"):  # held back in case a LF followed: none did
            self._pending[-1:] = b"\n"
            self._searched = max(0, len(self._pending) - 2)
            self._keep_events(b"")
        if self._pending.strip():
            self.framing.append("the last event was not terminated by a blank line")
            self._event(bytes(self._pending))
            self._pending.clear()

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 3)
