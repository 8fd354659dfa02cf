"""The MockFabric context manager: quick to start, leaves nothing behind, and connects to emulators elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from mockfabric import MockFabric
from mockfabric.testing.fabric import ControlError


def open_sockets() -> int:
    fds = os.listdir("/proc/self/fd")
    return sum(1 for fd in fds if os.path.exists(f"/proc/self/fd/{fd}") and os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"))


def test_starts_fast_and_leaves_no_thread_or_socket_behind() -> None:
    with MockFabric():  # warm up: the contract is parsed once per process
        pass
    threads, sockets = {t.ident for t in threading.enumerate()}, open_sockets()
    started = time.perf_counter()
    with MockFabric() as fabric:
        elapsed = time.perf_counter() - started
        assert requests.get(f"{fabric.base_url}/healthcheck", timeout=5).text == "OK"
    assert elapsed < 1.0, elapsed
    assert {t.ident for t in threading.enumerate()} == threads
    assert open_sockets() == sockets


def test_handle_methods_drive_the_emulator() -> None:
    with MockFabric() as fabric:
        session = requests.Session()
        session.headers.update(fabric.headers)
        ws = session.post(f"{fabric.base_url}/v1/workspaces", json={"name": "handle-ws"}).json()["id"]
        fabric.fail("ListWorkspaces", status=503, times=1)
        assert session.get(f"{fabric.base_url}/v1/workspaces").status_code == 503
        assert session.get(f"{fabric.base_url}/v1/workspaces").status_code == 200
        assert [e["operation"] for e in fabric.requests()] == ["CreateWorkspace", "ListWorkspaces", "ListWorkspaces"]
        assert [e["status"] for e in fabric.requests(operation="ListWorkspaces")] == [503, 200]
        state = fabric.export_state()
        fabric.reset()
        assert session.get(f"{fabric.base_url}/v1/workspaces").json()["total"] == 0
        fabric.import_state(state)
        assert session.get(f"{fabric.base_url}/v1/workspaces").json()["workspaces"][0]["id"] == ws
        before = fabric.now()
        assert fabric.advance(10) == before + 10
        with pytest.raises(ControlError) as failure:
            fabric.force_status("endpoint", "f" * 32, "RUNNING")
        assert failure.value.status == 400 and failure.value.body["error_code"] == "dataartsfabric.00010009"


def test_connect_to_an_emulator_elsewhere_with_a_control_token() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--control-token", "tok"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split("serving on ", 1)[1].split()[0]
        with pytest.raises(ControlError) as refused:
            MockFabric.connect(url)
        assert refused.value.status == 401
        fabric = MockFabric.connect(url, control_token="tok")
        requests.post(f"{url}/v1/workspaces", json={"name": "remote-ws"}, headers=fabric.headers, timeout=10).raise_for_status()
        fabric.freeze()
        assert fabric.requests()[0]["operation"] == "CreateWorkspace"
        assert fabric.for_tenant().requests() == []
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        process.communicate(timeout=5)


def test_the_handle_scripts_a_job_runs_end_and_sets_an_endpoints_quota() -> None:
    with MockFabric(lifecycle="instant") as fabric:
        session = requests.Session()
        session.headers.update(fabric.headers)
        base = fabric.base_url
        ws = session.post(f"{base}/v1/workspaces", json={"name": "handle-ws"}).json()["id"]
        endpoint = session.post(f"{base}/v1/workspaces/{ws}/endpoints", json={"name": "ep", "type": "inference"}).json()["id"]
        job = session.post(
            f"{base}/v1/workspaces/{ws}/jobs", json={"name": "j", "type": "RAY_JOB", "version": {"name": "v1", "config": {}}}
        ).json()
        assert fabric.script_run(job["id"], "FAILED", seconds=5, error_msg="lost a worker") == 1
        run = session.post(
            f"{base}/v1/workspaces/{ws}/jobs/runs",
            json={"job": {"id": job["id"], "version_id": job["version_id"]}, "name": "r", "endpoint_id": endpoint},
        ).json()["id"]
        assert session.get(f"{base}/v1/workspaces/{ws}/jobs/runs/{run}").json()["status"] == "RUNNING"  # instant, then its 5 s
        fabric.advance(5)
        shown = session.get(f"{base}/v1/workspaces/{ws}/jobs/runs/{run}").json()
        assert (shown["status"], shown["error_msg"]) == ("FAILED", "lost a worker")
        assert fabric.set_quota(endpoint, total=5, used=5)["used"] == 5
        with pytest.raises(ControlError):
            fabric.script_run(job["id"], "PENDING")
