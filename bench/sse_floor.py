"""The streaming floor: the least a Python server can do for the streaming benchmark, to measure the load generator
and this machine against. asyncio, one task per stream, a constant chunk (no JSON, no contract, no state), the
same framing and cadence as `mockfabric serve --itl-ms 20 --completion-mode echo` with a 50-token prompt: the role
chunk at once, 51 more chunks 20 ms apart, then [DONE].

Usage: python bench/sse_floor.py PORT [ITL_MS]    (serves until killed; loopback only)
"""

from __future__ import annotations

import asyncio
import json
import sys

CHUNK = (
    b"data: "
    + json.dumps(
        {
            "id": "chatcmpl-0",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "w01 "}, "finish_reason": None}],
        }
    ).encode()
    + b"\n\n"
)
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, itl: float) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    if length:
        await reader.readexactly(length)
    writer.write(HEAD + CHUNK)
    for _ in range(51):
        await asyncio.sleep(itl)
        writer.write(CHUNK)
    writer.write(b"data: [DONE]\n\n")
    await writer.drain()
    writer.close()


async def main(port: int, itl: float) -> None:
    server = await asyncio.start_server(lambda r, w: handle(r, w, itl), "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2] if len(sys.argv) > 2 else 20) / 1000))
