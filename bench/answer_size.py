"""The cost of a small request that asks for a huge answer (issue 28, item 2), on `mockfabric serve` pinned to a core.

One 64 KB echo request (`n=16`, `max_tokens=32768`) asks for 16 x ~32 500 chunks (~130 MB of stream). Measured:
- `health_ms`: the worst /healthcheck latency while such requests arrive (what the event loop spent on them shows
  there: it answers nothing else meanwhile), against the worst with nothing else happening (`health_idle_ms`);
- `rss_mib`: the server's resident memory with STREAMS such streams open and unread, and again `after_mib` once
  their clients have left (what was not given back).

Usage: python bench/answer_size.py [--streams 20] [--itl-ms 0]     (server on core 0, this script on core 1)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PY, pinned, rss_kib

from deploy import main as deploy_main

PORT = 18741
BASE = f"http://127.0.0.1:{PORT}"
CONTENT = "a " * 32500  # ~32 500 tokens; the request body stays within 64 KiB: answered on the event loop


def invocation_url() -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        deploy_main(BASE)
    return out.getvalue().strip()


def big_request(url: str) -> bytes:
    body = json.dumps({"messages": [{"role": "user", "content": CONTENT}], "n": 16, "max_tokens": 32768, "stream": True}).encode()
    path = url.split(str(PORT), 1)[1]
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nX-Auth-Token: bench\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class HealthProbe(threading.Thread):
    """/healthcheck asked back to back over one connection; the worst latency seen."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.worst = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        conn = socket.create_connection(("127.0.0.1", PORT))
        request = f"GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n\r\n".encode()
        while not self.stop.is_set():
            started = time.perf_counter()
            conn.sendall(request)
            data = b""
            while not data.endswith(b"\r\n\r\nOK"):  # the health check answers 2 bytes, "OK"
                data += conn.recv(65536)
            self.worst = max(self.worst, time.perf_counter() - started)
        conn.close()


def worst_health_ms(during: float, action: object = None) -> float:
    probe = HealthProbe()
    probe.start()
    time.sleep(0.2)
    if callable(action):
        action()
    time.sleep(during)
    probe.stop.set()
    probe.join()
    return round(probe.worst * 1000, 1)


def unread_streams(url: str, count: int) -> list[socket.socket]:
    request = big_request(url)
    opened = []
    for _ in range(count):
        conn = socket.create_connection(("127.0.0.1", PORT))
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.sendall(request)
        opened.append(conn)
    return opened


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--itl-ms", type=int, default=0)
    args = parser.parse_args()
    command = [PY, "-m", "mockfabric", "serve", "--port", str(PORT), "--completion-mode", "echo", "--itl-ms", str(args.itl_ms)]
    command += ["--lifecycle", "endpoint=instant,service_instance=instant", "--read-timeout", "120"]
    with pinned(command, f"{BASE}/healthcheck") as server:
        url = invocation_url()
        idle = worst_health_ms(1.0)
        held: list[socket.socket] = []
        one = worst_health_ms(2.0, lambda: held.extend(unread_streams(url, 1)))
        for conn in held:
            conn.close()
        time.sleep(1)
        start_kib = rss_kib(server.pid)
        held = unread_streams(url, args.streams)
        time.sleep(5)
        urllib.request.urlopen(f"{BASE}/healthcheck", timeout=120).read()
        open_kib = rss_kib(server.pid)
        for conn in held:
            conn.close()
        time.sleep(5)
        urllib.request.urlopen(f"{BASE}/healthcheck", timeout=120).read()
        after_kib = rss_kib(server.pid)
    print(
        json.dumps(
            {
                "commit": os.popen("git rev-parse --short HEAD").read().strip(),
                "itl_ms": args.itl_ms,
                "health_idle_ms": idle,
                "health_ms": one,
                "streams": args.streams,
                "rss_before_mib": round(start_kib / 1024),
                "rss_mib": round(open_kib / 1024),
                "after_mib": round(after_kib / 1024),
            }
        )
    )


if __name__ == "__main__":
    main()
