"""`mockfabric serve` as a user runs it: a subprocess that prints its URL, serves, and stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import mockfabric

MOCKFABRIC = [sys.executable, "-m", "mockfabric"]
SERVE = [*MOCKFABRIC, "serve"]


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


BAD_CATALOGS = {
    "malformed.yaml": "specs: [unclosed",
    "unknown.yaml": "specs: []\nbase_modles: []\n",
    "scalar.yaml": "just text",
    "items.yaml": "specs: [1, 2]",
}


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["serve", "--workers", "2"], {}, "workers must be 1"),
        (["serve", "--lifecycle", "endpoint=sometimes"], {}, "policy must be one of"),
        (["serve", "--lifecycle", "sometimes"], {}, "policy must be one of"),
        (["serve", "--lifecycle", "gpu=instant"], {}, "'gpu' is not a kind"),
        (["serve", "--lifecycle", "time:soon"], {}, "is not a number"),
        (["serve", "--lifecycle", ","], {}, "lifecycle is empty"),
        (["serve", "--validate-responses", "maybe"], {}, "expected true/false"),
        (["serve", "--port", "abc"], {}, "expected a whole number"),
        (["serve", "--port", "70000"], {}, "port must be 0..65535"),
        (["serve", "--threads", "0"], {}, "threads must be at least 1"),
        (["serve", "--shutdown-timeout", "soon"], {}, "expected a number"),
        (["serve", "--auth", "maybe"], {}, "invalid choice"),
        (["serve", "--journal-bytes", "10"], {}, "journal-bytes must be at least"),
        (["serve", "--allowed-hosts", "http://x/"], {}, "allowed hosts must be"),
        (["serve", "--catalog", "/nonexistent/catalog.yaml"], {}, "cannot read it"),
        (["serve", "--catalog", "{malformed.yaml}"], {}, "not valid YAML"),
        (["serve", "--catalog", "{unknown.yaml}"], {}, "unknown key(s) base_modles"),
        (["serve", "--catalog", "{scalar.yaml}"], {}, "expected a mapping"),
        (["serve", "--catalog", "{items.yaml}"], {}, "specs must be a list of mappings"),
        (["serve", "--state-file", "/nonexistent/dir/s.json"], {}, "does not exist"),
        (["serve", "--credentials", "/nonexistent/credentials.json"], {}, "credentials"),
        (["serve", "--auth", "strict"], {}, "needs a credentials file"),
        (["serve", "--bogus"], {}, "unrecognized arguments"),
        (["serve"], {"MOCKFABRIC_PORT": "not-a-port"}, "MOCKFABRIC_PORT"),
        (["serve"], {"MOCKFABRIC_VALIDATE_RESPONSES": "yes"}, "MOCKFABRIC_VALIDATE_RESPONSES"),
        (["serve"], {"MOCKFABRIC_LIFECYCLE": "bogus"}, "MOCKFABRIC_LIFECYCLE"),
        (["serve"], {"MOCKFABRIC_SHUTDOWN_TIMEOUT": "nan"}, "finite"),
        (["serve"], {"MOCKFABRIC_SEED": "abc"}, "MOCKFABRIC_SEED"),
        (["verify", "--base-url", "127.0.0.1:8080", "--token", "t"], {}, "is not an http(s)://host[:port] URL"),
        (["verify", "--base-url", "http://127.0.0.1:1", "--token", "t", "--report", "/nonexistent/dir/r.json"], {}, "does not exist"),
        (["verify", "--base-url", "http://127.0.0.1:1", "--token", "t", "--max-examples", "0"], {}, "--max-examples must be 1..10000"),
        (["verify", "--base-url", "http://127.0.0.1:1", "--token", "t", "--max-examples", "x"], {}, "expected a whole number"),
        (["verify", "--token", "t"], {}, "--base-url"),
        (["diff", "/nonexistent/a.json", "/nonexistent/b.json"], {}, "cannot read /nonexistent/a.json"),
        (["diff", "{scalar.yaml}", "{scalar.yaml}"], {}, "is not a JSON drift report"),
        (["nonsense"], {}, "invalid choice"),
    ],
)
def test_bad_flags_env_values_and_files_are_one_line_and_exit_2(args: list[str], env: dict[str, str], needle: str, tmp_path: Path) -> None:
    for name, content in BAD_CATALOGS.items():
        (tmp_path / name).write_text(content)
    argv = [arg.replace("{", str(tmp_path) + "/").replace("}", "") if arg.startswith("{") else arg for arg in args]
    if argv[0] == "serve":
        argv += ["--port", "0"] if "--port" not in argv else []
    result = subprocess.run([*MOCKFABRIC, *argv], capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert needle in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("mockfabric"), result.stderr
    assert "serving on" not in result.stdout


def test_lifecycle_policies_apply_to_every_kind_or_one() -> None:
    from mockfabric.config import Progression, parse_lifecycle

    assert parse_lifecycle("instant") == {kind: Progression("instant") for kind in ("endpoint", "service_instance", "job_run")}
    assert parse_lifecycle("time:3")["service_instance"] == Progression("time", seconds=3.0)
    mixed = parse_lifecycle("endpoint=manual, polls:4")  # per-kind entries win whatever their order
    assert mixed == {
        "endpoint": Progression("manual"),
        "service_instance": Progression("polls", polls=4),
        "job_run": Progression("polls", polls=4),
    }


def test_version_and_help_show_what_a_user_needs() -> None:
    version = subprocess.run([*MOCKFABRIC, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"mockfabric {mockfabric.__version__}"
    helped = subprocess.run([*MOCKFABRIC, "verify", "--help"], capture_output=True, text=True, timeout=60)
    verify_help = " ".join(helped.stdout.split())
    assert "(default: 25)" in verify_help and "(default: 600.0)" in verify_help and "mockfabric[verify]" in verify_help
    assert "half or more of all answers" in verify_help  # the threshold of a run that did not reach the service


@pytest.mark.parametrize(
    "command", [["serve"], ["verify"], ["proxy"], ["diff"], ["fixtures", "check"], ["fixtures", "from-journal"], ["operations"]]
)
def test_no_help_page_claims_a_default_of_none(command: list[str]) -> None:
    helped = subprocess.run([*MOCKFABRIC, *command, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    assert "default: None" not in " ".join(helped.stdout.split())


def test_the_banner_names_the_seed_it_picked_and_that_seed_repeats_the_run() -> None:
    def first_id(*args: str) -> tuple[str, str]:
        process = subprocess.Popen([*SERVE, "--port", "0", *args], stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            url = banner.split("serving on ", 1)[1].split()[0]
            created = requests.post(f"{url}/v1/workspaces", json={"name": "seeded"}, headers={"X-Auth-Token": "t"}, timeout=10)
            return re.search(r"; seed (\d+);", banner).group(1), created.json()["id"]  # type: ignore[union-attr]
        finally:
            process.terminate()
            process.communicate(timeout=15)

    seed, workspace_id = first_id()
    assert first_id("--seed", seed) == (seed, workspace_id)


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


def test_a_closed_output_pipe_does_not_turn_a_clean_stop_into_a_traceback() -> None:
    process = subprocess.Popen([*SERVE, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    try:
        assert "serving on" in process.stdout.readline()
        process.stdout.close()  # whoever started it stopped reading (a closed pipe, a finished `| head`)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        stderr = process.stderr.read()
        assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)
        process.stderr.close()


@pytest.mark.parametrize(
    ("args", "page"),
    [
        (["serve", "--por", "0"], "mockfabric serve --help"),  # an abbreviation used to be taken for --port
        (["serve", "--strict", "1", "--port", "0"], "mockfabric serve --help"),  # ... and this for --strict-fixtures
        (["serve", "--prot", "9000"], "mockfabric serve --help"),
        (["verify", "--base-url", "http://127.0.0.1:9", "--seeds", "3"], "mockfabric verify --help"),
        (["fixtures", "check", "x.yaml", "--bogus"], "mockfabric fixtures check --help"),
    ],
)
def test_an_abbreviated_or_unknown_flag_is_refused_naming_the_subcommands_help(args: list[str], page: str) -> None:
    refused = subprocess.run([*MOCKFABRIC, *args], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and refused.stdout == "", (refused.stdout, refused.stderr)
    assert refused.stderr.count("\n") == 1 and "unrecognized arguments" in refused.stderr and f"(see {page})" in refused.stderr


@pytest.mark.parametrize(
    ("args", "flag"),
    [(["verify", "--base-u", "http://127.0.0.1:1"], "--base-u"), (["--vers"], "--vers"), (["fixtures", "check", "--hel"], "--hel")],
)
def test_a_mistyped_flag_is_named_even_when_a_required_one_is_missing(args: list[str], flag: str) -> None:
    refused = subprocess.run([*MOCKFABRIC, *args], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and f"unrecognized arguments: {flag} " in refused.stderr, refused.stderr


@pytest.mark.parametrize("value", ["bogus", "WARNING", ""])
def test_a_choice_setting_from_the_environment_is_checked_like_the_flag(value: str) -> None:
    refused = subprocess.run(
        [*SERVE, "--port", "0"], capture_output=True, text=True, timeout=60, env={**os.environ, "MOCKFABRIC_LOG_LEVEL": value}
    )
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "log-level must be one of" in refused.stderr, refused.stderr
