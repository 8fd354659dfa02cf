"""Under `--auth strict` without a control token, a tenant's verified credential may drive the control API for its own
tenant only: another tenant's journal, state, fault rules and resources are out of its reach (403), and so is
anything acting on the whole server (clock and seed changes, lifecycle policies, fixtures, a reset of everyone).
With the control token, everything as before. Two tenants' real credentials against a served emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mockfabric import MockFabric, create_app
from mockfabric.config import Settings
from mockfabric.contracts import control_contract
from mockfabric.fixture.controls import FILTERED_FOR_TENANTS, OPEN_TO_TENANTS, TENANT_NAMED_IN
from mockfabric.testing.server import ThreadedServer

ALICE, BOB = "project-alice", "project-bob"
IDENTITIES = {
    "credentials": [
        {"token": "alice-token", "project_id": ALICE, "user_name": "alice"},
        {"token": "bob-token", "project_id": BOB, "user_name": "bob"},
    ]
}
FORBIDDEN = "common.01000403"


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tenants") / "credentials.json"
    path.write_text(json.dumps(IDENTITIES))
    return path


@pytest.fixture(scope="module")
def served(credentials: Path) -> Iterator[str]:
    settings = Settings(auth="strict", credentials=str(credentials))  # no control token
    assert settings.control_token is None
    with ThreadedServer(create_app(settings), settings) as server:
        yield server.base_url


class Caller:
    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.headers = {"X-Auth-Token": token} if token else {}

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> requests.Response:
        return requests.request(method, self.base_url + path, json=body, params=query, headers=self.headers, timeout=10)

    def ok(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        reply = self.call(method, path, body, **query)
        assert reply.status_code in (200, 201, 204), (method, path, reply.status_code, reply.text)
        return reply.json() if reply.content else None

    def forbidden(self, method: str, path: str, body: Any = None, **query: Any) -> str:
        reply = self.call(method, path, body, **query)
        assert reply.status_code == 403, (method, path, reply.status_code, reply.text)
        assert reply.json()["error_code"] == FORBIDDEN
        message: str = reply.json()["error_msg"]
        return message


@pytest.fixture
def alice(served: str) -> Iterator[Caller]:
    caller = Caller(served, "alice-token")
    caller.ok("POST", "/v1/workspaces", {"name": "alices-ws"})
    yield caller
    caller.ok("POST", "/_mockfabric/reset", {"tenant": ALICE})


@pytest.fixture
def bob(served: str) -> Iterator[Caller]:
    caller = Caller(served, "bob-token")
    caller.ok("POST", "/v1/workspaces", {"name": "bobs-ws"})
    yield caller
    caller.ok("POST", "/_mockfabric/reset", {"tenant": BOB})


def workspace_names(caller: Caller) -> list[str]:
    return [w["name"] for w in caller.ok("GET", "/v1/workspaces")["workspaces"]]


def test_a_tenant_reads_only_its_own_journal(alice: Caller, bob: Caller) -> None:
    entries = bob.ok("GET", "/_mockfabric/requests")["requests"]
    assert entries and {entry["tenant"] for entry in entries} == {BOB}
    assert "not your tenant" in bob.forbidden("GET", "/_mockfabric/requests", tenant=ALICE)
    assert {e["tenant"] for e in bob.ok("GET", "/_mockfabric/requests", tenant=BOB)["requests"]} == {BOB}


def test_a_tenant_cannot_clear_another_tenants_journal(alice: Caller, bob: Caller) -> None:
    bob.forbidden("DELETE", "/_mockfabric/requests", tenant=ALICE)
    assert "control token" in bob.forbidden("DELETE", "/_mockfabric/requests")  # every tenant's: not a tenant's to do
    assert alice.ok("GET", "/_mockfabric/requests")["total"] >= 1
    assert bob.ok("DELETE", "/_mockfabric/requests", tenant=BOB)["removed"] >= 1


def test_a_tenant_exports_and_imports_only_its_own_state(alice: Caller, bob: Caller) -> None:
    state = bob.ok("GET", "/_mockfabric/state")
    assert list(state["tenants"]) == [BOB]
    bob.forbidden("GET", "/_mockfabric/state", tenant=ALICE)
    alices = alice.ok("GET", "/_mockfabric/state")
    assert "control token" in bob.forbidden("PUT", "/_mockfabric/state", alices)  # the whole server's state
    bob.forbidden("PUT", "/_mockfabric/state", alices, tenant=ALICE)
    assert bob.ok("PUT", "/_mockfabric/state", state, tenant=BOB) == {"tenant": BOB}
    assert workspace_names(alice) == ["alices-ws"]


def test_a_tenant_resets_only_its_own_tenant(alice: Caller, bob: Caller) -> None:
    assert "not your tenant" in bob.forbidden("POST", "/_mockfabric/reset", {"tenant": ALICE})
    assert "control token" in bob.forbidden("POST", "/_mockfabric/reset", {})
    assert workspace_names(alice) == ["alices-ws"]
    bob.ok("POST", "/_mockfabric/reset", {"tenant": BOB})
    assert workspace_names(bob) == [] and workspace_names(alice) == ["alices-ws"]


def test_fault_rules_and_scripts_stay_within_the_tenant(alice: Caller, bob: Caller) -> None:
    mine = bob.ok("POST", "/_mockfabric/faults", {"operation": "ListWorkspaces", "tenant": BOB, "status": 503})
    alice.ok("POST", "/_mockfabric/faults", {"operation": "ShowWorkspace", "tenant": ALICE, "status": 500})
    assert [rule["id"] for rule in bob.ok("GET", "/_mockfabric/faults")["faults"]] == [mine["id"]]
    bob.forbidden("POST", "/_mockfabric/faults", {"operation": "ListWorkspaces", "tenant": ALICE, "status": 503})
    assert "control token" in bob.forbidden("POST", "/_mockfabric/faults", {"operation": "ListWorkspaces", "status": 503})
    bob.forbidden("DELETE", "/_mockfabric/faults", tenant=ALICE)
    bob.forbidden("DELETE", "/_mockfabric/faults")
    assert bob.ok("DELETE", "/_mockfabric/faults", tenant=BOB)["removed"] == 1
    assert alice.ok("DELETE", "/_mockfabric/faults", tenant=ALICE)["removed"] == 1
    for path, body in [
        ("/_mockfabric/completions", {"tenant": ALICE, "instance_id": "i", "content": "x"}),
        ("/_mockfabric/job-runs", {"tenant": ALICE, "job_id": "j", "status": "SUCCEEDED"}),
        ("/_mockfabric/status", {"tenant": ALICE, "kind": "endpoint", "id": "e", "status": "RUNNING"}),
    ]:
        assert "not your tenant" in bob.forbidden("POST", path, body)
    assert "not your tenant" in bob.forbidden("PUT", "/_mockfabric/quota", {"tenant": ALICE, "endpoint_id": "e"})
    assert "not your tenant" in bob.forbidden(
        "PUT", "/_mockfabric/timing", {"tenant": ALICE, "instance_id": "i", "ttft_ms": 1, "itl_ms": 1}
    )
    assert bob.ok("POST", "/_mockfabric/completions", {"tenant": BOB, "instance_id": "i", "content": "x"}) == {"queued": 1}


def test_whole_server_actions_need_the_control_token(alice: Caller, bob: Caller) -> None:
    fixture = {"match": {"any": True}, "answer": {"content": "x"}}
    for method, path, body in [
        ("POST", "/_mockfabric/clock", {"advance": 60}),
        ("POST", "/_mockfabric/seed", {"seed": 1}),
        ("PUT", "/_mockfabric/lifecycle", {"endpoint": {"policy": "instant"}}),
        ("POST", "/_mockfabric/fixtures", {"fixtures": [fixture]}),
        ("GET", "/_mockfabric/fixtures", None),  # every tenant's fixtures, with their texts
        ("DELETE", "/_mockfabric/fixtures", None),
    ]:
        assert "needs the control token" in bob.forbidden(method, path, body)
    for path in ("/_mockfabric/health", "/_mockfabric/clock", "/_mockfabric/lifecycle"):  # nothing of any tenant
        bob.ok("GET", path)


def test_the_control_api_still_needs_a_verified_credential(served: str) -> None:
    assert Caller(served, None).call("GET", "/_mockfabric/requests").status_code == 401
    assert Caller(served, "forged").call("GET", "/_mockfabric/requests").status_code == 401


def test_with_a_control_token_a_credential_is_not_enough_and_the_token_does_everything(credentials: Path) -> None:
    with MockFabric(auth="strict", credentials=str(credentials)) as fabric:  # the handle makes a control token for itself
        bob = Caller(fabric.base_url, "bob-token")
        bob.ok("POST", "/v1/workspaces", {"name": "bobs-ws"})
        assert bob.call("GET", "/_mockfabric/requests").status_code == 401
        token = {"X-Mockfabric-Control-Token": str(fabric.settings.control_token)}
        every = requests.get(f"{fabric.base_url}/_mockfabric/requests", headers=token, timeout=10).json()["requests"]
        assert {entry["tenant"] for entry in every} == {BOB}  # the token reads every tenant's journal
        assert list(fabric.export_state(all_tenants=True)["tenants"]) == [BOB]
        fabric.advance(5)
        fabric.reset(all_tenants=True)
        assert workspace_names(bob) == []


def test_the_table_names_only_control_operations() -> None:
    """A misspelt name would silently close an operation; one not named at all is the whole server's (closed)."""
    operations = {operation.operation_id for operation in control_contract().operations.values()}
    assert set(TENANT_NAMED_IN) | OPEN_TO_TENANTS | FILTERED_FOR_TENANTS <= operations
