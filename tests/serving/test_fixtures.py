"""Answer fixtures over a real socket: every match condition, load order, `times`, errors, files at start, strict
mode; and the per-request fault header with each kind of effect."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockfabric import MockFabric
from mockfabric.testing.streams import chunk_rule_problems, parse_sse

from .flow import Deployed, deploy
from .test_invocations import raw_stream

HELLO = {"messages": [{"role": "user", "content": "hello there"}], "stream": False}


@pytest.fixture(scope="module")
def server() -> Iterator[MockFabric]:
    with MockFabric() as fabric:
        yield fabric


@pytest.fixture
def deployed(server: MockFabric) -> Iterator[Deployed]:
    flow = deploy(server.for_tenant())
    yield flow
    flow.fabric.clear_fixtures()
    flow.fabric.reset()


def answer(flow: Deployed, body: dict[str, object] = HELLO, **headers: str) -> requests.Response:
    return flow.session.post(flow.invoke_url, json=body, headers=headers, timeout=30)


def content(reply: requests.Response) -> str:
    text: str = reply.json()["choices"][0]["message"]["content"]
    return text


@pytest.mark.parametrize(
    ("condition", "matching", "other"),
    [
        ({"user": {"equals": "hello there"}}, HELLO, {**HELLO, "messages": [{"role": "user", "content": "bye"}]}),
        ({"user": {"contains": "there"}}, HELLO, {**HELLO, "messages": [{"role": "user", "content": "where"}]}),
        ({"user": {"regex": "^hel+o"}}, HELLO, {**HELLO, "messages": [{"role": "user", "content": "oh hello"}]}),
        (
            {"system": {"contains": "pirate"}},
            {**HELLO, "messages": [{"role": "system", "content": "talk like a pirate"}, {"role": "user", "content": "hi"}]},
            HELLO,
        ),
        ({"model": {"equals": "qwen"}}, {**HELLO, "model": "qwen"}, {**HELLO, "model": "glm"}),
        (
            {"turn": 2},
            {
                **HELLO,
                "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}],
            },
            HELLO,
        ),
        ({"stream": False}, HELLO, {**HELLO, "stream": True}),
        ({"workspace": {"equals": "invoke-ws"}}, HELLO, None),
    ],
)
def test_each_condition_picks_its_requests(
    deployed: Deployed, condition: dict[str, object], matching: dict[str, object], other: object
) -> None:
    deployed.fabric.add_fixture({**condition, "instance": {"equals": deployed.instance}}, {"content": "from the fixture"})
    assert content(answer(deployed, matching)) == "from the fixture"
    if isinstance(other, dict):
        reply = answer(deployed, other)
        text = parse_sse(reply.text.splitlines(keepends=True)).content() if other.get("stream") else content(reply)
        assert text != "from the fixture"


def test_the_first_match_answers_and_times_are_used_up(deployed: Deployed) -> None:
    mine = {"instance": {"equals": deployed.instance}}
    deployed.fabric.add_fixture({**mine, "user": {"contains": "hello"}}, {"content": "first", "reasoning_content": "why"}, times=2)
    deployed.fabric.add_fixture(mine, {"content": "second"})
    reply = answer(deployed).json()
    first = reply["choices"][0]["message"]
    assert (first["content"], first["reasoning_content"]) == ("first", "why")
    assert reply["usage"]["completion_tokens_details"] == {"reasoning_tokens": 1} and reply["usage"]["completion_tokens"] == 2
    streamed = parse_sse(answer(deployed, {**HELLO, "stream": True}).text.splitlines(keepends=True))
    assert streamed.content() == "first" and chunk_rule_problems(streamed) == []
    assert "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in streamed.chunks if c["choices"]) == "why"
    assert content(answer(deployed)) == "second"  # the first one's two times are used up
    listed = deployed.fabric._control_json("GET", "fixtures")["fixtures"]
    assert [(f["answer"]["content"], f["used"]) for f in listed] == [("second", 1)]


def test_a_scripted_answer_comes_before_a_fixture_and_a_fixture_can_answer_an_error(deployed: Deployed) -> None:
    deployed.fabric.add_fixture(
        {"instance": {"equals": deployed.instance}}, {"error": {"status": 429, "error_code": "APIG.0308", "error_msg": "slow down"}}
    )
    deployed.fabric.script_completion(deployed.instance, "scripted wins")
    assert content(answer(deployed)) == "scripted wins"
    refused = answer(deployed)
    request_id = refused.headers["X-Request-Id"]  # a gateway code: the gateway puts the request id in the body too
    assert refused.status_code == 429 and refused.json() == {"error_code": "APIG.0308", "error_msg": "slow down", "request_id": request_id}


def test_fixture_files_at_start_and_strict_mode(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("fixtures:\n  - match: {user: {contains: weather}}\n    answer: {content: Sunny.}\n", encoding="utf-8")
    with MockFabric(fixtures=str(path), strict_fixtures=True) as fabric:
        flow = deploy(fabric)
        weather = {"messages": [{"role": "user", "content": "the weather?"}], "stream": False}
        assert content(answer(flow, weather)) == "Sunny."
        refused = answer(flow, HELLO)
        assert refused.status_code == 501 and refused.json()["error_code"] == "mockfabric.00000501"
        message = refused.json()["error_msg"]
        assert flow.instance in message and "'hello there'" in message and "answers.yaml#0 (0 of 1 conditions)" in message


def test_a_bad_fixture_file_refuses_the_start_and_the_check_names_file_index_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        json.dumps(
            {
                "fixtures": [
                    {"match": {"any": True}, "answer": {"content": "ok"}},
                    {"match": {"user": {"sounds": "x"}}, "answer": {"content": "y"}},
                ]
            }
        )
    )
    done = subprocess.run([sys.executable, "-m", "mockfabric", "fixtures", "check", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and f"{bad}: fixture 1: " in done.stderr and "match.user" in done.stderr, done.stderr
    assert "1 fixture(s) fine, 1 problem(s)" in done.stdout
    served = subprocess.run(
        [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--fixtures", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert served.returncode != 0 and served.stderr.count("\n") == 1 and "bad.yaml#1" in served.stderr, served.stderr


@pytest.mark.parametrize(
    ("effect", "check"),
    [
        (  # a gateway code: the body carries the request id, as the gateway's own errors do
            {"status": 429, "retry_after": 2},
            lambda r: r.status_code == 429 and r.headers["Retry-After"] == "2" and r.json()["request_id"] == r.headers["X-Request-Id"],
        ),
        (
            {"status": 503, "error_code": "X.1", "error_msg": "down for now"},
            lambda r: r.status_code == 503 and r.json() == {"error_code": "X.1", "error_msg": "down for now"},
        ),
        ({"latency_ms": 300}, lambda r: r.status_code == 200 and r.elapsed.total_seconds() >= 0.3),
    ],
)
def test_the_fault_header_applies_to_its_request_only(deployed: Deployed, effect: dict[str, object], check: object) -> None:
    reply = answer(deployed, **{"X-Mockfabric-Fault": json.dumps(effect)})
    assert callable(check) and check(reply), (reply.status_code, reply.text[:200])
    assert answer(deployed).status_code == 200  # the next request is untouched
    journaled = deployed.fabric.requests(operation="InvokeModelService")
    assert journaled[-2]["fault"] == "header"


def test_the_fault_header_cuts_or_breaks_a_stream(deployed: Deployed) -> None:
    cut = answer(deployed, {**HELLO, "stream": True}, **{"X-Mockfabric-Fault": '{"stream_error_after": 2}'})
    stream = parse_sse(cut.text.splitlines(keepends=True))
    events = stream.chunks
    assert len(events) == 3 and "[DONE]" not in cut.text and events[-1]["error_code"] == "dataartsfabric.00000001"


def test_the_fault_header_drops_the_connection_or_stalls_the_first_token(deployed: Deployed) -> None:
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        answer(deployed, **{"X-Mockfabric-Fault": '{"drop_connection": true}'})
    start = time.monotonic()
    stalled = answer(deployed, {**HELLO, "stream": True}, **{"X-Mockfabric-Fault": '{"stall_ms": 300}'})
    assert stalled.status_code == 200 and time.monotonic() - start >= 0.3 and "[DONE]" in stalled.text  # late, yet whole
    assert [entry["fault"] for entry in deployed.fabric.requests(operation="InvokeModelService")] == ["header", "header"]


def test_a_bad_fault_header_is_a_clear_400(deployed: Deployed) -> None:
    not_json = answer(deployed, **{"X-Mockfabric-Fault": "{status: 429"})
    assert not_json.status_code == 400 and not_json.json()["error_msg"].startswith("X-Mockfabric-Fault: not JSON")
    matcher = answer(deployed, **{"X-Mockfabric-Fault": '{"tenant": "someone"}'})
    assert matcher.status_code == 400 and "tenant is not an effect" in matcher.json()["error_msg"]
    out_of_range = answer(deployed, **{"X-Mockfabric-Fault": '{"status": 200}'})
    assert out_of_range.status_code == 400 and out_of_range.json()["error_msg"].startswith("X-Mockfabric-Fault: ")
    deep = answer(deployed, **{"X-Mockfabric-Fault": "[" * 30_000 + "]" * 30_000})
    assert deep.status_code == 400 and deep.json()["error_msg"].startswith("X-Mockfabric-Fault: not JSON")
    infinite = answer(deployed, **{"X-Mockfabric-Fault": '{"latency_ms": 1e309}'})
    assert infinite.status_code == 400 and infinite.json()["error_msg"].startswith("X-Mockfabric-Fault: not JSON")
    lone = answer(deployed, **{"X-Mockfabric-Fault": '{"status": 429, "error_msg": "ab\\ud800"}'})
    assert lone.status_code == 400 and lone.json()["error_msg"].startswith("X-Mockfabric-Fault.error_msg: not valid Unicode")
    assert answer(deployed).status_code == 200  # and the server still answers


def test_the_fault_header_is_ignored_when_switched_off() -> None:
    with MockFabric(fault_header=False) as fabric:
        flow = deploy(fabric)
        assert answer(flow, **{"X-Mockfabric-Fault": '{"status": 500}'}).status_code == 200


def stream_of(flow: Deployed, body: dict[str, object] = HELLO, **headers: str) -> requests.Response:
    return answer(flow, {**body, "stream": True, "stream_options": {"include_usage": True}}, **headers)


def test_an_answer_streams_its_own_chunks_and_reports_its_own_usage(deployed: Deployed) -> None:
    chunks = ["Hel", "lo, wor", {"text": "ld!", "delay_ms": 5}]
    usage = {"prompt_tokens": 11, "completion_tokens": 7}
    deployed.fabric.add_fixture({"instance": {"equals": deployed.instance}}, {"chunks": chunks, "usage": usage})
    streamed = parse_sse(stream_of(deployed).text.splitlines(keepends=True))
    fragments = [c["choices"][0]["delta"].get("content") for c in streamed.chunks if c["choices"] and c["choices"][0]["delta"]]
    assert fragments == ["Hel", "lo, wor", "ld!"] and chunk_rule_problems(streamed, include_usage=True) == []
    assert streamed.chunks[-1]["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    plain = answer(deployed).json()
    assert content_of(plain) == "Hello, world!" and plain["usage"]["total_tokens"] == 18
    assert deployed.fabric.set_quota(deployed.endpoint)["used"] == 36  # the reported totals are what the endpoint counts


def content_of(reply: dict[str, object]) -> str:
    choices = reply["choices"]
    assert isinstance(choices, list)
    text: str = choices[0]["message"]["content"]
    return text


def test_chunks_are_cut_at_the_token_limit(deployed: Deployed) -> None:
    deployed.fabric.add_fixture({"instance": {"equals": deployed.instance}}, {"chunks": ["one two", " three four", " five"]})
    streamed = parse_sse(stream_of(deployed, {**HELLO, "max_tokens": 3}).text.splitlines(keepends=True))
    fragments = [c["choices"][0]["delta"].get("content") for c in streamed.chunks if c["choices"] and c["choices"][0]["delta"]]
    assert fragments == ["one two", " three"]
    assert [c["choices"][0]["finish_reason"] for c in streamed.chunks if c["choices"]][-1] == "length"


@pytest.mark.parametrize(
    ("effect", "ending"),
    [({"stream_cut_after": 2}, "cut"), ({"stream_error_after": 1}, "error event")],
)
def test_an_answer_carries_a_stream_fault(deployed: Deployed, effect: dict[str, object], ending: str) -> None:
    deployed.fabric.add_fixture({"instance": {"equals": deployed.instance}}, {"content": "a b c d e f", **effect}, times=1)
    received, clean = raw_stream(deployed.invoke_url, deployed.fabric.headers, json.dumps({**HELLO, "stream": True}).encode())
    assert b"[DONE]" not in received
    if ending == "cut":
        assert not clean and received.count(b"data: ") == 2
    else:
        assert clean and received.count(b"data: ") == 2 and b'"error_code"' in received.split(b"data: ")[-1]
    assert "[DONE]" in stream_of(deployed).text  # used up: the next answer is whole


def test_an_answers_latency_drop_and_delayed_error(deployed: Deployed) -> None:
    mine = {"instance": {"equals": deployed.instance}}
    deployed.fabric.add_fixture(mine, {"content": "late", "latency_ms": 300}, times=1)
    deployed.fabric.add_fixture(mine, {"content": "never", "drop_connection": True}, times=1)
    deployed.fabric.add_fixture(mine, {"error": {"status": 503, "error_code": "X.1", "error_msg": "busy"}, "latency_ms": 200}, times=1)
    late = answer(deployed)
    assert content(late) == "late" and late.elapsed.total_seconds() >= 0.3
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        answer(deployed)  # dropped after a byte of the answer
    refused = answer(deployed)
    assert refused.status_code == 503 and refused.json()["error_code"] == "X.1" and refused.elapsed.total_seconds() >= 0.2


def test_a_requests_own_fault_overrides_its_answers_effect_by_effect(deployed: Deployed) -> None:
    deployed.fabric.add_fixture({"instance": {"equals": deployed.instance}}, {"content": "a b c d e f", "stream_cut_after": 1})
    headers = {**deployed.fabric.headers, "X-Mockfabric-Fault": '{"stream_cut_after": 4}'}
    received, clean = raw_stream(deployed.invoke_url, headers, json.dumps({**HELLO, "stream": True}).encode())
    assert not clean and received.count(b"data: ") == 4  # the request's cut, not the answer's
    received, clean = raw_stream(deployed.invoke_url, deployed.fabric.headers, json.dumps({**HELLO, "stream": True}).encode())
    assert not clean and received.count(b"data: ") == 1  # without a header: the answer's own


@pytest.mark.parametrize(
    "answer_spec",
    [
        {"content": "a", "chunks": ["a"]},  # one text or the other
        {"error": {"status": 503, "error_code": "X.1", "error_msg": "m"}, "stall_ms": 10},  # an error has no stream
        {"chunks": [""]},
        {"chunks": [{"text": "a", "delay_ms": -1}]},
        {"content": "a", "usage": {"prompt_tokens": -1}},
        {"content": "a", "usage": {}},
    ],
)
def test_an_answer_that_cannot_be_given_is_refused_with_its_field(deployed: Deployed, answer_spec: dict[str, object]) -> None:
    reply = deployed.session.post(
        f"{deployed.fabric.base_url}/_mockfabric/fixtures", json={"fixtures": [{"match": {"any": True}, "answer": answer_spec}]}
    )
    assert reply.status_code == 400 and reply.json()["error_msg"].startswith("body.fixtures"), reply.text
    assert deployed.session.get(f"{deployed.fabric.base_url}/_mockfabric/fixtures").json()["fixtures"] == []
