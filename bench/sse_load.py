"""Open N concurrent SSE streams over raw sockets and report completion, time to first byte and inter-chunk gaps.

Usage: python bench/sse_load.py --url http://127.0.0.1:PORT/path --streams 500 [--method POST --body JSON] [--timeout 60]
                                [--ramp SECONDS]
Prints one JSON line. Bounded: every stream has a deadline; traffic goes only to the given loopback URL.

The client is one epoll loop over non-blocking sockets, not asyncio: at 500 streams x 50 events/s an asyncio client
on its own core fell behind a trivial server (bench/sse_floor.py) and reported its own lag as the server's gaps.
Every event is stamped with the time of the socket read that brought it, so two events read together show as a
zero gap after a long one: lag is never hidden.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import statistics
import time
from dataclasses import dataclass, field
from itertools import pairwise
from urllib.parse import urlsplit

MARKER = b"data: "
DONE = b"data: [DONE]"


@dataclass
class Stream:
    sock: socket.socket
    started: float
    unsent: bytes
    stamps: list[float] = field(default_factory=list)
    tail: bytes = b""  # the end of the previous read, so a marker split across two reads is still counted once
    done: bool = False


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def request_bytes(url: str, method: str, body: str, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if not (host.startswith("127.") or host == "localhost"):
        raise SystemExit("sse_load only targets loopback addresses")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    payload = body.encode()
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream", "Connection: close", *headers]
    if payload:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return host, port, ("\r\n".join(head) + "\r\n\r\n").encode() + payload


def _open(host: str, port: int, request: bytes, poller: select.epoll) -> Stream:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.connect_ex((host, port))
    poller.register(sock.fileno(), select.EPOLLOUT)
    return Stream(sock, time.perf_counter(), request)


def _on_readable(stream: Stream, now: float) -> bool:
    """Read what arrived; False once the stream has ended (closed by the server or after [DONE])."""
    try:
        data = stream.sock.recv(262144)
    except BlockingIOError:
        return True
    except ConnectionError:
        return False
    if not data:
        return False
    window = stream.tail + data
    stream.stamps.extend([now] * window.count(MARKER))
    stream.done = stream.done or DONE in window
    stream.tail = window[-(len(DONE) - 1) :]
    return True


def run(url: str, streams: int, method: str, body: str, headers: list[str], timeout: float, ramp: float = 0.0) -> dict[str, object]:
    """All streams are opened at once, or, with `ramp`, evenly spread over that many seconds."""
    host, port, request = request_bytes(url, method, body, headers)
    poller = select.epoll()
    t0 = time.perf_counter()
    deadline = t0 + timeout
    by_fd: dict[int, Stream] = {}
    opened = 0
    finished: list[Stream] = []
    while (by_fd or opened < streams) and time.perf_counter() < deadline:
        due = streams if ramp <= 0 else min(streams, int((time.perf_counter() - t0) / ramp * streams) + 1)
        for _ in range(due - opened):
            stream = _open(host, port, request, poller)
            by_fd[stream.sock.fileno()] = stream
        opened = max(opened, due)
        for fd, mask in poller.poll(0.05 if opened == streams else 0.001):
            stream = by_fd[fd]
            alive = True
            if mask & select.EPOLLOUT:
                sent = stream.sock.send(stream.unsent) if not mask & (select.EPOLLERR | select.EPOLLHUP) else -1
                stream.unsent = stream.unsent[sent:] if sent >= 0 else b""
                alive = sent >= 0
                if alive and not stream.unsent:
                    poller.modify(fd, select.EPOLLIN)
            elif mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                alive = _on_readable(stream, time.perf_counter())
            if not alive:
                poller.unregister(fd)
                stream.sock.close()
                finished.append(by_fd.pop(fd))
    for stream in by_fd.values():  # past the deadline: whatever is left did not complete
        stream.sock.close()
        finished.append(stream)
    elapsed = time.perf_counter() - t0
    ok = [s for s in finished if s.done]
    gaps = [b - a for s in ok for a, b in pairwise(s.stamps[1:-1])]  # ignore TTFT and the [DONE] hop
    ttfbs = [s.stamps[0] - s.started for s in ok]
    return {
        "streams": streams,
        "ramp_s": ramp,
        "completed": len(ok),
        "errors": streams - len(ok),
        "seconds": round(elapsed, 2),
        "events": sum(len(s.stamps) for s in ok),
        "gap_p50_ms": round(percentile(gaps, 0.5) * 1000, 1),
        "gap_p99_ms": round(percentile(gaps, 0.99) * 1000, 1),
        "gap_max_ms": round(max(gaps, default=float("nan")) * 1000, 1),
        "ttfb_p50_ms": round(percentile(ttfbs, 0.5) * 1000, 1),
        "ttfb_p99_ms": round(percentile(ttfbs, 0.99) * 1000, 1),
        "ttfb_mean_ms": round(statistics.fmean(ttfbs) * 1000, 1) if ttfbs else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--ramp", type=float, default=0.0, help="open the streams evenly over this many seconds (default: all at once)")
    args = parser.parse_args()
    print(json.dumps(run(args.url, args.streams, args.method, args.body, args.header, args.timeout, args.ramp)))


if __name__ == "__main__":
    main()
