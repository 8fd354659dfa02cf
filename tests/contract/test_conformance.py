"""The emulator conforms to its contract, in-process and over a real socket (`mockfabric serve`)."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import pytest

from mockfabric.testing.drift import summary_table
from mockfabric.testing.harness import Harness
from mockfabric.testing.targets import Target, in_process

from .conftest import EXAMPLES, GENERATED, LIVE_EXAMPLES


def conforms(harness: Harness, record: Any) -> None:
    report = harness.run()
    record(GENERATED, report.total_requests)
    details = "\n".join(f"[{f.operation}] {f.check}: {f.title}\n{f.message}\nrequest: {f.request}" for f in report.findings)
    assert report.passed, summary_table(report) + "\n\n" + details
    skipped = [name for name, result in report.operations.items() if result.skipped]
    assert skipped == [] and all(result.requests for result in report.operations.values())


@pytest.mark.slow
def test_in_process_app_conforms(instant_app: Any, record_property: Any) -> None:
    conforms(Harness(in_process(instant_app), max_examples=EXAMPLES, seed=7, allow_billable=True), record_property)


@pytest.mark.slow
def test_live_server_conforms(record_property: Any) -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockfabric",
            "serve",
            "--port",
            "0",
            "--validate-responses",
            "true",
            "--lifecycle",
            "endpoint=instant,service_instance=instant",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("serving on ", 1)[1].split()[0]
        target = Target(kind="emulator", admin_url=url, ep_url=url, token="harness", tenant="mfv-live")
        conforms(Harness(target, max_examples=LIVE_EXAMPLES, seed=8, allow_billable=True, wait_timeout=30), record_property)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0
        server.communicate(timeout=5)


def test_read_only_mode_sends_only_gets(instant_app: Any) -> None:
    report = Harness(in_process(instant_app), max_examples=3, seed=1, read_only=True).run()
    assert report.passed
    assert {r.method for r in report.operations.values() if r.requests} == {"GET"}
    assert all(r.skipped == "read-only run" for r in report.operations.values() if r.method != "GET")
    assert "stateful (links)" not in report.operations


def test_billable_operations_need_the_opt_in(instant_app: Any) -> None:
    report = Harness(
        in_process(instant_app), max_examples=2, seed=1, stateful=False, only={"CreateEndpoint", "InvokeModelService", "ListWorkspaces"}
    ).run()
    assert (
        report.operations["CreateEndpoint"].skipped == report.operations["InvokeModelService"].skipped == "billable (pass --allow-billable)"
    )
    assert report.operations["ListWorkspaces"].requests > 0
