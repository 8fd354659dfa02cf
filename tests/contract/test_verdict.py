"""verify's verdict over a served emulator: a run that did not reach the service never says "conforms" (issue 27)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockfabric import MockFabric
from mockfabric.testing.drift import answer_class


def verify(url: str, folder: Path, *more: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mockfabric", "verify", "--base-url", url, "--token", "t0k3n-verdict", "--max-examples", "1"]
    command += ["--no-stateful", "--seed", "3", "--report", str(folder / "report.json"), "--junit-xml", str(folder / "junit.xml"), *more]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=folder)


@pytest.fixture(scope="module")
def fabric() -> MockFabric:
    with MockFabric() as served:
        yield served  # type: ignore[misc]


def test_a_wrong_base_url_path_fails_saying_no_such_api(fabric: MockFabric, tmp_path: Path) -> None:
    result = verify(fabric.base_url + "/v1", tmp_path)
    assert result.returncode == 2, result.stdout[-1500:] + result.stderr[-1500:]
    assert "no such API" in result.stderr and "--base-url's path" in result.stderr and "conforms" not in result.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["conformed"] is False and "no such API" in report["unreached"]
    assert 'type="unreached"' in (tmp_path / "junit.xml").read_text(encoding="utf-8")


def test_a_target_failing_every_request_fails_saying_so(fabric: MockFabric, tmp_path: Path) -> None:
    fabric.fault(tenant=None, status=503)
    try:
        result = verify(fabric.base_url, tmp_path)
    finally:
        assert requests.delete(f"{fabric.base_url}/_mockfabric/faults", timeout=10).status_code == 200  # every tenant's rules
    assert result.returncode == 2 and "server-error" in result.stderr and "conforms" not in result.stdout, result.stderr[-1500:]


def test_one_operation_never_reached_is_not_a_pass(fabric: MockFabric, tmp_path: Path) -> None:
    fabric.fault(tenant=None, operation="ListWorkspaces", status=404, error_code="APIG.0101", error_msg="no such API")
    try:
        result = verify(fabric.base_url, tmp_path)
    finally:
        assert requests.delete(f"{fabric.base_url}/_mockfabric/faults", timeout=10).status_code == 200  # every tenant's rules
    assert result.returncode == 2 and "never got an answer" in result.stderr and "ListWorkspaces" in result.stderr, result.stderr[-1500:]


def test_a_run_that_reached_the_service_conforms_and_says_how_many_operations(fabric: MockFabric, tmp_path: Path) -> None:
    result = verify(fabric.base_url, tmp_path)
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    assert "operations answered by the service: conforms" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["conformed"] is True and report["unreached"] is None
    assert all(op["answers"].get("service") for op in report["operations"].values() if op["answers"])


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, b"{}", "service"),
        (400, b'{"error_code": "dataartsfabric.00010001", "error_msg": "x"}', "service"),
        (404, b'{"error_code": "dataartsfabric.00040404", "error_msg": "no workspace"}', "service"),
        (404, b'{"error_code": "APIG.0101", "error_msg": "The API does not exist"}', "no-such-api"),
        (404, b"<html>Not Found</html>", "no-such-api"),
        (401, b'{"error_code": "APIG.1002", "error_msg": "x"}', "refused"),
        (403, b"", "refused"),
        (502, b"bad gateway", "server-error"),
        (400, b"plain text", "other"),
        (400, b"[" * 100_000, "other"),
    ],
)
def test_answers_are_classed(status: int, body: bytes, kind: str) -> None:
    assert answer_class(status, body) == kind


@pytest.fixture(scope="module")
def strict_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mockfabric serve --auth strict` with a token and an AK/SK pair, each of project p1."""
    folder = tmp_path_factory.mktemp("strict")
    credentials = folder / "credentials.json"
    identities = [{"token": "the-right-token", "project_id": "p1"}, {"ak": "AKVERDICT1", "sk": "sk-verdict", "project_id": "p1"}]
    credentials.write_text(json.dumps({"credentials": identities}), encoding="utf-8")
    command = [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--auth", "strict", "--credentials", str(credentials)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().split("serving on ", 1)[1].split()[0]
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=15)


@pytest.mark.parametrize(
    "credential",
    [("--token", "the-right-token"), ("--token", "the-right-token", "--project-id", "p1"), ("--ak", "AKVERDICT1", "--sk", "sk-verdict")],
    ids=["token", "token-and-its-project", "ak-sk"],
)
def test_verify_respects_a_credential_whose_project_is_fixed(strict_url: str, tmp_path: Path, credential: tuple[str, ...]) -> None:
    command = [sys.executable, "-m", "mockfabric", "verify", "--base-url", strict_url, *credential, "--max-examples", "1"]
    command += ["--seed", "3", "--report", str(tmp_path / "report.json")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2500:] + result.stderr[-2500:]
    assert "operations answered by the service: conforms" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    refused = sum(op["answers"].get("refused", 0) for op in report["operations"].values())
    service = sum(op["answers"].get("service", 0) for op in report["operations"].values())
    assert service > 100 and refused < service / 10, (refused, service)  # 401s only where the contract's negative cases ask
    if "--project-id" not in credential:
        assert "the credential's project is fixed" in result.stdout
    listed = requests.get(f"{strict_url}/v1/workspaces?limit=100", headers={"X-Auth-Token": "the-right-token"}, timeout=10).json()
    assert [w for w in listed["workspaces"] if w["status"] != "DELETING"] == []  # what the run created in p1 is gone


@pytest.mark.parametrize(
    ("status", "body", "content_type", "documented", "kind"),
    [
        (200, b'{"workspaces": []}', "application/json", (), "service"),
        (200, b"data: {}\n\n", "text/event-stream; charset=utf-8", (), "service"),
        (200, b"<html>", "text/html", (), "other"),  # a web server's page, not the service's success
        (200, b"OK", "text/plain", ("text/plain",), "service"),  # ... unless the operation documents it (the health check)
        (200, b"\x00\xffgarbage{{{", "application/json", (), "other"),  # JSON in name only
        (200, b"<html>", "application/json; charset=x", (), "other"),
        (200, b"{}", "application/jsonp", (), "other"),
        (200, b"", "", ("application/json",), "other"),  # nothing where a body is documented
        (200, b"", "", (), "service"),  # nothing where nothing is documented
        (301, b"", "text/html", (), "other"),  # verify follows no redirect: the service sends none
        (429, b"{}", "application/json", (), "throttled"),
    ],
)
def test_successes_are_the_services_only_in_its_media_types(
    status: int, body: bytes, content_type: str, documented: tuple[str, ...], kind: str
) -> None:
    assert answer_class(status, body, content_type, documented) == kind
