"""`mockfabric serve` as a user runs it: a subprocess that prints its URL, serves, and stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

SERVE = [sys.executable, "-m", "mockfabric", "serve"]


def start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*SERVE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the server printed its URL (or exited)
    assert "serving on http://" in line, (line, process.stderr.read() if process.stderr else "")
    return process, line.split("serving on ", 1)[1].split()[0]


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process, url = start("--port", "0")
    yield process, url
    finish(process)


def finish(process: subprocess.Popen[str]) -> None:
    """Kill a server a test left running and close its pipes."""
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=15)


def test_serves_health_and_contract_then_stops_on_sigterm(server: tuple[subprocess.Popen[str], str]) -> None:
    process, url = server
    assert url.startswith("http://127.0.0.1:")
    health = requests.get(f"{url}/healthcheck", timeout=10)
    assert (health.status_code, health.text) == (200, "OK")
    contract = requests.get(f"{url}/openapi.json", timeout=10).json()
    assert contract["openapi"] == "3.1.0" and contract["paths"]["/v1/workspaces"]["post"]["operationId"] == "CreateWorkspace"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def test_sigint_stops_too(server: tuple[subprocess.Popen[str], str]) -> None:
    process, _ = server
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*SERVE, "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and f"127.0.0.1:{port}" in result.stderr and "in use" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--workers", "2"], {}, "workers must be 1"),
        (["--lifecycle", "endpoint=sometimes"], {}, "lifecycle"),
        ([], {"MOCKFABRIC_PORT": "not-a-port"}, "MOCKFABRIC_PORT"),
        ([], {"MOCKFABRIC_VALIDATE_RESPONSES": "yes"}, "MOCKFABRIC_VALIDATE_RESPONSES"),
        (["--port", "70000"], {}, "port"),
    ],
)
def test_invalid_settings_exit_non_zero_with_one_line(args: list[str], env: dict[str, str], needle: str) -> None:
    result = subprocess.run([*SERVE, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert result.returncode != 0 and needle in result.stderr
    assert result.stderr.strip().count("\n") == 0 or "usage:" in result.stderr


def test_flags_win_over_environment() -> None:
    process, url = start("--port", "0", env={"MOCKFABRIC_PORT": "1", "MOCKFABRIC_AUTH": "off"})
    try:
        assert requests.get(f"{url}/v1/workspaces", timeout=10).status_code == 200  # auth off came from the env
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        finish(process)


def test_in_flight_request_finishes_during_shutdown(server: tuple[subprocess.Popen[str], str]) -> None:
    process, url = server
    body = {"name": "graceful"}
    with requests.Session() as session:
        session.headers["X-Auth-Token"] = "t"
        assert session.post(f"{url}/v1/workspaces", json=body, timeout=10).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_unparseable_requests_get_a_huawei_error_body(server: tuple[subprocess.Popen[str], str]) -> None:
    import socket as sockets
    from urllib.parse import urlsplit

    _, url = server
    parts = urlsplit(url)
    with sockets.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(b"GET /v1/workspaces HTTP/1.1\r\nHost: x\r\nX-Auth-Token: \x01bad\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].endswith(b" 400 Bad Request") and b"application/json" in head and b"X-Request-Id" in head
    assert b'"error_code": "common.01000001"' in body
