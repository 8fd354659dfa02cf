"""Text that is not valid Unicode (a lone surrogate escape, `"\\ud800"`) is refused at the boundary with a 400 naming
the field, and never reaches state, the journal or a save; arbitrary Unicode anywhere never causes a 5xx."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockfabric import contracts, create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Progression, Settings

from ..helpers import SEED_ENDPOINT, SEED_INVOKE, SEED_MODEL, SEED_WORKSPACE, Api, seed_deploy

TENANT_HEADERS = {"X-Auth-Token": "hostile-text", "X-Project-Id": "hostile-project"}
JOB = {"name": "job", "type": "PYTHON_JOB", "version": {"name": "v1", "config": {}}}
POLICY = {"message_type": "job", "name_pattern": "j", "notification_types": ["FAILED"], "topic_urn": "urn:smn:r:p:t"}
TENANT = "hostile-project"
LONE = "x\ud800y"


class World:
    """An emulator with a state file and one of each resource, and a way to send raw bytes to any operation."""

    def __init__(self, tmp_path: Path) -> None:
        instant = Progression("instant")
        settings_ = Settings(seed=3, state_file=str(tmp_path / "state.json"), lifecycle={"endpoint": instant, "service_instance": instant})
        self.app = create_app(settings_, clock=ManualClock())
        self.api = Api(self.app.test_client(), TENANT_HEADERS, ManualClock())
        self.ws = self.api.workspace("hostile-ws")
        self.ep = self.api.endpoint(self.ws, running=False)
        self.model = self.api.model(self.ws)
        self.instance = self.api.instance(self.ws, self.model["id"], self.ep, running=False)
        self.job = self.api.ok("POST", f"/v1/workspaces/{self.ws}/jobs", JOB)
        self.run = self.api.ok("POST", f"/v1/workspaces/{self.ws}/jobs/runs", self.run_body())["id"]
        policies = {"message_notification_policy_list": [POLICY]}
        self.policy = self.api.ok("POST", f"/v1/workspaces/{self.ws}/messages", policies)["id"]
        self.ids = {
            "workspace_id": self.ws,
            "endpoint_id": self.ep,
            "model_id": self.model["id"],
            "version_id": self.model["version_id"],
            "instance_id": self.instance,
            "job_id": self.job["id"],
            "run_id": self.run,
            "message_policy_id": self.policy,
            "project_id": TENANT,
        }

    def run_body(self) -> dict[str, Any]:
        return {"job": {"id": self.job["id"], "version_id": self.job["version_id"]}, "name": "run", "endpoint_id": self.ep}

    def bodies(self) -> dict[str, Any]:
        """A valid body of every operation that takes one: the hostile text is put into each of its strings."""
        return {
            "CreateWorkspace": SEED_WORKSPACE,
            "UpdateWorkspace": {"description": "d"},
            "CreateEndpoint": SEED_ENDPOINT,
            "UpdateEndpoint": {"description": "d"},
            "CreateModelDefinition": SEED_MODEL,
            "UpdateModelDefinition": {"description": "d"},
            "DeployServiceInstance": seed_deploy(self.model["id"], self.ep),
            "UpdateServiceInstance": {"description": "d"},
            "InvokeModelService": SEED_INVOKE,
            "ControlReset": {"tenant": "another-tenant"},  # the world stays for the checks after
            "ControlMoveClock": {"advance": 1},
            "ControlSetLifecycle": {"endpoint": {"policy": "instant"}},
            "ControlForceStatus": {"tenant": TENANT, "kind": "endpoint", "id": self.ep, "status": "RUNNING"},
            "ControlImportState": json.loads(self.app.extensions["mockfabric"].service.store.snapshot()),
            "ControlSetSeed": {"seed": 1},
            "ControlAddFault": {"operation": "ListWorkspaces", "tenant": TENANT, "status": 500, "error_msg": "m", "times": 1},
            "ControlScriptCompletion": {"tenant": TENANT, "instance_id": self.instance, "content": "scripted"},
            "ControlSetTiming": {"tenant": TENANT, "instance_id": self.instance, "ttft_ms": 0, "itl_ms": 0},
            "ControlSetQuota": {"tenant": TENANT, "endpoint_id": self.ep, "used": 0},
            "ControlScriptJobRun": {"tenant": TENANT, "job_id": self.job["id"], "status": "FAILED", "error_msg": "boom"},
            "ControlAddFixtures": {"fixtures": [{"match": {"user": {"contains": "x"}}, "answer": {"content": "y"}}]},
            "CreateAgreement": {"agreements": [{"agreement_name": "fabric_service_agreement", "agreement_version": "20250101"}]},
            "CreateAgency": {"policy_types": ["FABRIC_COMMON_POLICY"]},
            "CreateJob": {**JOB, "name": "another"},
            "UpdateJob": {"description": "d", "version": {"name": "v2", "config": {}}},
            "RunJob": self.run_body(),
            "CreateMessageNotificationPolicy": {"message_notification_policy_list": [POLICY]},
            "UpdateMetricsConfig": {"enable": True},
            "BatchCreateFabricWorkspaceTags": {"tags": [{"key": "env", "value": "dev"}], "sys_tags": [{"key": "k", "value": "v"}]},
            "BatchDeleteFabricWorkspaceTags": {"tags": [{"key": "env", "value": "dev"}]},
            "ListTagFabricWorkspaces": {"tags": [{"key": "env", "values": ["dev"]}], "matches": [{"key": "resource_name", "value": "w"}]},
            "CountTagFabricWorkspaces": {"tags": [{"key": "env", "values": ["dev"]}]},
        }

    def send(self, operation: contracts.Operation, *, body: bytes | None = None, query: str = "", path_text: str | None = None) -> Any:
        path = operation.path
        for name, value in self.ids.items():
            path = path.replace("{" + name + "}", quote(path_text.encode("utf-8", "surrogatepass")) if path_text else value)
        headers = {**TENANT_HEADERS, "Content-Type": "application/json"}
        return self.app.test_client().open(f"{path}?{query}" if query else path, method=operation.method, data=body, headers=headers)

    def assert_still_whole(self) -> None:
        """Everything that reads state still works: list, show, export, the journal, and a save."""
        client = self.app.test_client()
        for url in ("/v1/workspaces", f"/v1/workspaces/{self.ws}/endpoints", "/_mockfabric/state", "/_mockfabric/requests"):
            reply = client.get(url, headers=TENANT_HEADERS)
            assert reply.status_code == 200, (url, reply.status_code, reply.data[:300])
            json.loads(reply.data)
        self.app.extensions["mockfabric"].saver.save_now()

    def close(self) -> None:
        self.app.extensions["mockfabric"].close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = World(tmp_path)
    yield built
    built.close()


def all_operations() -> list[contracts.Operation]:
    return [*contracts.public_contract().operations.values(), *contracts.control_contract().operations.values()]


def string_leaves(value: Any, trail: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield trail
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from string_leaves(child, (*trail, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from string_leaves(child, (*trail, index))


def with_text(body: Any, trail: tuple[Any, ...], text: str) -> Any:
    changed = copy.deepcopy(body)
    target = changed
    for step in trail[:-1]:
        target = target[step]
    target[trail[-1]] = text
    return changed


def encoded(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=True).encode()  # a lone surrogate leaves as the escape \ud800


def test_every_operation_with_a_body_has_a_base_body(world: World) -> None:
    with_body = {op.operation_id for op in all_operations() if op.body_check is not None}
    assert with_body == set(world.bodies())


def test_a_lone_surrogate_in_any_string_of_any_body_is_refused_naming_the_field(world: World) -> None:
    operations = {op.operation_id: op for op in all_operations()}
    tried = 0
    for operation_id, body in world.bodies().items():
        for trail in string_leaves(body):
            before = world.app.extensions["mockfabric"].service.store.snapshot()
            reply = world.send(operations[operation_id], body=encoded(with_text(body, trail, LONE)))
            where = "body." + ".".join(str(step) if isinstance(step, str) else f"[{step}]" for step in trail).replace(".[", "[")
            assert reply.status_code == 400, (operation_id, trail, reply.status_code, reply.data[:300])
            answer = reply.get_json()
            assert answer["error_code"] == "dataartsfabric.00010001" and answer["error_msg"].startswith(where + ": not valid Unicode")
            assert world.app.extensions["mockfabric"].service.store.snapshot() == before, (operation_id, trail)  # nothing changed
            tried += 1
        unknown = world.send(operations[operation_id], body=encoded({**body, "extra\ud800key": "v", "extra": LONE}))
        assert unknown.status_code == 400, (operation_id, unknown.data[:300])
    assert tried >= 25
    world.assert_still_whole()


def test_the_reported_poisoning_case(world: World) -> None:
    """The finding as reported: a 500 after changing state, then every list, export and save failing."""
    reply = world.api.call("POST", "/v1/workspaces", None, headers={"Content-Type": "application/json"})
    assert reply.status == 400  # no body
    raw = b'{"name": "surr", "description": "\\ud800"}'
    answer = world.app.test_client().post("/v1/workspaces", data=raw, headers={**TENANT_HEADERS, "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.get_json()["error_msg"].startswith("body.description: not valid Unicode")
    assert "surr" not in [w["name"] for w in world.api.ok("GET", "/v1/workspaces")["workspaces"]]
    world.assert_still_whole()
    journal = world.app.test_client().get("/_mockfabric/requests?operation=CreateWorkspace").get_json()["requests"]
    assert journal[-1]["status"] == 400 and "\\ud800" in journal[-1]["body"]  # kept as the client wrote it, as text


SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ANY_TEXT = st.text(alphabet=st.one_of(st.characters(), SURROGATE), max_size=12)
# half the draws hold at least one lone surrogate for sure: arbitrary text alone mostly pairs them into valid characters
HOSTILE_TEXT = st.one_of(ANY_TEXT, st.builds(lambda a, s, b: a + s + b, ANY_TEXT, SURROGATE, ANY_TEXT))


@settings(max_examples=100)
@given(data=st.data(), text=HOSTILE_TEXT)
def test_arbitrary_unicode_anywhere_never_causes_a_server_error(tmp_path_factory: pytest.TempPathFactory, data: Any, text: str) -> None:
    """Any operation, with the text in one body string, as an unknown field, in every string query parameter, or
    as a path id: never a 5xx, and state, journal and saves still work afterwards."""
    world = World(tmp_path_factory.mktemp("hostile"))
    try:
        operation = data.draw(st.sampled_from(all_operations()), label="operation")
        place = data.draw(st.sampled_from(["body", "unknown-field", "query", "path"]), label="place")
        bodies = world.bodies()
        body = bodies.get(operation.operation_id)
        payload = None if body is None else encoded(body)
        query, path_text = "", None
        if place == "body" and body is not None:
            leaves = list(string_leaves(body))
            if leaves:
                payload = encoded(with_text(body, data.draw(st.sampled_from(leaves), label="leaf"), text))
        elif place == "unknown-field" and body is not None:
            payload = encoded({**body, text: text})
        elif place == "query":
            names = [p.name for p in operation.parameters if p.location == "query" and p.kind in ("string", "array")]
            query = "&".join(f"{name}={quote(text.encode('utf-8', 'surrogatepass'))}" for name in names)
        elif place == "path":
            path_text = text or "empty"
        reply = world.send(operation, body=payload, query=query, path_text=path_text)
        assert reply.status_code < 500, (operation.operation_id, place, reply.status_code, reply.data[:300])
        world.assert_still_whole()
    finally:
        world.close()
