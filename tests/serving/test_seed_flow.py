"""The seed inference flow, verbatim, over a real socket on the production server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mockfabric import MockFabric

from ..helpers import SEED_ENDPOINT, SEED_MODEL, SEED_WORKSPACE, seed_deploy


@pytest.fixture
def fabric() -> Iterator[MockFabric]:
    with MockFabric(validate_responses=True) as handle:
        yield handle


def test_seed_flow_over_a_socket(fabric: MockFabric) -> None:
    session = requests.Session()
    session.headers.update(fabric.headers)
    url = fabric.base_url
    workspace = session.post(f"{url}/v1/workspaces", json=SEED_WORKSPACE)
    assert workspace.status_code == 200 and workspace.headers["X-Request-Id"]
    ws = workspace.json()["id"]
    endpoint = session.post(f"{url}/v1/workspaces/{ws}/endpoints", json=SEED_ENDPOINT).json()
    assert endpoint["status"] == "CREATING"
    fabric.advance(5)
    assert session.get(f"{url}/v1/workspaces/{ws}/endpoints/{endpoint['id']}").json()["status"] == "RUNNING"
    model = session.post(f"{url}/v1/workspaces/{ws}/models", json=SEED_MODEL).json()
    instance = session.post(f"{url}/v1/workspaces/{ws}/services/instances", json=seed_deploy(model["id"], endpoint["id"]))
    assert instance.status_code == 200
    fabric.advance(5)
    detail = session.get(f"{url}/v1/workspaces/{ws}/services/instances/{instance.json()['id']}").json()
    assert detail["status"] == "RUNNING" and detail["endpoint_id"] == endpoint["id"]


def test_each_handle_is_a_tenant_of_its_own(fabric: MockFabric) -> None:
    other = fabric.for_tenant()
    requests.post(f"{fabric.base_url}/v1/workspaces", json=SEED_WORKSPACE, headers=fabric.headers).raise_for_status()
    assert requests.get(f"{fabric.base_url}/v1/workspaces", headers=other.headers).json()["total"] == 0
    fabric.reset()
    assert requests.get(f"{fabric.base_url}/v1/workspaces", headers=fabric.headers).json()["total"] == 0
