"""The adapter between the contract and the typed service: every operation binds, nothing the contract declares is
dropped unnoticed, the service knows no HTTP, and what it keeps relative is answered on the client's own base URL."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from mockfabric import contracts
from mockfabric.config import Settings
from mockfabric.service.core import Actor
from mockfabric.web.adapter import BindingError, Context, bind
from mockfabric.web.app import SERVICE_OPERATIONS, create_app
from tests.helpers import SEED_ENDPOINT, SEED_WORKSPACE, Api

PACKAGE = Path(__file__).resolve().parents[2] / "mockfabric"
# Inputs the contract declares that the emulator accepts and does nothing with (listed, so a new one is a decision).
ACCEPTED_AND_IGNORED = {
    "CreateEndpoint": {"config"},
    "UpdateEndpoint": {"config"},
    # the project the SDK puts in the tag paths: the caller's credential picks the tenant (contracts/README.md)
    "BatchCreateFabricWorkspaceTags": {"project_id"},
    "BatchDeleteFabricWorkspaceTags": {"project_id"},
    "ListFabricProjectTags": {"project_id"},
    "ListFabricWorkspaceTags": {"project_id"},
}
WEB_ONLY = ("flask", "werkzeug", "uvicorn", "uvloop", "httptools", "mockfabric.web", "mockfabric.serving", "mockfabric.asgi")


def _bindings() -> dict[str, Any]:
    emulator = create_app(Settings()).extensions["mockfabric"]
    contract = contracts.public_contract()
    context = Context({"service": emulator.service})
    return {
        op.operation_id: bind(contract, op, SERVICE_OPERATIONS[op.operation_id], context)
        for op in contract.operations.values()
        if op.operation_id in SERVICE_OPERATIONS
    }


def test_every_operation_but_the_health_check_is_served_and_ignores_only_what_is_listed() -> None:
    bindings = _bindings()
    unserved = set(contracts.public_contract().operations) - set(bindings)
    assert unserved == {"ShowAdminHealthCheck"}  # answered by a plain route: it has no service rule
    ignored = {operation_id: set(binding.ignored) for operation_id, binding in bindings.items() if binding.ignored}
    assert ignored == ACCEPTED_AND_IGNORED


def test_an_argument_the_contract_does_not_declare_refuses_the_start() -> None:
    contract = contracts.public_contract()

    def create_workspace(actor: Actor, name: str, colour: str) -> None:
        return None

    with pytest.raises(BindingError, match=r"CreateWorkspace: argument 'colour' .* neither the contract nor the context"):
        bind(contract, contract.operations["CreateWorkspace"], create_workspace, Context({}))


def test_a_body_default_of_the_contract_reaches_the_service() -> None:
    contract = contracts.public_contract()
    seen: dict[str, Any] = {}

    def create_workspace(name: str, enterprise_project_id: str) -> None:
        seen.update(name=name, enterprise_project_id=enterprise_project_id)

    from mockfabric.web.parsing import Call

    bind(contract, contract.operations["CreateWorkspace"], create_workspace, Context({}))(Call(Actor("t"), "http://h/", body={"name": "w"}))
    assert seen == {"name": "w", "enterprise_project_id": "0"}  # the schema's default, not the function's


@pytest.mark.parametrize("package", ["service", "fixture"])
def test_the_service_and_the_fixture_layer_import_nothing_of_http(package: str) -> None:
    for path in sorted((PACKAGE / package).glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [_absolute(package, node.module or "", node.level)]
            for name in names:
                assert not name.startswith(WEB_ONLY), f"{package}/{path.name} imports {name}"
                if package == "service":
                    assert not name.startswith("mockfabric.fixture"), f"service/{path.name} imports the fixture layer ({name})"


def _absolute(package: str, module: str, level: int) -> str:
    if level == 0:
        return module
    base = ["mockfabric", package][: 3 - level] if level <= 2 else []
    return ".".join([*base, module] if module else base)


def test_addresses_are_kept_relative_and_answered_on_the_base_url_the_client_used(api: Api) -> None:
    workspace = api.ok("POST", "/v1/workspaces", SEED_WORKSPACE)
    assert workspace["access_url"] == "http://localhost/"
    endpoint = api.ok("POST", f"/v1/workspaces/{workspace['id']}/endpoints", SEED_ENDPOINT)
    path = f"v1/workspaces/{workspace['id']}/endpoints/{endpoint['id']}"
    assert endpoint["urls"][0]["address"] == f"http://localhost/{path}"
    other = api.client.get(f"/{path}", headers=api.headers, base_url="http://127.0.0.1:8080")
    assert other.get_json()["urls"][0]["address"] == f"http://127.0.0.1:8080/{path}"
    stored = json.loads(api.client.application.extensions["mockfabric"].service.store.snapshot())
    record = next(iter(stored["tenants"].values()))["workspaces"][workspace["id"]]["endpoints"][endpoint["id"]]["record"]
    assert record["urls"][0]["address"] == path  # the answer was drawn from it, not written into it


def test_control_errors_name_where_in_the_request_the_fault_is(api: Api) -> None:
    refused = api.call("PUT", "/_mockfabric/state", {"format": 1, "tenants": {"t": {"workspaces": {"w": {"entry": {}}}}}})
    assert refused.status == 400 and refused.body["error_msg"].startswith("body: not a state export"), refused.body
    manual = api.call("POST", "/_mockfabric/clock", {"frozen": False})  # the test app runs on a manual clock
    assert manual.status == 400 and manual.body["error_msg"].startswith("body.frozen: "), manual.body
    bad_pattern = api.call("POST", "/_mockfabric/faults", {"path": "(", "status": 500})
    assert bad_pattern.status == 400 and bad_pattern.body["error_msg"].startswith("body.path: not a regular expression"), bad_pattern.body
