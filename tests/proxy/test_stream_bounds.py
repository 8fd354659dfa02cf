"""What the proxy keeps of an answer is bounded in bytes, after decoding (issue 28, item 7): a 512 MB upstream stream
grew it to 1.6 GB, a gzip-encoded stream of 522 KB on the wire inflated to 2 GB and froze it, and an event that never
ends was searched from its start on every piece (0.9 MB/s). The client still gets every byte as the upstream sent it."""

from __future__ import annotations

import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import requests

from mockfabric.proxy.exchange import KEEP_BYTES, Exchange

from .running import RunningAsgi, RunningProxy

PIECE = 64 * 1024
EVENT = b'data: {"id":"c","object":"chat.completion.chunk","choices":[]}\n\n'


def streaming_exchange(encoding: str | None = None) -> Exchange:
    exchange = Exchange(1, None, "POST", "/x", "", [], b"")
    headers = [("Content-Type", "text/event-stream")] + ([("Content-Encoding", encoding)] if encoding else [])
    exchange.answered(200, headers)
    return exchange


def kept_bytes(exchange: Exchange) -> int:
    return sum(len(event.data) for event in exchange.events) + len(exchange.body)


def gzip_of_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    block = b"data: " + b"0" * (PIECE - 6)
    return b"".join(compressor.compress(block) for _ in range(size // PIECE)) + compressor.flush()


def test_a_stream_past_the_bound_keeps_no_more_than_the_bound() -> None:
    exchange = streaming_exchange()
    event = b"data: " + b"x" * 1000 + b"\n\n"  # large events: the byte bound comes long before the event count
    piece = event * (PIECE // len(event))
    for _ in range(2 * KEEP_BYTES // len(piece)):
        exchange.took(piece)
    exchange.ended()
    assert kept_bytes(exchange) <= KEEP_BYTES and exchange.cut_short is not None and "bytes" in exchange.cut_short


def test_a_gzip_bomb_inflates_no_further_than_the_bound() -> None:
    bomb = gzip_of_zeros(256 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024  # 256 MiB of events in under 1 MiB on the wire
    exchange = streaming_exchange("gzip")
    for start in range(0, len(bomb), 16 * 1024):
        exchange.took(bomb[start : start + 16 * 1024])
    exchange.ended()
    assert kept_bytes(exchange) <= KEEP_BYTES and exchange.cut_short is not None


def test_an_event_that_never_ends_costs_what_ordinary_events_cost() -> None:
    """Linear: 8 MiB in 4 KiB pieces of one endless event take at most a few times what 8 MiB of small events do
    (searched from its start on every piece, it took ~1000x)."""

    def cost(piece: bytes) -> float:
        exchange = streaming_exchange()
        started = time.perf_counter()
        for _ in range(8 * 1024 * 1024 // len(piece)):
            exchange.took(piece)
        return time.perf_counter() - started

    endless, ordinary = b"data: " + b"x" * 4090, EVENT * (4096 // len(EVENT))
    rounds = [(cost(endless), cost(ordinary)) for _ in range(3)]
    assert min(r[0] for r in rounds) <= 4 * min(r[1] for r in rounds), rounds


def test_crlf_split_between_pieces_still_ends_an_event() -> None:
    exchange = streaming_exchange()
    for piece in (b"data: one\r", b"\n\r", b"\ndata: two\r\n", b"\r\n"):
        exchange.took(piece)
    exchange.ended()
    assert [event.data for event in exchange.events] == ["one", "two"] and exchange.framing == []


def bomb_upstream(bomb: bytes) -> Callable[..., Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Callable[..., Awaitable[None]]) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"text/event-stream"), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for start in range(0, len(bomb), PIECE):
            await send({"type": "http.response.body", "body": bomb[start : start + PIECE], "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def test_through_the_proxy_a_gzip_bomb_passes_whole_and_the_proxy_keeps_serving() -> None:
    bomb = gzip_of_zeros(512 * 1024 * 1024)
    path = "/v1/workspaces/w/services/instances/i/invocations"
    with RunningAsgi(bomb_upstream(bomb)) as upstream, RunningProxy(upstream.url) as proxy:
        with requests.post(f"{proxy.url}{path}", json={"messages": []}, stream=True, timeout=30) as answer:
            wire = b"".join(answer.raw.stream(PIECE, decode_content=False))
        assert wire == bomb  # forwarded untouched, still compressed
        started = time.monotonic()
        report = proxy.report()
        assert time.monotonic() - started < 5
        cuts = [result for result in report["operations"].values() if result["requests"]]
        assert cuts, report


def test_cr_only_line_ends_end_events_too() -> None:
    """SSE allows CR alone as a line end; such a stream used to be one unterminated event (false drift)."""
    exchange = streaming_exchange()
    for piece in (b"data: one\r\r", b"data: two\r", b"\r", b"data: [DONE]\r\r"):
        exchange.took(piece)
    exchange.ended()
    assert [event.data for event in exchange.events] == ["one", "two", "[DONE]"] and exchange.framing == []


def test_a_compressed_stream_of_comments_stops_being_decoded_at_the_bound() -> None:
    """Blocks without data (comments, event names) count too: 2 GiB of `: k` comments kept the proxy decoding."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b": k\n\n" * (PIECE // 5)
    bomb = b"".join(compressor.compress(block) for _ in range(4 * KEEP_BYTES // len(block))) + compressor.flush()
    exchange = streaming_exchange("gzip")
    for start in range(0, len(bomb), 16 * 1024):
        exchange.took(bomb[start : start + 16 * 1024])
    exchange.ended()
    assert exchange.cut_short is not None and "bytes" in exchange.cut_short and exchange.events == []
