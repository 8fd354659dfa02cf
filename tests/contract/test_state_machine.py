"""A hypothesis state machine over the inference flow: random sequences of create/update/delete of workspaces,
endpoints, models, versions and instances, clock moves and invocations. After every step: list totals match the
listed items, instances refer to listed endpoints and models, every observed status change is an edge of the
contract's x-lifecycle, and what was deleted stays gone."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mockfabric import create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Progression, Settings
from mockfabric.contracts import public_contract

EDGES = {kind: {(t["from"], t["to"]) for t in spec["transitions"]} for kind, spec in public_contract().document["x-lifecycle"].items()}
HEADERS = {"X-Auth-Token": "state-machine"}


class InferenceFlow(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.clock = ManualClock()
        timed = Progression("time", seconds=2)
        self.client = create_app(
            Settings(seed=3, validate_responses=True, lifecycle={"endpoint": timed, "service_instance": timed}), clock=self.clock
        ).test_client()
        self.workspaces: set[str] = set()
        self.seen: dict[str, tuple[str, str]] = {}  # id -> (kind, last observed status)
        self.resources: dict[str, dict[str, set[str]]] = {}  # workspace -> kind -> ids
        self.gone: set[str] = set()
        self.models: dict[str, set[str]] = {}  # model id -> version ids

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        reply = self.client.open(path, method=method, json=body, headers=HEADERS)
        assert reply.status_code < 500, (method, path, reply.get_json())
        if reply.status_code >= 400:
            assert set(reply.get_json()) == {"error_code", "error_msg"}
        return reply.status_code, reply.get_json(silent=True)

    def pick(self, data: Any, kind: str) -> tuple[str, str] | None:
        choices = sorted((ws, rid) for ws, kinds in self.resources.items() for rid in kinds.get(kind, ()))
        return data.draw(st.sampled_from(choices)) if choices else None

    # --- rules -----------------------------------------------------------------------------------------------
    @rule(name=st.sampled_from(["ws-one", "ws-two", "ws-three"]))
    def create_workspace(self, name: str) -> None:
        code, body = self.call("POST", "/v1/workspaces", {"name": name})
        if code == 200:
            self.workspaces.add(body["id"])
            self.resources[body["id"]] = {"endpoint": set(), "model": set(), "service_instance": set()}
        else:
            assert body["error_code"] == "dataartsfabric.00010011"

    @precondition(lambda self: self.workspaces)
    @rule(data=st.data())
    def delete_workspace(self, data: Any) -> None:
        ws = data.draw(st.sampled_from(sorted(self.workspaces)))
        code, body = self.call("DELETE", f"/v1/workspaces/{ws}")
        if code == 200:
            held = self.resources[ws]
            assert not held["endpoint"] and not held["service_instance"], "a workspace with endpoints or instances was deleted"
            self.workspaces.discard(ws)
            self.gone.add(ws)
            del self.resources[ws]
        else:
            assert body["error_code"] == "dataartsfabric.00010012"

    @precondition(lambda self: self.workspaces)
    @rule(data=st.data(), units=st.integers(1, 3), public=st.booleans())
    def create_endpoint(self, data: Any, units: int, public: bool) -> None:
        ws = data.draw(st.sampled_from(sorted(self.workspaces)))
        body = {
            "name": "ep",
            "type": "inference",
            "public_access": public,
            "reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 0, "max": units}},
        }
        code, created = self.call("POST", f"/v1/workspaces/{ws}/endpoints", body)
        assert code == 200
        self.resources[ws]["endpoint"].add(created["id"])

    @rule(data=st.data())
    def update_endpoint(self, data: Any) -> None:
        if (picked := self.pick(data, "endpoint")) is not None:
            ws, ep = picked
            self.call("PUT", f"/v1/workspaces/{ws}/endpoints/{ep}", {"description": "changed"})

    @rule(data=st.data())
    def subscribe_endpoint(self, data: Any) -> None:
        if (picked := self.pick(data, "endpoint")) is not None:
            ws, ep = picked
            self.call("POST", f"/v1/workspaces/{ws}/endpoints/{ep}/subscribe")

    @rule(data=st.data())
    def delete_endpoint(self, data: Any) -> None:
        if (picked := self.pick(data, "endpoint")) is not None:
            ws, ep = picked
            self.call("DELETE", f"/v1/workspaces/{ws}/endpoints/{ep}")

    @precondition(lambda self: self.workspaces)
    @rule(data=st.data(), name=st.sampled_from(["m-a", "m-b"]))
    def create_model(self, data: Any, name: str) -> None:
        ws = data.draw(st.sampled_from(sorted(self.workspaces)))
        code, created = self.call("POST", f"/v1/workspaces/{ws}/models", {"name": name, "type": "LLM_MODEL", "version": {"name": "v1"}})
        if code == 200:
            self.resources[ws]["model"].add(created["id"])
            self.models[created["id"]] = {created["version_id"]}

    @rule(data=st.data())
    def add_model_version(self, data: Any) -> None:
        if (picked := self.pick(data, "model")) is not None:
            ws, model = picked
            code, updated = self.call("PUT", f"/v1/workspaces/{ws}/models/{model}", {"version": {"name": "next"}})
            assert code == 200
            self.models[model].add(updated["current_version"]["id"])

    @rule(data=st.data())
    def delete_model_version(self, data: Any) -> None:
        if (picked := self.pick(data, "model")) is not None:
            ws, model = picked
            version = data.draw(st.sampled_from(sorted(self.models[model])))
            code, _ = self.call("DELETE", f"/v1/workspaces/{ws}/models/{model}/versions/{version}")
            if code == 200:
                self.models[model].discard(version)
                self.gone.add(version)

    @rule(data=st.data())
    def cleanup_model(self, data: Any) -> None:
        if (picked := self.pick(data, "model")) is not None:
            ws, model = picked
            code, _ = self.call("DELETE", f"/v1/workspaces/{ws}/models/{model}")
            if code == 200:
                self.resources[ws]["model"].discard(model)
                self.gone.add(model)

    @rule(data=st.data(), units=st.integers(1, 2))
    def deploy(self, data: Any, units: int) -> None:
        if (endpoint := self.pick(data, "endpoint")) is None or not self.resources[endpoint[0]]["model"]:
            return
        ws, ep = endpoint
        model = data.draw(st.sampled_from(sorted(self.resources[ws]["model"])))
        body = {
            "source": {"id": model},
            "name": "inst",
            "endpoint_id": ep,
            "config": {"model_instance_config": {"resource": {"spec_code": "mu.llama3.8b", "min": 0, "max": units}}},
        }
        code, created = self.call("POST", f"/v1/workspaces/{ws}/services/instances", body)
        if code == 200:
            self.resources[ws]["service_instance"].add(created["id"])

    @rule(data=st.data(), units=st.integers(1, 3))
    def update_instance(self, data: Any, units: int) -> None:
        if (picked := self.pick(data, "service_instance")) is not None:
            ws, instance = picked
            self.call(
                "PUT",
                f"/v1/workspaces/{ws}/services/instances/{instance}",
                {"config": {"model_instance_config": {"resource": {"min": 0, "max": units}}}},
            )

    @rule(data=st.data())
    def delete_instance(self, data: Any) -> None:
        if (picked := self.pick(data, "service_instance")) is not None:
            ws, instance = picked
            self.call("DELETE", f"/v1/workspaces/{ws}/services/instances/{instance}")

    @rule(data=st.data(), stream=st.booleans())
    def invoke(self, data: Any, stream: bool) -> None:
        if (picked := self.pick(data, "service_instance")) is not None:
            ws, instance = picked
            reply = self.client.post(
                f"/v1/workspaces/{ws}/services/instances/{instance}/invocations",
                json={"messages": [{"role": "user", "content": "hi"}], "stream": stream},
                headers=HEADERS,
            )
            assert reply.status_code in (200, 400)
            if reply.status_code == 400:
                assert reply.get_json()["error_code"] == "dataartsfabric.00010016"

    @rule(seconds=st.sampled_from([0.5, 1, 2, 5]))
    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # --- invariants ------------------------------------------------------------------------------------------
    @invariant()
    def state_is_consistent(self) -> None:
        if not hasattr(self, "client"):
            return
        code, listed = self.call("GET", "/v1/workspaces?limit=100")
        assert listed["total"] == len(listed["workspaces"]) == len(self.workspaces)
        assert {w["id"] for w in listed["workspaces"]} == self.workspaces
        for ws in self.workspaces:
            current = {}
            for kind, path, key in (
                ("endpoint", "endpoints", "endpoints"),
                ("model", "models", "models"),
                ("service_instance", "services/instances", "service_instances"),
            ):
                code, page = self.call("GET", f"/v1/workspaces/{ws}/{path}?limit=100")
                assert code == 200 and page["total"] == len(page[key])
                current[kind] = {item["id"]: item for item in page[key]}
                for gone in self.resources[ws][kind] - set(current[kind]):
                    assert kind != "model", "a model vanished without CleanupModel"
                    assert self.seen.get(gone, ("", ""))[1] == "DELETING", f"{kind} {gone} vanished without being DELETING"
                    self.gone.add(gone)
                self.resources[ws][kind] = set(current[kind])
                for rid, item in current[kind].items():
                    assert rid not in self.gone, f"deleted {kind} {rid} came back"
                    if kind in EDGES:
                        previous = self.seen.get(rid)
                        if previous is not None and previous[1] != item["status"]:
                            assert (previous[1], item["status"]) in EDGES[kind], (
                                f"{kind} {previous[1]} -> {item['status']} is no lifecycle edge"
                            )
                        self.seen[rid] = (kind, item["status"])
            for instance in current["service_instance"].values():
                assert instance["endpoint_id"] in current["endpoint"], "an instance outlived its endpoint"
                assert instance["source"]["id"] in current["model"], "an instance outlived its model"
                assert instance["source"]["version_id"] in self.models[instance["source"]["id"]]


InferenceFlow.TestCase.settings = settings(InferenceFlow.TestCase.settings, stateful_step_count=30, deadline=None)
TestInferenceFlow = InferenceFlow.TestCase
