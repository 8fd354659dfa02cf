"""Inference endpoints: asynchronous create/update/delete, capacity that deployments draw on, PUBLIC subscription."""

from __future__ import annotations

import copy
from typing import Any

from ..clock import iso_millis
from ..errors import CapacityExceeded, ResourceInUse, RuleViolated, StateConflict
from .fabric import Call, Fabric
from .paging import common_filters, page
from .store import Entry, WorkspaceState

KIND = "endpoint"
BRIEF_FIELDS = (
    "visibility",
    "id",
    "name",
    "type",
    "status",
    "description",
    "create_time",
    "update_time",
    "owner",
    "cap",
    "custom_image_id",
    "reserved_resource",
    "ray_resource",
    "error_code",
    "error_msg",
)
TOKENS_QUOTA = 10_000_000  # tokens an endpoint may consume before its quota is used up (value inferred)
QUOTA_DAYS = 365


def _check_resources(fabric: Fabric, body: dict[str, Any]) -> None:
    mu = body.get("reserved_resource", {}).get("mu")
    if mu is None:
        return
    if mu["min"] > mu["max"]:
        raise RuleViolated(f"body.reserved_resource.mu.min: {mu['min']} must not exceed max {mu['max']}")
    if fabric.catalog.spec(mu["spec_code"]) is None:
        raise RuleViolated(f"body.reserved_resource.mu.spec_code: unknown spec {mu['spec_code']!r} (see ListSpecs)")


def _ray_info(ray: dict[str, Any]) -> dict[str, Any]:
    """The response form of a Ray resource request (RayResourceInput -> RayResourceInfo)."""
    return {
        "head_group_spec": {"spec_code": ray["head_node_resource"]["spec_code"]},
        "worker_group_spec": [
            {
                "name": w["name"],
                "spec_code": w["resource"]["spec_code"],
                "min_replicas": w["resource"]["min"],
                "max_replicas": w["resource"]["max"],
            }
            for w in ray.get("work_node_resources", [])
        ],
    }


def create_endpoint(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    body = call.body
    _check_resources(fabric, body)
    endpoint_id, now, stamp = fabric.ids.hex32(), fabric.now(), fabric.timestamp()
    visibility = "PUBLIC" if body.get("public_access") else "PRIVATE"
    record: dict[str, Any] = {
        "visibility": visibility,
        "id": endpoint_id,
        "name": body["name"],
        "type": body["type"],
        "status": fabric.lifecycle.initial(KIND, visibility),
        "description": body.get("description", ""),
        "create_time": stamp,
        "update_time": stamp,
        "owner": call.caller.user(),
    }
    for name in ("cap", "custom_image_id", "reserved_resource"):
        if name in body:
            record[name] = copy.deepcopy(body[name])
    if "ray_resource" in body:
        record["ray_resource"] = _ray_info(body["ray_resource"])
    if "cache_list" in body:
        record["caches"] = copy.deepcopy(body["cache_list"])
    record.update(
        {
            "urls": [
                {
                    "name": "ApiInvoke",
                    "address": f"{call.caller.base_url}v1/workspaces/{workspace.entry.record['id']}/endpoints/{endpoint_id}",
                    "type": "PUBLIC",
                }
            ],
            "business_engine_instance_ids": [],
            "tokens_quota": {"total": TOKENS_QUOTA, "used": 0, "expire_time": iso_millis(now + QUOTA_DAYS * 86400)},
            "runtime_env_type": "RELEASE",
        }
    )
    entry = Entry(record, created_seq=fabric.store.next_seq())
    workspace.endpoints[endpoint_id] = entry
    fabric.lifecycle.enter(KIND, workspace, entry, record["status"], now)
    return record


def _instances_on(workspace: WorkspaceState, endpoint_id: str) -> list[Entry]:
    return [entry for entry in workspace.instances.values() if entry.record["endpoint_id"] == endpoint_id]


def list_endpoints(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    query, tests = call.query, common_filters(call.query, "endpoint_id")
    if "model_id" in query:
        serving = {i.record["endpoint_id"] for i in workspace.instances.values() if i.record["source"]["id"] == query["model_id"]}
        tests.append(lambda entry: entry.record["id"] in serving)
    total, chosen = page(workspace.endpoints, query, tests)
    for entry in chosen:
        fabric.lifecycle.note_read(entry)
    return {"total": total, "endpoints": [{k: entry.record[k] for k in BRIEF_FIELDS if k in entry.record} for entry in chosen]}


def show_endpoint(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["endpoint_id"])
    fabric.lifecycle.note_read(entry)
    if call.query.get("version") == "PREVIOUS" and entry.previous is not None:
        return entry.previous
    return entry.record


def update_endpoint(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["endpoint_id"])
    body = call.body
    _check_resources(fabric, body)
    mu = body.get("reserved_resource", {}).get("mu")
    if mu is not None:
        drawn = sum(i.record["config"]["model_instance_config"]["resource"]["max"] for i in _instances_on(workspace, entry.record["id"]))
        if mu["max"] < drawn:
            raise CapacityExceeded(
                f"body.reserved_resource.mu.max: {mu['max']} is below the {drawn} already drawn by deployed service instances"
            )
    previous = copy.deepcopy(entry.record)
    fabric.transition(KIND, workspace, entry, "UpdateEndpoint")
    entry.previous = previous
    for name in ("name", "description", "cap", "reserved_resource"):
        if name in body:
            entry.record[name] = copy.deepcopy(body[name])
    if "ray_resource" in body:
        entry.record["ray_resource"] = _ray_info(body["ray_resource"])
    return entry.record


def delete_endpoint(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["endpoint_id"])
    deployed = _instances_on(workspace, entry.record["id"])
    if deployed:
        raise ResourceInUse(f"endpoint {entry.record['id']} still has {len(deployed)} service instance(s) deployed; delete them first")
    fabric.transition(KIND, workspace, entry, "DeleteEndpoint")
    return {"id": entry.record["id"]}


def subscribe_endpoint(fabric: Fabric, call: Call) -> str:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["endpoint_id"])
    if entry.record["visibility"] != "PUBLIC":
        raise StateConflict(f"endpoint {entry.record['id']} is PRIVATE; only PUBLIC endpoints are subscribed to")
    if entry.record["status"] != "RUNNING":
        fabric.transition(KIND, workspace, entry, "SubscribeEndpoint")
    return "OK"


OPERATIONS = {
    "CreateEndpoint": create_endpoint,
    "ListEndpoints": list_endpoints,
    "ShowEndpoint": show_endpoint,
    "UpdateEndpoint": update_endpoint,
    "DeleteEndpoint": delete_endpoint,
    "SubscribeEndpoint": subscribe_endpoint,
}
