"""`mockfabric proxy` as users run it: the first line says where it listens, SIGTERM writes the report and
`--fail-on-drift` makes the exit status 1; bad flags and hostile clients get one clear line or the service's error
body, and the proxy serves on."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from mockfabric import MockFabric

from .running import RunningProxy

PROXY = [sys.executable, "-m", "mockfabric", "proxy"]


def test_sigterm_writes_the_report_and_drift_fails_the_run(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    with MockFabric() as upstream:
        process = subprocess.Popen(
            [*PROXY, "--upstream", upstream.base_url, "--port", "0", "--report", str(report), "--fail-on-drift"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("mockfabric proxy on http://127.0.0.1:"), first
        url = first.split()[3]
        refused = requests.post(f"{url}/v1/workspaces", json={"name": 5}, headers=upstream.headers, timeout=10)
        assert refused.status_code == 400  # the upstream's answer, passed on
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 1, (out, err)
    assert "drift: CreateWorkspace POST /v1/workspaces -> 400: Request body violates schema" in err
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["format"] == "mockfabric-drift-report/1" and written["operations"]["CreateWorkspace"]["requests"] == 1
    compared = subprocess.run(
        [sys.executable, "-m", "mockfabric", "diff", str(report), str(report)], capture_output=True, text=True, timeout=60
    )
    assert compared.returncode == 0 and "the reports agree" in compared.stdout


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--upstream", "ftp://x"], "--upstream 'ftp://x' is not an http(s)://host[:port] URL"),
        (["--upstream", "http://x", "--host", "0.0.0.0"], "is not a loopback address"),
        (["--upstream", "http://x", "--ak", "A"], "--ak and --sk go together"),
        (["--upstream", "http://x", "--ak", "A", "--sk", "S", "--token", "T"], "give --token or --ak/--sk, not both"),
        (["--upstream", "http://x", "--port", "70000"], "--port must be 0..65535"),
        (["--upstream", "http://x", "--read-timeout", "0"], "--read-timeout must be more than 0"),
        (["--upstream", "http://x", "--read-timeout", "soon"], "--read-timeout"),
    ],
)
def test_bad_flags_are_one_line(flags: list[str], message: str) -> None:
    failed = subprocess.run([*PROXY, *flags], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2 and message in failed.stderr and len(failed.stderr.strip().splitlines()) == 1, failed.stderr


def test_a_proxy_that_cannot_listen_makes_no_recording_folder(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        folder = tmp_path / "recorded"
        failed = subprocess.run(
            [*PROXY, "--upstream", "http://x", "--port", port, "--record", str(folder)], capture_output=True, text=True, timeout=60
        )
    assert failed.returncode == 2 and "cannot listen on 127.0.0.1:" in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
    assert not folder.exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_hostile_requests_get_the_service_error_body_and_the_proxy_serves_on(tmp_path: Path) -> None:
    with MockFabric() as upstream, RunningProxy(upstream.base_url, read_timeout=0.5) as proxy:
        headers = upstream.headers
        huge = requests.post(f"{proxy.url}/v1/workspaces", data=b"x" * (13 * 1024 * 1024), headers=headers, timeout=30)
        assert huge.status_code == 413 and huge.json()["error_code"] == "APIG.0201"
        foreign = requests.get(f"{proxy.url}/v1/workspaces", headers={**headers, "Origin": "http://evil.example"}, timeout=10)
        assert foreign.status_code == 403 and "cross-site" in foreign.json()["error_msg"]
        rebound = requests.get(f"{proxy.url}/v1/workspaces", headers={**headers, "Host": "evil.example"}, timeout=10)
        assert rebound.status_code == 403 and rebound.json()["error_code"] == "common.01000403"
        with socket.create_connection(("127.0.0.1", int(proxy.url.rsplit(":", 1)[1])), timeout=10) as slow:
            slow.sendall(b"POST /v1/workspaces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
            assert b" 408 " in slow.recv(4096).split(b"\r\n", 1)[0] + b" "
        with socket.create_connection(("127.0.0.1", int(proxy.url.rsplit(":", 1)[1])), timeout=10) as leaving:
            leaving.sendall(b"GET /v1/workspaces HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: t\r\n\r\n")  # and goes
        assert requests.get(f"{proxy.url}/v1/workspaces", headers=headers, timeout=10).status_code == 200
    with RunningProxy(f"http://127.0.0.1:{free_port()}") as nowhere:
        down = requests.get(f"{nowhere.url}/v1/workspaces", headers={"X-Auth-Token": "t"}, timeout=30)
        assert down.status_code == 502 and down.json()["error_code"] == "mockfabric.00000502"
        assert "did not answer: ConnectError" in down.json()["error_msg"]


def test_a_reader_that_takes_nothing_loses_its_stream_and_is_no_finding() -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "word " * 50_000}], "max_tokens": 32768}).encode()
    with MockFabric(completion_mode="echo", lifecycle="instant") as upstream, RunningProxy(upstream.base_url, read_timeout=0.5) as proxy:
        from ..serving.flow import deploy

        flow = deploy(upstream)
        upstream.set_quota(flow.endpoint, total=10**12)
        path = flow.invoke_url.removeprefix(upstream.base_url)
        port = int(proxy.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            extra = "".join(f"{k}: {v}\r\n" for k, v in upstream.headers.items())
            stalled.sendall((head + extra + "\r\n").encode() + body)
            deadline = time.monotonic() + 20
            while proxy.report()["operations"]["InvokeModelService"]["requests"] == 0:  # the cut stream is counted once over
                assert time.monotonic() < deadline, "the stalled stream was not cut within 20 s"
                threading.Event().wait(0.05)
            assert requests.get(f"{proxy.url}/v1/workspaces", headers=upstream.headers, timeout=10).status_code == 200
        assert proxy.findings() == []


def test_without_credential_flags_the_sdks_variables_sign(tmp_path: Path) -> None:
    from huaweicloudsdkdataartsfabric.v1 import ListWorkspacesRequest

    from ..sdk.conftest import IDENTITIES, clients

    alice = IDENTITIES["credentials"][0]
    (tmp_path / "identities.json").write_text(json.dumps(IDENTITIES))
    variables = {"HUAWEICLOUD_SDK_AK": alice["ak"], "HUAWEICLOUD_SDK_SK": alice["sk"], "HUAWEICLOUD_SDK_PROJECT_ID": alice["project_id"]}
    with MockFabric(auth="strict", credentials=str(tmp_path / "identities.json")) as upstream:
        process = subprocess.Popen(
            [*PROXY, "--upstream", upstream.base_url, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **variables},
        )
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split()[3]
            admin, _ = clients(url, ak="SOMEONEELSE01", sk="unknown-upstream", project=alice["project_id"])
            assert admin.list_workspaces(ListWorkspacesRequest()).total == 0  # signed again with alice's keys
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        assert alice["sk"] not in out + err


def test_header_bytes_of_any_charset_pass_as_they_came() -> None:
    with MockFabric() as upstream, RunningProxy(upstream.base_url) as proxy:
        port = int(proxy.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            head = "GET /v1/workspaces HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: t\r\nConnection: close\r\n"
            client.sendall(head.encode() + "User-Agent: café-client\r\n\r\n".encode())
            answer = b""
            while piece := client.recv(65536):
                answer += piece
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
        journaled = requests.get(f"{upstream.base_url}/_mockfabric/requests", params={"operation": "ListWorkspaces"}, timeout=10).json()
        assert [entry["headers"]["User-Agent"] for entry in journaled["requests"]] == [
            "café-client".encode().decode("latin-1")
        ]  # the same bytes (shown as WSGI reads them)
