"""HTTP/1.0 has no chunked framing (issue 30, item 5): a stream to an HTTP/1.0 client comes whole, with its
Content-Length, and the connection closes after it; an HTTP/1.1 client still gets it chunked as it is paced.
Over a raw socket."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from .flow import Deployed, fresh_deployment


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    with fresh_deployment() as found:
        yield found


def exchange(deployed: Deployed, version: str, stream: bool) -> tuple[str, bytes]:
    body = json.dumps({"messages": [{"role": "user", "content": "hello there"}], "stream": stream}).encode()
    path = deployed.invoke_url.removeprefix(deployed.fabric.base_url)
    named = "".join(f"{k}: {v}\r\n" for k, v in deployed.fabric.headers.items())
    head = f"POST {path} {version}\r\nHost: 127.0.0.1\r\n{named}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", int(deployed.fabric.base_url.rsplit(":", 1)[1])), timeout=10) as client:
        client.sendall(head.encode() + body)
        if version == "HTTP/1.1":
            client.shutdown(socket.SHUT_WR)  # the answer, then the close
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head_text, _, content = answer.partition(b"\r\n\r\n")
    return head_text.decode("latin-1").lower(), content


@pytest.mark.parametrize("stream", [True, False])
def test_an_http_1_0_answer_has_a_length_and_no_chunks(deployed: Deployed, stream: bool) -> None:
    head, content = exchange(deployed, "HTTP/1.0", stream)
    assert " 200 " in head.splitlines()[0] and "transfer-encoding" not in head, head
    length = int(next(line.split(":", 1)[1] for line in head.splitlines() if line.startswith("content-length:")))
    assert length == len(content) and (b"data: [DONE]" in content) == stream, (length, len(content), content[-200:])


def test_an_http_1_1_stream_is_still_chunked(deployed: Deployed) -> None:
    head, content = exchange(deployed, "HTTP/1.1", True)
    assert "transfer-encoding: chunked" in head and b"data: [DONE]" in content
