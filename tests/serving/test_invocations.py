"""InvokeModelService over a real socket: SSE framing and chunk rules, JSON answers, content modes, the openai
client's parsers, validation, preconditions, bookkeeping and stream faults."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest
import requests
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from mockfabric import MockFabric
from mockfabric.service.completions import tokenize
from mockfabric.testing.streams import chunk_rule_problems, parse_sse

from ..helpers import SEED_INVOKE
from .flow import Deployed, deploy


@pytest.fixture(scope="module")
def server() -> Iterator[MockFabric]:
    with MockFabric(validate_responses=True, seed=11) as fabric:
        yield fabric


@pytest.fixture
def deployed(server: MockFabric) -> Deployed:
    return deploy(server.for_tenant())


def stream_of(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers.get("Transfer-Encoding") == "chunked" and response.headers["X-Request-Id"]
    return parse_sse(response.iter_lines(delimiter=b"\n"))


def test_seed_invocation_is_streamed_by_default(deployed: Deployed) -> None:
    stream = stream_of(deployed.invoke(SEED_INVOKE, stream=True))
    assert chunk_rule_problems(stream) == []
    assert stream.chunks[0]["model"] == deployed.instance and stream.chunks[0]["id"].startswith("chatcmpl-")
    first = stream.chunks[0]["choices"][0]["delta"]
    assert set(first) == {"role", "content"} and first["role"] == "assistant" and first["content"]  # as documented
    assert stream.content() and stream.chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_unstreamed_answer_matches_the_stream(deployed: Deployed) -> None:
    body = {**SEED_INVOKE, "stream_options": {"include_usage": True}}
    stream = stream_of(deployed.invoke({**body, "stream": True}, stream=True))
    assert chunk_rule_problems(stream, include_usage=True) == []
    plain = deployed.invoke({**SEED_INVOKE, "stream": False})
    assert plain.status_code == 200 and plain.headers["Content-Type"].startswith("application/json")
    answer = plain.json()
    assert answer["object"] == "chat.completion" and answer["choices"][0]["finish_reason"] == "stop"
    assert answer["choices"][0]["message"]["content"] == stream.content()
    assert answer["usage"] == stream.usage()
    assert answer["usage"]["total_tokens"] == answer["usage"]["prompt_tokens"] + answer["usage"]["completion_tokens"]


def test_several_choices_each_follow_the_rules(deployed: Deployed) -> None:
    stream = stream_of(deployed.invoke({**SEED_INVOKE, "n": 3, "stream_options": {"include_usage": True}}, stream=True))
    assert chunk_rule_problems(stream, include_usage=True) == []
    contents = [stream.content(i) for i in range(3)]
    assert all(contents) and len(set(contents)) == 3
    plain = deployed.invoke({**SEED_INVOKE, "n": 3, "stream": False}).json()
    assert [c["message"]["content"] for c in plain["choices"]] == contents


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_token_limit_cuts_with_length(deployed: Deployed, field: str) -> None:
    stream = stream_of(deployed.invoke({**SEED_INVOKE, field: 3, "stream_options": {"include_usage": True}}, stream=True))
    assert chunk_rule_problems(stream, include_usage=True) == []
    content_chunks = [c for c in stream.chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content_chunks) == 3  # one token each, the first beside the role
    assert stream.chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert stream.usage()["completion_tokens"] == 3  # type: ignore[index]


def test_same_request_same_answer_and_zero_means_4096(deployed: Deployed) -> None:
    first = deployed.invoke({**SEED_INVOKE, "stream": False}).json()
    again = deployed.invoke({**SEED_INVOKE, "stream": False, "max_tokens": 0}).json()
    other = deployed.invoke({"messages": [{"role": "user", "content": "something else"}], "stream": False}).json()
    assert first["choices"][0]["message"]["content"] != other["choices"][0]["message"]["content"]
    assert first["choices"][0]["finish_reason"] == again["choices"][0]["finish_reason"] == "stop"


def test_scripted_answers_are_fifo_with_a_default(deployed: Deployed) -> None:
    fabric = deployed.fabric
    fabric.script_completion(deployed.instance, "first answer")
    fabric.script_completion(deployed.instance, "second", reasoning_content="because")
    fabric.script_completion(deployed.instance, "the default", default=True)
    answers = [deployed.invoke({**SEED_INVOKE, "stream": False}).json()["choices"][0]["message"] for _ in range(4)]
    assert [a["content"] for a in answers] == ["first answer", "second", "the default", "the default"]
    assert answers[1]["reasoning_content"] == "because"
    stream = stream_of(deployed.invoke(SEED_INVOKE, stream=True))
    assert stream.content() == "the default" and chunk_rule_problems(stream) == []


def test_echo_mode() -> None:
    with MockFabric(completion_mode="echo", validate_responses=True) as fabric:
        deployed = deploy(fabric)
        body = {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "repeat after me, please"}]}
        stream = stream_of(deployed.invoke(body, stream=True))
        assert stream.content() == "repeat after me, please"
        usage = deployed.invoke({**body, "stream": False}).json()["usage"]
        assert usage == {"prompt_tokens": (2 + 3) + (5 + 3), "completion_tokens": 5, "total_tokens": 18}


def test_openai_client_parses_both_forms(deployed: Deployed) -> None:
    fabric = deployed.fabric
    client = openai.OpenAI(
        base_url=deployed.invoke_url.removesuffix("/invocations"), api_key="unused", default_headers=fabric.headers, max_retries=0
    )
    body = {**SEED_INVOKE, "stream_options": {"include_usage": True}}
    with client.post(
        "/invocations", cast_to=ChatCompletion, body={**body, "stream": True}, stream=True, stream_cls=openai.Stream[ChatCompletionChunk]
    ) as chunks:
        received = list(chunks)
    assert all(isinstance(c, ChatCompletionChunk) for c in received)
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    completion = client.post("/invocations", cast_to=ChatCompletion, body={**SEED_INVOKE, "stream": False})
    assert isinstance(completion, ChatCompletion)
    assert completion.choices[0].message.content == text
    assert received[-1].usage is not None and completion.usage is not None
    assert received[-1].usage.total_tokens == completion.usage.total_tokens


@pytest.mark.parametrize(
    ("patch", "field"),  # each value outside a constraint (dataartsfabric.00010001) or of the wrong type (common.01000001)
    [
        ({"messages": []}, "body.messages"),
        ({"messages": [{"role": "user"}]}, "body.messages.0.content"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "body.messages.0.role"),
        ({"temperature": -0.1}, "body.temperature"),
        ({"temperature": 2.01}, "body.temperature"),
        ({"top_p": 1.5}, "body.top_p"),
        ({"top_p": -0.5}, "body.top_p"),
        ({"frequency_penalty": 2.5}, "body.frequency_penalty"),
        ({"presence_penalty": -2.5}, "body.presence_penalty"),
        ({"max_tokens": -1}, "body.max_tokens"),
        ({"max_tokens": 40000}, "body.max_tokens"),
        ({"max_completion_tokens": -1}, "body.max_completion_tokens"),
        ({"max_tokens": 5, "max_completion_tokens": 5}, "body.max_completion_tokens"),
        ({"n": 0}, "body.n"),
        ({"n": 17}, "body.n"),
        ({"stream": "yes"}, "body.stream"),
        ({"stream_options": {"include_usage": "yes"}}, "body.stream_options.include_usage"),
        ({"logit_bias": {"50256": 200}}, "body.logit_bias.50256"),
    ],
)
def test_every_parameter_bound_is_a_400_naming_the_field(deployed: Deployed, patch: dict[str, Any], field: str) -> None:
    reply = deployed.invoke({**SEED_INVOKE, **patch})
    assert reply.status_code == 400, reply.text
    expected = "common.01000001" if '"yes"' in json.dumps(patch) else "dataartsfabric.00010001"  # "yes": the wrong-type cases
    assert reply.json()["error_code"] == expected and reply.json()["error_msg"].startswith(field), reply.json()


def test_messages_upper_bound(deployed: Deployed) -> None:
    reply = deployed.invoke({"messages": [{"role": "user", "content": ""}] * 100_001, "stream": False})
    assert reply.status_code == 400 and reply.json()["error_msg"].startswith("body.messages")
    assert deployed.invoke({"messages": [{"role": "user", "content": "x"}] * 100_000, "stream": False}).status_code == 200


def test_preconditions(server: MockFabric) -> None:
    fabric = server.for_tenant()
    deployed = deploy(fabric, running=False)
    creating = deployed.invoke(SEED_INVOKE)
    assert creating.status_code == 400 and creating.json()["error_code"] == "dataartsfabric.00010016" and "CREATING" in creating.text
    fabric.advance(5)
    fabric.force_status("endpoint", deployed.endpoint, "UPDATE_FAILED", error_code="dataartsfabric.00000001", error_msg="broken")
    endpoint_down = deployed.invoke(SEED_INVOKE)
    assert endpoint_down.status_code == 400 and "UPDATE_FAILED" in endpoint_down.json()["error_msg"]
    unknown = deployed.session.post(deployed.invoke_url.replace(deployed.instance, "0" * 36), json=SEED_INVOKE)
    assert unknown.status_code == 400 and unknown.json()["error_code"] == "dataartsfabric.00010009"
    anonymous = requests.post(deployed.invoke_url, json=SEED_INVOKE, timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "APIG.0301"


def test_tokens_quota_grows_by_the_tokens_used(deployed: Deployed) -> None:
    url = f"{deployed.fabric.base_url}/v1/workspaces/{deployed.workspace}/endpoints/{deployed.endpoint}"
    before = deployed.session.get(url).json()["tokens_quota"]["used"]
    usage = deployed.invoke({**SEED_INVOKE, "stream": False}).json()["usage"]
    stream_of(deployed.invoke(SEED_INVOKE, stream=True))
    after = deployed.session.get(url).json()["tokens_quota"]["used"]
    assert after - before == 2 * usage["total_tokens"]


def raw_stream(url: str, headers: dict[str, str], body: bytes) -> tuple[bytes, bool]:
    """Read a response to the end over a plain socket; True when the server closed it cleanly after [DONE]."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        head = [
            f"POST {parts.path} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received, received.endswith(b"0\r\n\r\n")


def test_fault_cut_after_n_chunks_drops_the_connection(deployed: Deployed) -> None:
    deployed.fabric.fault(operation="InvokeModelService", stream_cut_after=3, times=1)
    received, clean = raw_stream(deployed.invoke_url, deployed.fabric.headers, b'{"messages":[{"role":"user","content":"hello"}]}')
    assert not clean and received.count(b"data: ") == 3 and b"[DONE]" not in received
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        deployed.fabric.fault(operation="InvokeModelService", stream_cut_after=2, times=1)
        list(deployed.invoke(SEED_INVOKE, stream=True).iter_lines())
    assert chunk_rule_problems(stream_of(deployed.invoke(SEED_INVOKE, stream=True))) == []  # times used up


def test_fault_error_event_mid_stream(deployed: Deployed) -> None:
    deployed.fabric.fault(
        operation="InvokeModelService", stream_error_after=2, error_code="dataartsfabric.00000001", error_msg="GPU lost", times=1
    )
    stream = stream_of(deployed.invoke(SEED_INVOKE, stream=True))
    huawei = {"error_code": "dataartsfabric.00000001", "error_msg": "GPU lost"}
    openai_style = {"message": "GPU lost", "type": "service_error", "code": huawei["error_code"], **huawei}
    assert stream.events[-1] == {**huawei, "error": openai_style}
    assert len(stream.events) == 3
    assert "the stream does not end with data: [DONE]" in chunk_rule_problems(stream)


def test_fault_429_with_retry_after_before_the_stream(deployed: Deployed) -> None:
    deployed.fabric.fail("InvokeModelService", status=429, retry_after=7)
    reply = deployed.invoke(SEED_INVOKE, stream=True)
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "7" and reply.json()["error_code"] == "APIG.0308"
    assert deployed.invoke(SEED_INVOKE, stream=True).status_code == 200


def test_fault_stall_before_the_first_token(deployed: Deployed) -> None:
    deployed.fabric.fault(operation="InvokeModelService", stall_ms=400, times=1)
    started = time.monotonic()
    response = deployed.invoke(SEED_INVOKE, stream=True)
    head_at = time.monotonic()  # requests returns once the head is in
    first = next(line for line in response.iter_lines() if line)
    content_at = time.monotonic()
    assert b'"role":"assistant"' in first and b'"content":""' not in first  # the first chunk carries the first token
    assert content_at - head_at >= 0.35 and head_at - started < 0.35  # the head came at once, the token after the stall


def test_manual_clock_latency_does_not_wait(deployed: Deployed) -> None:
    deployed.fabric.set_timing(deployed.instance, ttft_ms=60_000, itl_ms=10_000)
    started = time.monotonic()
    stream = stream_of(deployed.invoke(SEED_INVOKE, stream=True))
    assert chunk_rule_problems(stream) == [] and time.monotonic() - started < 30  # minutes of emulated time, no wait


def test_one_slow_stream_does_not_block_other_requests() -> None:
    with MockFabric(clock="system", validate_responses=True) as fabric:
        fabric.set_lifecycle("endpoint", "instant")
        fabric.set_lifecycle("service_instance", "instant")
        slow = deploy(fabric)
        fabric.set_timing(slow.instance, ttft_ms=0, itl_ms=100)
        first_chunk, finished = threading.Event(), threading.Event()

        def read_slowly() -> None:
            for line in slow.invoke(SEED_INVOKE, stream=True).iter_lines():
                if line:
                    first_chunk.set()
            finished.set()

        reader = threading.Thread(target=read_slowly)
        reader.start()
        assert first_chunk.wait(timeout=30)
        for _ in range(20):
            assert slow.invoke({**SEED_INVOKE, "stream": False, "max_tokens": 2}).status_code == 200
        assert not finished.is_set()  # the slow stream (>1 s of 100 ms gaps) was still going meanwhile
        reader.join(timeout=60)
        assert finished.is_set()


def test_journal_records_invocations_with_credentials_redacted(deployed: Deployed) -> None:
    deployed.invoke({**SEED_INVOKE, "stream": False})
    entries = deployed.fabric.requests(operation="InvokeModelService")
    assert entries and entries[-1]["status"] == 200 and entries[-1]["body"]["messages"][0]["content"] == "hello"
    assert entries[-1]["headers"]["X-Auth-Token"] == "***" and entries[-1]["tenant"] == deployed.fabric.tenant


@pytest.mark.parametrize(("first_chunk", "tokens"), [("content", 1), ("empty", 1), ("content", 3), ("empty", 4)])
def test_every_chunk_shape_keeps_the_rules_and_the_text(first_chunk: str, tokens: int) -> None:
    """The documented first delta (role and first fragment) or an empty one, and N tokens a chunk: the stream keeps
    every cross-event rule and joins to the unstreamed answer's text."""
    with MockFabric(stream_first_chunk=first_chunk, stream_chunk_tokens=tokens) as fabric:
        deployed = deploy(fabric.for_tenant())
        stream = stream_of(deployed.invoke(SEED_INVOKE, stream=True))
        plain = deployed.invoke({**SEED_INVOKE, "stream": False}).json()
    assert chunk_rule_problems(stream) == []
    assert stream.content() == plain["choices"][0]["message"]["content"]
    deltas = [chunk["choices"][0]["delta"] for chunk in stream.chunks if chunk["choices"]]
    assert deltas[0]["role"] == "assistant" and (deltas[0]["content"] == "") == (first_chunk == "empty")
    pieces = [delta["content"] for delta in deltas if delta.get("content")]
    assert all(len(tokenize(piece)) <= tokens for piece in pieces) and len(tokenize(pieces[0])) == tokens
