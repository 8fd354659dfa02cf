"""An upstream broken on purpose: each kind of drift the proxy checks for becomes a finding in its report, naming
the exchange that showed it (method, path, body, the recording's file); the client still gets what the upstream
sent, and `mockfabric diff` reads the report."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mockfabric.testing.reports import diff

from .running import RunningAsgi, RunningProxy

WS = "/v1/workspaces/ws-1"
CHUNK = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "usage": None, "system_fingerprint": None}
BROKEN_STREAM = (
    b"data: "
    + json.dumps({**CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}, "finish_reason": None}]}).encode()
    + b"\n\ndata: {not json\n\n"
)  # no finish_reason, a broken event, no [DONE]
ANSWERS: dict[tuple[str, str], tuple[int, str, bytes]] = {
    ("GET", "/v1/workspaces"): (201, "application/json", b'{"total": 0, "workspaces": []}'),  # undeclared status
    ("GET", f"{WS}/endpoints"): (200, "application/json", b'{"total": "many"}'),  # schema violated
    ("GET", f"{WS}/models"): (200, "text/plain", b"models: none"),  # undeclared content type
    ("DELETE", WS): (502, "application/json", b'{"message": "bad gateway"}'),  # undeclared, and not {error_code, error_msg}
    ("POST", f"{WS}/services/instances/i-1/invocations"): (200, "text/event-stream", BROKEN_STREAM),
    ("POST", "/v1/workspaces"): (200, "application/json", b"{}"),
    ("GET", "/v2/nothing"): (200, "application/json", b"{}"),
}


async def broken(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Callable[..., Awaitable[None]]) -> None:
    while (await receive()).get("more_body"):
        pass
    status, media, body = ANSWERS.get((scope["method"], scope["path"]), (404, "application/json", b"{}"))
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", media.encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[RunningProxy]:
    with RunningAsgi(broken) as upstream, RunningProxy(upstream.url, record=str(tmp_path)) as proxy:
        yield proxy


def test_each_kind_of_drift_is_a_finding_with_its_exchange(proxied: RunningProxy) -> None:
    headers = {"X-Auth-Token": "t"}
    replies = {
        "status": requests.get(f"{proxied.url}/v1/workspaces", headers=headers, timeout=10),
        "schema": requests.get(f"{proxied.url}{WS}/endpoints", headers=headers, timeout=10),
        "media": requests.get(f"{proxied.url}{WS}/models", headers=headers, timeout=10),
        "error": requests.delete(f"{proxied.url}{WS}", headers=headers, timeout=10),
        "stream": requests.post(
            f"{proxied.url}{WS}/services/instances/i-1/invocations",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers=headers,
            timeout=10,
        ),
        "request": requests.post(f"{proxied.url}/v1/workspaces", json={"name": 5}, headers=headers, timeout=10),
        "route": requests.get(f"{proxied.url}/v2/nothing", headers=headers, timeout=10),
    }
    assert replies["status"].status_code == 201 and replies["media"].text == "models: none"  # passed on as they came
    assert replies["stream"].content == BROKEN_STREAM
    found = {(finding["check"], finding["operation"]): finding for finding in proxied.findings()}
    expected = {
        ("status_code_conformance", "ListWorkspaces"): "/v1/workspaces",
        ("response_schema_conformance", "ListEndpoints"): f"{WS}/endpoints",
        ("content_type_conformance", "ListModels"): f"{WS}/models",
        ("status_code_conformance", "DeleteWorkspace"): WS,
        ("error_body_shape", "DeleteWorkspace"): WS,
        ("sse_event_conformance", "InvokeModelService"): f"{WS}/services/instances/i-1/invocations",
        ("sse_chunk_rules", "InvokeModelService"): f"{WS}/services/instances/i-1/invocations",
        ("request_conformance", "CreateWorkspace"): "/v1/workspaces",
        ("undeclared_operation", "(undeclared)"): "/v2/nothing",
    }
    assert sorted(found) == sorted(expected)
    for (check, operation), path in expected.items():
        assert found[check, operation]["request"]["path"] == path
        assert found[check, operation]["request"]["recording"].endswith(f"-{operation.strip('()')}.json")
    status = found["status_code_conformance", "ListWorkspaces"]
    assert status["actual"] == 201 and "200" in status["expected"]
    rules = found["sse_chunk_rules", "InvokeModelService"]["message"]
    assert "does not end with data: [DONE]" in rules and "event is not JSON" in rules and "0 finish_reason values" in rules
    assert found["content_type_conformance", "ListModels"]["actual"] == "text/plain"
    assert found["request_conformance", "CreateWorkspace"]["request"]["body"] == '{"name": 5}'
    assert "total" in found["response_schema_conformance", "ListEndpoints"]["message"]
    report = proxied.report()
    assert report["format"] == "mockfabric-drift-report/1" and report["conformed"] is False
    assert any("ListWorkspaces" in line for line in diff(report, {**report, "operations": {}}))


def answering(marker: bytes) -> Callable[..., Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Callable[..., Awaitable[None]]) -> None:
        await receive()
        token = dict(scope["headers"]).get(b"x-auth-token", b"")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"plane": "' + marker + b'", "token": "' + token + b'"}'})

    return app


def test_ep_operations_go_to_the_ep_upstream_and_a_token_replaces_the_clients() -> None:
    with (
        RunningAsgi(answering(b"admin")) as admin,
        RunningAsgi(answering(b"ep")) as ep,
        RunningProxy(admin.url, ep_upstream=ep.url, token="proxy-token") as proxy,
    ):
        instances = requests.get(f"{proxy.url}{WS}/services/instances", headers={"X-Auth-Token": "client"}, timeout=10).json()
        workspaces = requests.get(f"{proxy.url}/v1/workspaces", timeout=10).json()
    assert instances == {"plane": "ep", "token": "proxy-token"} and workspaces == {"plane": "admin", "token": "proxy-token"}


async def echo_path(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Callable[..., Awaitable[None]]) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": scope["raw_path"] + b"?" + scope["query_string"]})


def test_the_path_and_query_go_upstream_as_the_client_escaped_them() -> None:
    with RunningAsgi(echo_path) as upstream, RunningProxy(upstream.url) as proxy:
        seen = requests.get(f"{proxy.url}/v1/workspaces/a%2Fb%20c/endpoints?name=x%26y&limit=5", headers={"X-Auth-Token": "t"}, timeout=10)
    assert seen.text == "/v1/workspaces/a%2Fb%20c/endpoints?name=x%26y&limit=5"


async def noted(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Callable[..., Awaitable[None]]) -> None:
    await receive()
    headers = [(b"content-type", b"application/json"), (b"x-note", "café".encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"total": 0, "workspaces": []}'})


def test_answer_headers_come_back_as_the_bytes_they_were() -> None:
    with RunningAsgi(noted) as upstream, RunningProxy(upstream.url) as proxy:
        reply = requests.get(f"{proxy.url}/v1/workspaces", headers={"X-Auth-Token": "t"}, timeout=10)
    assert reply.status_code == 200 and reply.headers["x-note"].encode("latin-1") == "café".encode()


async def surrogate(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Callable[..., Awaitable[None]]) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"total": 1, "workspaces": [{"name": "a\\ud800"}]}'})


def test_lone_surrogates_either_way_are_findings_and_cost_nothing_else(tmp_path: Path) -> None:
    with RunningAsgi(surrogate) as upstream, RunningProxy(upstream.url, record=str(tmp_path)) as proxy:
        sent = b'{"name": "ab\\ud800cdef"}'
        created = requests.post(
            f"{proxy.url}/v1/workspaces", data=sent, headers={"X-Auth-Token": "t", "Content-Type": "application/json"}, timeout=10
        )
        listed = requests.get(f"{proxy.url}/v1/workspaces", headers={"X-Auth-Token": "t"}, timeout=10)
        assert created.status_code == listed.status_code == 200 and listed.content.endswith(b'"a\\ud800"}]}')  # passed on
        found = {(finding["operation"], finding["check"]): finding["message"] for finding in proxy.findings()}
    assert "body.name: not valid Unicode" in found["CreateWorkspace", "request_conformance"]
    assert "response.workspaces[0].name: not valid Unicode" in found["ListWorkspaces", "response_schema_conformance"]
    recorded = json.loads((tmp_path / "000001-CreateWorkspace.json").read_text(encoding="utf-8"))
    assert recorded["request"]["body"] == sent.decode()  # kept as written: valid text
