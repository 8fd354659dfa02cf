"""Traffic through the proxy to a served emulator: the official SDK's flow with AK/SK signed again by the proxy,
streamed and plain invocations and error answers byte for byte as the upstream sent them, and a report without
findings; credentials never reach a recording or the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from huaweicloudsdkdataartsfabric.v1 import (
    CreateWorkspaceRequest,
    CreateWorkspaceRequestInput,
    DeleteWorkspaceRequest,
    ListWorkspacesRequest,
)
from huaweicloudsdkdataartsfabricep.v1 import ListServicesInstancesRequest

from mockfabric import MockFabric

from ..sdk import test_sdk_operations as sdk_operations
from ..sdk.conftest import IDENTITIES, clients
from ..serving.flow import Deployed, deploy
from .running import RunningProxy

ALICE = IDENTITIES["credentials"][0]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockFabric]:
    path = tmp_path_factory.mktemp("identities") / "credentials.json"
    path.write_text(json.dumps(IDENTITIES))
    with MockFabric(auth="strict", credentials=str(path), seed=5, validate_responses=True) as fabric:
        yield fabric


@pytest.fixture
def proxy(upstream: MockFabric, tmp_path: Path) -> Iterator[RunningProxy]:
    settings = {"ak": ALICE["ak"], "sk": ALICE["sk"], "project_id": ALICE["project_id"], "record": str(tmp_path / "recorded")}
    (tmp_path / "recorded").mkdir()
    with RunningProxy(upstream.base_url, **settings) as running:
        yield running


def test_the_sdk_flow_passes_with_its_signature_made_again(proxy: RunningProxy, upstream: MockFabric) -> None:
    admin, ep = clients(proxy.url, ak="CLIENTAK0000", sk="client-secret-never-seen-upstream", project=ALICE["project_id"])
    created = admin.create_workspace(CreateWorkspaceRequest(body=CreateWorkspaceRequestInput(name="proxied-ws")))
    listed = admin.list_workspaces(ListWorkspacesRequest())
    assert created.id in [workspace.id for workspace in listed.workspaces]
    assert ep.list_services_instances(ListServicesInstancesRequest(workspace_id=created.id)).total == 0
    assert proxy.findings() == [] and proxy.report()["generated_requests"] == 3
    journal = upstream.requests()  # the upstream saw alice's signature, never the client's keys
    assert all("CLIENTAK0000" not in json.dumps(entry) for entry in journal)
    admin.delete_workspace(DeleteWorkspaceRequest(workspace_id=created.id))


def raw(url: str, path: str, body: dict[str, object] | None, token: str = "mockfabric-test-token") -> requests.Response:
    headers = {"X-Auth-Token": token}
    if body is None:
        return requests.get(url + path, headers=headers, timeout=30)
    return requests.post(url + path, json=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def deployed(upstream: MockFabric) -> Deployed:
    fabric = upstream.for_tenant(IDENTITIES["credentials"][3]["project_id"])
    flow = deploy(fabric)
    flow.session.headers["X-Auth-Token"] = "mockfabric-test-token"
    return flow


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": "hello"}], "stream": False},
        {"messages": [{"role": "user", "content": "hello"}], "stream": True, "stream_options": {"include_usage": True}},
    ],
)
def test_invocations_pass_byte_for_byte(proxy: RunningProxy, upstream: MockFabric, deployed: Deployed, body: dict[str, object]) -> None:
    path = deployed.invoke_url.removeprefix(upstream.base_url)
    upstream.seed(9)
    direct = raw(upstream.base_url, path, body)
    upstream.seed(9)  # the same ids and text again
    proxied = raw(proxy.url, path, body)
    assert (proxied.status_code, proxied.content) == (direct.status_code, direct.content) and direct.status_code == 200
    assert proxied.headers["Content-Type"] == direct.headers["Content-Type"]
    assert proxied.headers["X-Request-Id"] == deployed.fabric.requests(operation="InvokeModelService")[-1]["request_id"]
    assert proxy.findings() == []


def test_error_answers_pass_unchanged(proxy: RunningProxy, upstream: MockFabric, deployed: Deployed) -> None:
    missing = f"/v1/workspaces/{deployed.workspace}/endpoints/00000000000000000000000000000000"
    direct, proxied = raw(upstream.base_url, missing, None), raw(proxy.url, missing, None)
    assert (proxied.status_code, proxied.content) == (
        direct.status_code,
        direct.content,
    ) and direct.status_code == 400  # not found is a 400 (DOC)
    path = deployed.invoke_url.removeprefix(upstream.base_url)
    fault = {
        "X-Auth-Token": "mockfabric-test-token",
        "X-Mockfabric-Fault": '{"status": 500, "error_code": "common.00000500", "error_msg": "broken"}',
    }
    refused = requests.post(proxy.url + path, json={"messages": [{"role": "user", "content": "hi"}]}, headers=fault, timeout=30)
    assert refused.status_code == 500 and refused.json() == {"error_code": "common.00000500", "error_msg": "broken"}
    assert proxy.findings() == []
    statuses = proxy.report()["operations"]["InvokeModelService"]["statuses"]
    assert statuses == {"500": 1}


def test_recordings_and_the_report_hold_no_credential(proxy: RunningProxy, deployed: Deployed, upstream: MockFabric) -> None:
    path = deployed.invoke_url.removeprefix(upstream.base_url)
    assert raw(proxy.url, path, {"messages": [{"role": "user", "content": "hi"}], "stream": True}).status_code == 200
    admin, _ = clients(proxy.url, ak="CLIENTAK0000", sk="client-secret-never-seen-upstream", project=ALICE["project_id"])
    admin.list_workspaces(ListWorkspacesRequest())
    folder = Path(proxy.server.settings.record or "")
    written = "".join(path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.json")))
    assert written.count('"format": "mockfabric-recording/1"') == 2
    secrets = ["mockfabric-test-token", ALICE["sk"], "client-secret-never-seen-upstream"]
    for secret in secrets:
        assert secret not in written and secret not in json.dumps(proxy.report())
    assert sorted(path.name for path in folder.glob("*.json")) == ["000001-InvokeModelService.json", "000002-ListWorkspaces.json"]


def test_the_sdk_suites_whole_flow_passes_with_no_finding(proxy: RunningProxy, upstream: MockFabric) -> None:
    """tests/sdk's seed flow and every operation, the SDK pointed at the proxy (the clock still moved on the emulator)."""

    class ThroughProxy:
        base_url = proxy.url

        def __getattr__(self, name: str) -> object:
            return getattr(upstream, name)

    sdk_operations.test_seed_flow_and_every_operation(ThroughProxy())  # type: ignore[arg-type]
    assert proxy.findings() == [] and proxy.report()["generated_requests"] >= 20  # the flow: 21 requests
