"""A lingering close: a refused client that is still sending reads the answer instead of a connection reset.

When a server closes a TCP connection whose input it has not read (a 413 for a body it will not take, a 431 for a head
it will not parse), the kernel answers the client with a reset, and a client still sending its request (Python's
http.client, curl with a large body) reports "connection reset" instead of the refusal. Servers such as nginx linger:
they half-close (the answer then FIN), read and drop what the client goes on sending for a bounded time, then close.

`LingeringTransport` does that for one connection: it stands between uvicorn's protocol and the loop's transport, so
every close the protocol or uvicorn asks for goes through it. It lingers only while the protocol says input is
unread (a request not read to its end); other closes are plain closes. The linger ends when the client closes its
side, has been silent for `LINGER_IDLE` seconds, or after `LINGER_SECONDS` in all; what arrives meanwhile is dropped
unparsed and uncounted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

LINGER_SECONDS = 5.0  # longest a refused client may go on sending before its connection is closed (nginx: 30 s)
LINGER_IDLE = 1.0  # a refused client silent this long is done sending (nginx: 5 s)


def _nothing_unread() -> bool:
    return False


class LingeringTransport(asyncio.Transport):
    """`transport`, whose `close()` lingers while `unread()` is true. The protocol must hand every read to `drop()`
    first (True: the bytes belong to a lingering connection and are not to be parsed) and tell `client_closed()`
    of the client's half-close."""

    def __init__(self, transport: asyncio.Transport, unread: Callable[[], bool]) -> None:
        super().__init__()
        self._transport = transport
        self._unread = unread
        self._closing = False
        self._lingering = False
        self._idle: asyncio.TimerHandle | None = None
        self._limit: asyncio.TimerHandle | None = None

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if not (self._unread() and self._transport.can_write_eof()):
            self._transport.close()
            return
        self._lingering = True
        self._transport.write_eof()  # the answer already written goes out, then FIN
        self._transport.resume_reading()  # uvicorn pauses reading while a body waits: the client must not stall
        loop = asyncio.get_running_loop()
        self._limit = loop.call_later(LINGER_SECONDS, self.close_now)
        self._idle = loop.call_later(LINGER_IDLE, self.close_now)

    def close_now(self) -> None:
        """Close at once, lingering or not (a deadline that already waited long enough)."""
        self._stop()
        self._transport.close()

    def stop_lingering(self) -> None:
        """The server is stopping: a linger ends now, and closes from now on are plain. A linger waits for no work
        (its answer is sent), but the server's graceful stop waited for it as for a request in flight: SIGTERM took
        `LINGER_SECONDS` instead of a tenth of a second while a refused client went on sending."""
        self._unread = _nothing_unread
        if self._lingering:
            self.close_now()

    def lost(self) -> None:
        """The connection is gone (the protocol's `connection_lost`): the timers are cancelled and the protocol is let
        go. `unread` refers to the protocol, which refers to this transport: left, that cycle kept every closed
        connection (with what uvicorn buffered of its body, ~128 KiB for a refused upload) until a full collection,
        which `serve` makes 100 times rarer."""
        self._stop()
        self._unread = _nothing_unread

    def _stop(self) -> None:
        self._closing = True
        self._lingering = False
        for timer in (self._idle, self._limit):
            if timer is not None:
                timer.cancel()
        self._idle = self._limit = None

    def drop(self, data: bytes) -> bool:
        """True when `data` arrived on a lingering connection: it is dropped, and the client's silence counted anew."""
        if not self._lingering:
            return False
        loop = asyncio.get_running_loop()
        if self._idle is not None:
            self._idle.cancel()
            self._idle = loop.call_later(LINGER_IDLE, self.close_now)
        # One read per turn of the loop. The loop reads a connection up to 32 times in a row (256 KiB each) while
        # bytes wait, and takes one new connection per turn: 100 refused clients sending flat out made each turn
        # last 0.1 s, and a new client waited seconds to be served. Reading is paused only here: the client's
        # sending slows down, but a stalled linger is still ended by the deadline.
        self._transport.pause_reading()
        loop.call_soon(self._read_on)
        return True

    def _read_on(self) -> None:
        if self._lingering:
            self._transport.resume_reading()

    def client_closed(self) -> bool:
        """The client half-closed. True when this ends a linger (the connection is closed now)."""
        if not self._lingering:
            return False
        self.close_now()
        return True

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def abort(self) -> None:
        self._closing = True
        self._lingering = False
        self._transport.abort()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closing:
            self._transport.write(data)

    def writelines(self, list_of_data: Any) -> None:
        if not self._closing:
            self._transport.writelines(list_of_data)

    def write_eof(self) -> None:
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def pause_reading(self) -> None:
        if not self._lingering:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()
