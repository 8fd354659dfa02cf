"""The control API cannot be driven from a web page or through a foreign host name (DNS rebinding), and strict
auth covers it too. Tried over a real socket, the way a browser would send the requests."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from mockfabric import MockFabric
from mockfabric.config import ConfigError, load_settings
from mockfabric.web.guard import host_name, is_loopback_name


def raw(url: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, Any]:
    """One request with exactly these headers (http.client adds no Host of its own when one is given)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        reply = connection.getresponse()
        payload = reply.read()
        if reply.getheader("Content-Type", "").startswith("application/json"):
            return reply.status, json.loads(payload)
        return reply.status, {"text": payload.decode()}
    finally:
        connection.close()


def own_host(fabric: MockFabric) -> str:
    return urlsplit(fabric.base_url).netloc


def test_a_browser_simple_request_cannot_reset_the_emulator() -> None:
    with MockFabric() as fabric:
        created = raw(
            fabric.base_url,
            "POST",
            "/v1/workspaces",
            {**fabric.headers, "Host": own_host(fabric), "Content-Type": "application/json"},
            b'{"name": "kept"}',
        )
        assert created[0] == 200
        evil = {"Host": own_host(fabric), "Origin": "http://evil.example", "Content-Type": "text/plain"}
        status, body = raw(fabric.base_url, "POST", "/_mockfabric/reset", evil)
        assert status == 403 and body["error_code"] == "common.01000403" and "origin" in body["error_msg"]
        no_origin = raw(fabric.base_url, "POST", "/_mockfabric/reset", {"Host": own_host(fabric), "Content-Type": "text/plain"})
        assert no_origin[0] == 403 and "Content-Type: application/json" in no_origin[1]["error_msg"]
        form = raw(
            fabric.base_url,
            "POST",
            "/_mockfabric/reset",
            {"Host": own_host(fabric), "Content-Type": "application/x-www-form-urlencoded"},
            b"a=b",
        )
        assert form[0] == 403
        listed = raw(fabric.base_url, "GET", "/v1/workspaces", {**fabric.headers, "Host": own_host(fabric)})
        assert listed[0] == 200 and [w["name"] for w in listed[1]["workspaces"]] == ["kept"]


def test_the_emulators_own_origin_and_json_are_served() -> None:
    with MockFabric() as fabric:
        own = {"Host": own_host(fabric), "Origin": f"http://{own_host(fabric)}", "Content-Type": "application/json"}
        assert raw(fabric.base_url, "POST", "/_mockfabric/reset", own, b"{}")[0] == 200
        assert raw(fabric.base_url, "GET", "/_mockfabric/health", {"Host": own_host(fabric)})[0] == 200
        # a body-less DELETE needs no content type: no page can send a DELETE without a preflight
        assert raw(fabric.base_url, "DELETE", f"/_mockfabric/faults?tenant={fabric.tenant}", {"Host": own_host(fabric)})[0] == 200


@pytest.mark.parametrize("path", ["/_mockfabric/health", "/v1/workspaces", "/healthcheck"])
def test_a_foreign_host_name_is_refused_everywhere(path: str) -> None:
    with MockFabric() as fabric:
        status, body = raw(fabric.base_url, "GET", path, {**fabric.headers, "Host": f"evil.example:{fabric.base_url.rsplit(':', 1)[1]}"})
        assert status == 403 and "--allowed-hosts evil.example" in body["error_msg"]
        for loopback in ("localhost", "LOCALHOST:1", "app.localhost", "127.0.0.2", "[::1]:8080"):
            assert raw(fabric.base_url, "GET", path, {**fabric.headers, "Host": loopback})[0] == 200, loopback


def test_allowed_hosts_and_a_control_token_open_named_hosts() -> None:
    with MockFabric(allowed_hosts=("fabric.test",)) as fabric:
        assert raw(fabric.base_url, "GET", "/v1/workspaces", {**fabric.headers, "Host": "fabric.test:8080"})[0] == 200
        assert raw(fabric.base_url, "GET", "/v1/workspaces", {**fabric.headers, "Host": "other.test"})[0] == 403
    with MockFabric(control_token="t0ken") as fabric:
        assert raw(fabric.base_url, "GET", "/v1/workspaces", {**fabric.headers, "Host": "mockfabric:8080"})[0] == 200
        refused = raw(fabric.base_url, "POST", "/_mockfabric/reset", {"Host": "mockfabric:8080", "Content-Type": "application/json"}, b"{}")
        assert refused[0] == 401  # the token, not the host name, closes the control API


def test_allowed_hosts_setting_is_checked() -> None:
    assert load_settings({}, {"MOCKFABRIC_ALLOWED_HOSTS": "a.test, [::1],*"}).allowed_hosts == ("a.test", "[::1]", "*")
    with pytest.raises(ConfigError, match="allowed hosts must be"):
        load_settings({}, {"MOCKFABRIC_ALLOWED_HOSTS": "http://a.test/"})


def test_host_names_are_compared_without_port_and_case() -> None:
    assert host_name("LocalHost:80") == "localhost" and host_name("[::1]:8080") == "[::1]" and host_name("::1") == "::1"
    assert is_loopback_name("127.9.9.9") and is_loopback_name("[::1]") and not is_loopback_name("localhost.evil.example")
