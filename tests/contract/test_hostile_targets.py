"""verify against targets that are not the service, or stop being it (issue 27; found by a hostile review): a server
that answers every request with an error body, an HTML page, `{}`, a cut or no answer at all; a throttling target;
base URLs that cannot be one. None may say "conforms", end in a traceback, or run without bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mockfabric import MockFabric

Answer = Callable[[BaseHTTPRequestHandler], None]


def fixed(status: int, body: bytes, content_type: str = "application/json") -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def cut_mid_body(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(b'{"workspaces": [')
    handler.close_connection = True


def silent_on_writes(stop: threading.Event) -> Answer:
    listing = fixed(200, b'{"workspaces": [], "total": 0}')

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "GET":
            listing(handler)
        else:
            stop.wait(30)  # never answers a write (within the test)

    return answer


def trickling(stop: threading.Event) -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(400)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        while not stop.wait(0.5):  # a byte every half second: each read gets one in time, the answer never ends
            try:
                handler.wfile.write(b" ")
                handler.wfile.flush()
            except OSError:
                return

    return answer


class Fake:
    """A stdlib HTTP server on 127.0.0.1 that answers every method and path with `answer`."""

    def __init__(self, answer: Answer) -> None:
        def handle(handler: BaseHTTPRequestHandler) -> None:
            length = int(handler.headers.get("Content-Length") or 0)
            if length:
                handler.rfile.read(length)
            answer(handler)

        methods = {f"do_{m}": handle for m in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")}
        handler = type("Handler", (BaseHTTPRequestHandler,), {**methods, "log_message": lambda *a: None})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Fake:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def verify(url: str, folder: Path, *more: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mockfabric", "verify", "--base-url", url, "--token", "t0k3n", "--max-examples", "1"]
    command += ["--no-stateful", "--seed", "3", "--report", str(folder / "report.json"), *more]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=folder)


def refused_in_one_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "conforms" not in result.stdout.replace("NOT conform", "")
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and all(needle in lines[0] for needle in needles), (needles, lines)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("answer", "needles"),
    [
        (fixed(400, b'{"error_code": "DLM.4001", "error_msg": "bad request"}'), ["no request succeeded"]),
        (fixed(404, b'{"error_code": "DLM.4001", "error_msg": "not found"}'), ["no request succeeded"]),
        (fixed(200, b"<html>hello</html>", "text/html"), ["not the service"]),
        (cut_mid_body, ["no-response"]),
    ],
    ids=["400-error-body", "404-error-body", "html-200", "cut-mid-body"],
)
def test_a_server_that_is_not_the_service_fails_the_run(tmp_path: Path, answer: Answer, needles: list[str]) -> None:
    with Fake(answer) as fake:
        result = verify(fake.url, tmp_path, "--allow-billable")
    refused_in_one_line(result, *needles)
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["conformed"] is False


@pytest.mark.slow
def test_a_server_answering_empty_json_is_drift_with_a_report_not_a_traceback(tmp_path: Path) -> None:
    with Fake(fixed(200, b"{}")) as fake:
        result = verify(fake.url, tmp_path)
    assert "Traceback" not in result.stderr and result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "does NOT conform" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert any(operation["findings"] for operation in report["operations"].values())


@pytest.mark.slow
def test_a_target_that_stops_answering_ends_the_run_in_bounded_time(tmp_path: Path) -> None:
    stop = threading.Event()
    with Fake(silent_on_writes(stop)) as fake:
        started = time.monotonic()
        try:
            result = verify(fake.url, tmp_path, "--request-timeout", "1", "--wait-timeout", "2", timeout=180)
        finally:
            stop.set()
    refused_in_one_line(result, "no-response", "stopped answering")
    assert time.monotonic() - started < 120


@pytest.mark.slow
def test_a_throttling_target_fails_saying_so(tmp_path: Path) -> None:
    limits = ",".join(f"{op}=1/min" for op in ("ListWorkspaces", "ListSpecs", "ListBaseModels", "ShowAgreementRule"))
    with MockFabric(rate_limit=limits) as fabric:
        result = verify(fabric.base_url, tmp_path, "--read-only", "--max-examples", "4")
    assert result.returncode == 2 and "throttled" in result.stderr and "rate limit" in result.stderr, result.stderr[-2000:]


@pytest.mark.slow
def test_an_ep_plane_that_is_another_server_fails_the_run(tmp_path: Path) -> None:
    with MockFabric() as fabric, Fake(fixed(404, b"<html>Not Found</html>", "text/html")) as other:
        result = verify(fabric.base_url, tmp_path, "--ep-url", other.url, "--allow-billable", "--wait-timeout", "3")
    refused_in_one_line(result, "no request succeeded on the ep plane", "--ep-url")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--base-url", "http://[::1"], "Invalid IPv6 URL"),
        (["--base-url", "http://127.0.0.1:abc"], "is not an http(s)://host[:port] URL"),
        (["--base-url", "http://127.0.0.1:70000"], "is not an http(s)://host[:port] URL"),
        (["--base-url", "http://127.0.0.1:8080?x=1"], "query or fragment"),
        (["--base-url", "http://127.0.0.1:8080/#frag"], "query or fragment"),
        (["--base-url", "http://127.0.0.1:8080", "--ep-url", "http://h:1?x"], "--ep-url"),
        (["--base-url", "http://127.0.0.1:8080", "--wait-timeout", "0"], "--wait-timeout must be more than 0"),
        (["--base-url", "http://127.0.0.1:8080", "--wait-timeout", "-5"], "--wait-timeout must be more than 0"),
        (["--base-url", "http://127.0.0.1:8080", "--request-timeout", "0"], "--request-timeout must be more than 0"),
    ],
)
def test_a_flag_that_cannot_be_used_is_one_line_at_once(flags: list[str], message: str) -> None:
    command = [sys.executable, "-m", "mockfabric", "verify", "--token", "t", *flags]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    refused_in_one_line(result, message)
    assert result.stdout == ""


@pytest.mark.slow
def test_a_target_that_trickles_its_answers_ends_the_run_in_bounded_time(tmp_path: Path) -> None:
    """Each read gets a byte in time, so only a deadline on the whole answer (--request-timeout) ends it."""
    stop = threading.Event()
    with Fake(trickling(stop)) as fake:
        started = time.monotonic()
        try:
            result = verify(fake.url, tmp_path, "--request-timeout", "1", "--read-only", timeout=180)
        finally:
            stop.set()
    refused_in_one_line(result, "no-response", "stopped answering")
    assert time.monotonic() - started < 90


def test_the_credential_can_come_from_the_environment_instead_of_the_command_line() -> None:
    command = [sys.executable, "-m", "mockfabric", "verify", "--base-url", "http://127.0.0.1:9"]
    without = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env={k: v for k, v in os.environ.items() if "TOKEN" not in k}
    )
    assert without.returncode == 2 and "give --token or --ak/--sk" in without.stderr
    given = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, "MOCKFABRIC_X_AUTH_TOKEN": "t"})
    assert given.returncode == 2 and "cannot reach http://127.0.0.1:9" in given.stderr, given.stderr


def health_only(handler: BaseHTTPRequestHandler) -> None:
    if handler.path.startswith("/healthcheck"):
        fixed(200, b"OK", "text/plain")(handler)
    else:
        fixed(400, b'{"error_code": "DataArtsFabric.00040404", "error_msg": "the resource does not exist"}')(handler)


@pytest.mark.slow
def test_a_server_whose_only_success_is_its_health_check_fails_the_run(tmp_path: Path) -> None:
    with Fake(health_only) as fake:
        result = verify(fake.url, tmp_path)
    refused_in_one_line(result, "no request succeeded on the admin plane")


@pytest.mark.slow
def test_a_redirect_is_not_followed_and_no_credential_reaches_another_host(tmp_path: Path) -> None:
    reached: list[str] = []

    def canary(handler: BaseHTTPRequestHandler) -> None:
        reached.append(handler.headers.get("X-Auth-Token", ""))
        fixed(200, b'{"workspaces": []}')(handler)

    with Fake(canary) as other:

        def redirect(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(307)
            handler.send_header("Location", f"{other.url}{handler.path}")
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        with Fake(redirect) as fake:
            result = verify(fake.url, tmp_path, "--read-only")
    refused_in_one_line(result, "not the service")
    assert "t0k3n" not in reached, f"{reached.count('t0k3n')} requests carried the credential to another host"


def test_ctrl_c_is_one_line_and_130(tmp_path: Path) -> None:
    import signal

    stop = threading.Event()
    with Fake(trickling(stop)) as fake:
        command = [sys.executable, "-m", "mockfabric", "verify", "--base-url", fake.url, "--token", "t", "--read-only"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        try:
            assert process.stdout is not None
            process.stdout.readline()  # running: its first line is out
            process.send_signal(signal.SIGINT)
            _, errors = process.communicate(timeout=30)
        finally:
            stop.set()
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130 and errors.strip() == "mockfabric: interrupted", errors[-2000:]


@pytest.mark.slow
def test_a_report_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    with MockFabric() as fabric:
        result = verify(fabric.base_url, tmp_path, "--html", "/dev/full", "--read-only")
    refused_in_one_line(result, "cannot write /dev/full")
