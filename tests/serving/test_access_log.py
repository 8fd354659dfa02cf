"""`mockfabric serve` writes an access log on standard error (issue 29, item 6): one line per request with method,
path, status, milliseconds, tenant and request id, a stream's line when it ends; credentials never appear, a path
cannot forge a line, and `--quiet` (or `--log-level warning`) switches it off."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from mockfabric import MockFabric

from .flow import deploy

SECRET = "s3cr3t-token-value"


@contextmanager
def served(*flags: str) -> Iterator[tuple[str, list[str]]]:
    """A served emulator; after the block, the lines it wrote on standard error."""
    command = [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--lifecycle", "instant", *flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    try:
        yield process.stdout.readline().split("serving on ", 1)[1].split()[0], lines
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=20)
        lines.extend(errors.splitlines())


def test_every_request_gets_one_line_and_no_credential_appears() -> None:
    with served() as (url, lines):
        headers = {"X-Auth-Token": SECRET, "X-Project-Id": "logged"}
        listed = requests.get(f"{url}/v1/workspaces?limit=2&access_token={SECRET}", headers=headers, timeout=10)
        forged = requests.get(f"{url}/v1/workspaces%0A127.0.0.1:1%20%22GET%20/forged", headers=headers, timeout=10)
        deployed = deploy(MockFabric.connect(url, tenant="logged"))
        streamed = deployed.invoke({"messages": [{"role": "user", "content": "hi"}], "stream": True})
        assert streamed.status_code == 200 and "[DONE]" in streamed.text
    access = [line for line in lines if '"GET ' in line or '"POST ' in line]
    assert not any(SECRET in line for line in lines), [line for line in lines if SECRET in line]
    first = next(line for line in access if "/v1/workspaces?limit=2" in line)
    assert " 200 " in first and " ms tenant=logged " in first and f"id={listed.headers['X-Request-Id']}" in first, first
    assert "access_token=" in first
    assert all(line.startswith("127.0.0.1:") for line in access), access  # the %0A stayed inside its own line
    assert any("\\x0a" in line and f"id={forged.headers['X-Request-Id']}" in line for line in access), access
    invocation = next(line for line in access if "/invocations" in line)
    assert invocation.split('" ', 1)[1].startswith("200 ") and f"id={streamed.headers['X-Request-Id']}" in invocation


def test_quiet_and_a_warning_level_write_no_access_line() -> None:
    for flags in (("--quiet",), ("--log-level", "warning")):
        with served(*flags) as (url, lines):
            assert requests.get(f"{url}/v1/workspaces", headers={"X-Auth-Token": "t"}, timeout=10).status_code == 200
        assert not any('"GET ' in line for line in lines), (flags, lines)


def test_a_standard_error_nobody_reads_stalls_no_request() -> None:
    """A fixture that pipes serve's standard error and never reads it fills the pipe after a few hundred lines; the
    log is written off the event loop, so requests go on (lines past LIMIT waiting are dropped, and counted)."""
    with served() as (url, lines):
        session = requests.Session()
        session.headers.update({"X-Auth-Token": "t", "X-Project-Id": "unread"})
        for _ in range(3000):  # ~100 bytes of log each: five times what a pipe holds
            assert session.get(f"{url}/v1/workspaces", timeout=5).status_code == 200
        session.close()
    assert sum('"GET /v1/workspaces"' in line for line in lines) > 500  # written once standard error was read


def test_unicode_line_breaks_and_backslashes_are_escaped_and_uvicorns_own_warnings_stall_nothing() -> None:
    import socket

    with served() as (url, lines):
        requests.get(f"{url}/a%C2%85b%E2%80%A8c%E2%80%AEd%5Cx0a", headers={"X-Auth-Token": "t"}, timeout=10)
        port = int(url.rsplit(":", 1)[1])
        for _ in range(3000):  # each is a warning of uvicorn's ("Invalid HTTP request received."): ~100 KB unread
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(b"GARBAGE\r\n\r\n")
                client.recv(1024)
        assert requests.get(f"{url}/healthcheck", timeout=5).status_code == 200
    logged = next(line for line in lines if '"GET /a' in line)
    assert "\\x85" in logged and "\\u2028" in logged and "\\u202e" in logged and "\\x5cx0a" in logged, logged
