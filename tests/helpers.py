"""Test helpers: a thin API client over Flask's test client, and the seed flow's bodies."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from mockfabric.clock import ManualClock

# The five request bodies of the seed inference flow, verbatim (steps 4 and 5 get the recorded ids filled in).
SEED_WORKSPACE = {"name": "apieworkspace", "description": "apie test workspace"}
SEED_ENDPOINT = {
    "name": "apie_test",
    "description": "apie test endpoint",
    "type": "inference",
    "reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 0, "max": 1}},
}
SEED_MODEL = {
    "name": "LLama3-8b",
    "description": "this is a apie test model",
    "type": "LLM_MODEL",
    "version": {"name": "v1", "description": "test description", "config": {"llm_model_config": {"base_model_type": "", "model_path": ""}}},
}
SEED_DEPLOY = {"source": {"id": ""}, "name": "test_serviceInstanceName", "description": "description", "endpoint_id": ""}
SEED_INVOKE = {"messages": [{"role": "user", "content": "hello"}]}


def seed_deploy(model_id: str, endpoint_id: str) -> dict[str, Any]:
    body = copy.deepcopy(SEED_DEPLOY)
    body["source"]["id"], body["endpoint_id"] = model_id, endpoint_id
    return body


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


class Api:
    def __init__(self, client: Any, headers: dict[str, str], clock: ManualClock) -> None:
        self.client, self.headers, self.clock = client, headers, clock

    def call(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None, query: dict[str, Any] | None = None
    ) -> Reply:
        merged = {**self.headers, **(headers or {})}
        response = self.client.open(path, method=method, json=body, headers=merged, query_string=query)
        payload = response.get_json(silent=True) if response.data else None
        return Reply(response.status_code, payload, response.headers)

    def ok(self, method: str, path: str, body: Any = None, *, status: int = 200, **kwargs: Any) -> Any:
        reply = self.call(method, path, body, **kwargs)
        assert reply.status == status, (method, path, reply.status, reply.body)
        return reply.body

    def error(self, method: str, path: str, body: Any = None, *, status: int = 400, code: str | None = None, **kwargs: Any) -> str:
        reply = self.call(method, path, body, **kwargs)
        assert reply.status == status, (method, path, reply.status, reply.body)
        assert set(reply.body) == {"error_code", "error_msg"}, reply.body
        assert reply.headers.get("X-Request-Id")
        if code is not None:
            assert reply.body["error_code"] == code, reply.body
        message: str = reply.body["error_msg"]
        return message

    # --- builders ------------------------------------------------------------------------------------------
    def workspace(self, name: str = "apieworkspace", **fields: Any) -> str:
        workspace_id: str = self.ok("POST", "/v1/workspaces", {"name": name, **fields})["id"]
        return workspace_id

    def endpoint(self, ws: str, *, running: bool = True, max_units: int = 4, **fields: Any) -> str:
        body = {"name": "ep", "type": "inference", "reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 0, "max": max_units}}}
        body.update(fields)
        endpoint_id: str = self.ok("POST", f"/v1/workspaces/{ws}/endpoints", body)["id"]
        if running:
            self.clock.advance(5)
            assert self.ok("GET", f"/v1/workspaces/{ws}/endpoints/{endpoint_id}")["status"] == "RUNNING"
        return endpoint_id

    def model(self, ws: str, name: str = "LLama3-8b") -> dict[str, str]:
        body = copy.deepcopy(SEED_MODEL)
        body["name"] = name
        created: dict[str, str] = self.ok("POST", f"/v1/workspaces/{ws}/models", body)
        return created

    def instance(self, ws: str, model_id: str, endpoint_id: str, *, running: bool = True, resource: dict[str, Any] | None = None) -> str:
        body = seed_deploy(model_id, endpoint_id)
        if resource is not None:
            body["config"] = {"model_instance_config": {"resource": resource}}
        instance_id: str = self.ok("POST", f"/v1/workspaces/{ws}/services/instances", body)["id"]
        if running:
            self.clock.advance(5)
            assert self.ok("GET", f"/v1/workspaces/{ws}/services/instances/{instance_id}")["status"] == "RUNNING"
        return instance_id
