"""Raw-socket helpers for the tests that speak HTTP by hand."""

from __future__ import annotations

import socket
import time


def read_until_closed(client: socket.socket, seconds: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (a reset ends it too); fails if the connection is
    still open after `seconds`."""
    deadline = time.monotonic() + seconds
    answer = b""
    while time.monotonic() < deadline:
        client.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = client.recv(65536)
        except ConnectionResetError:
            return answer
        if not chunk:
            return answer
        answer += chunk
    raise AssertionError(f"the connection was still open after {seconds} s: {answer[:200]!r}")
