"""Inference endpoints: asynchronous create/update/delete, capacity that deployments draw on, PUBLIC subscription."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..clock import iso_millis
from ..errors import CapacityExceeded, ResourceInUse, RuleViolated, StateConflict
from .core import Actor, Service
from .instances import drawn_from
from .listing import Listing, Page, page
from .onboarding import after_onboarding
from .runs import runs_on
from .store import Entry, Record, WorkspaceState

KIND = "endpoint"
TOKENS_QUOTA = 10_000_000  # tokens an endpoint may consume before its quota is used up (value inferred)
QUOTA_DAYS = 365


def _check_resources(service: Service, reserved_resource: dict[str, Any] | None) -> None:
    mu = (reserved_resource or {}).get("mu")
    if mu is None:
        return
    if mu["min"] > mu["max"]:
        raise RuleViolated(f"{mu['min']} must not exceed max {mu['max']}", field="reserved_resource.mu.min")
    if service.catalog.spec(mu["spec_code"]) is None:
        raise RuleViolated(f"unknown spec {mu['spec_code']!r} (see ListSpecs)", field="reserved_resource.mu.spec_code")


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


@after_onboarding
def create_endpoint(
    service: Service,
    actor: Actor,
    workspace: WorkspaceState,
    *,
    name: str,
    type: str,
    description: str = "",
    public_access: bool = False,
    reserved_resource: dict[str, Any] | None = None,
    ray_resource: dict[str, Any] | None = None,
    cap: dict[str, Any] | None = None,
    custom_image_id: str | None = None,
    cache_list: list[dict[str, Any]] | None = None,
) -> Record:
    """A new endpoint in its initial status (PUBLIC ones start otherwise); its invocation address is kept as a path
    relative to the service's base."""
    _check_resources(service, reserved_resource)
    endpoint_id, now, stamp = service.ids.hex32(), service.now(), service.timestamp()
    visibility = "PUBLIC" if public_access else "PRIVATE"
    record: Record = {
        "visibility": visibility,
        "id": endpoint_id,
        "name": name,
        "type": type,
        "status": service.lifecycle.initial(KIND, visibility),
        "description": description,
        "create_time": stamp,
        "update_time": stamp,
        "owner": actor.user(),
    }
    given = {"cap": cap, "custom_image_id": custom_image_id, "reserved_resource": reserved_resource}
    record.update((key, copy.deepcopy(value)) for key, value in given.items() if value is not None)
    if ray_resource is not None:
        record["ray_resource"] = _ray_info(ray_resource)
    if cache_list is not None:
        record["caches"] = copy.deepcopy(cache_list)
    record["urls"] = [
        {"name": "ApiInvoke", "address": f"v1/workspaces/{workspace.entry.record['id']}/endpoints/{endpoint_id}", "type": "PUBLIC"}
    ]
    record["business_engine_instance_ids"] = []
    record["tokens_quota"] = {"total": TOKENS_QUOTA, "used": 0, "expire_time": iso_millis(now + QUOTA_DAYS * 86400)}
    record["runtime_env_type"] = "RELEASE"
    entry = Entry(record, created_seq=service.store.next_seq())
    workspace.endpoints[endpoint_id] = entry
    service.lifecycle.enter(KIND, workspace, entry, record["status"], now)
    return record


def list_endpoints(
    service: Service, workspace: WorkspaceState, listing: Listing, *, endpoint_id: str | None = None, model_id: str | None = None
) -> Page[Entry]:
    tests = []
    if endpoint_id is not None:
        tests.append(lambda entry: entry.record["id"] == endpoint_id)
    if model_id is not None:
        serving = {i.record["endpoint_id"] for i in workspace.instances.values() if i.record["source"]["id"] == model_id}
        tests.append(lambda entry: entry.record["id"] in serving)
    candidates = workspace.endpoints
    if listing.visibility in ("PUBLIC", "ALL"):  # other tenants' public endpoints too (DOC)
        candidates = {**_public_endpoints(service), **workspace.endpoints}
    found = page(candidates, listing, tests)
    for entry in found.items:
        service.lifecycle.note_read(entry)
    return found


def _public_endpoints(service: Service) -> dict[str, Entry]:
    """Every PUBLIC endpoint of every tenant, their workspaces settled first."""
    found: dict[str, Entry] = {}
    now = service.now()
    for tenant in service.store.tenants.values():
        for workspace in tenant.workspaces.values():
            service.lifecycle.settle_workspace(workspace, now)
            found.update((key, entry) for key, entry in workspace.endpoints.items() if entry.record["visibility"] == "PUBLIC")
    return found


def show_endpoint(service: Service, endpoint: Entry, *, version: str | None = None) -> Record:
    """The endpoint; with version PREVIOUS, as it was before its last update (if it had one)."""
    service.lifecycle.note_read(endpoint)
    if version == "PREVIOUS" and endpoint.previous is not None:
        return endpoint.previous
    return endpoint.record


def update_endpoint(
    service: Service,
    workspace: WorkspaceState,
    endpoint: Entry,
    *,
    name: str | None = None,
    description: str | None = None,
    reserved_resource: dict[str, Any] | None = None,
    ray_resource: dict[str, Any] | None = None,
    cap: dict[str, Any] | None = None,
) -> Record:
    """UPDATING with the changes applied; CapacityExceeded when the new maximum is below what deployments draw."""
    _check_resources(service, reserved_resource)
    mu = (reserved_resource or {}).get("mu")
    if mu is not None:
        drawn = drawn_from(workspace, endpoint.record["id"])
        if mu["max"] < drawn:
            raise CapacityExceeded(
                f"{mu['max']} is below the {drawn} already drawn by deployed service instances", field="reserved_resource.mu.max"
            )
    previous = copy.deepcopy(endpoint.record)
    service.transition(KIND, workspace, endpoint, "UpdateEndpoint")
    endpoint.previous = previous
    given = {"name": name, "description": description, "cap": cap, "reserved_resource": reserved_resource}
    endpoint.record.update((key, copy.deepcopy(value)) for key, value in given.items() if value is not None)
    if ray_resource is not None:
        endpoint.record["ray_resource"] = _ray_info(ray_resource)
    return endpoint.record


def delete_endpoint(service: Service, workspace: WorkspaceState, endpoint: Entry) -> Record:
    """DELETING; ResourceInUse while service instances are deployed on it."""
    deployed = sum(1 for i in workspace.instances.values() if i.record["endpoint_id"] == endpoint.record["id"])
    if deployed:
        raise ResourceInUse(f"endpoint {endpoint.record['id']} still has {deployed} service instance(s) deployed; delete them first")
    held = runs_on(workspace, endpoint.record["id"])
    if held:
        raise ResourceInUse(f"endpoint {endpoint.record['id']} still holds {held} job run(s); delete or clear them first")
    service.transition(KIND, workspace, endpoint, "DeleteEndpoint")
    return endpoint.record


def subscribe_endpoint(service: Service, workspace: WorkspaceState, endpoint: Entry) -> str:
    """A PUBLIC endpoint not yet RUNNING starts; StateConflict for a PRIVATE one."""
    if endpoint.record["visibility"] != "PUBLIC":
        raise StateConflict(f"endpoint {endpoint.record['id']} is PRIVATE; only PUBLIC endpoints are subscribed to")
    if endpoint.record["status"] != "RUNNING":
        service.transition(KIND, workspace, endpoint, "SubscribeEndpoint")
    return "OK"


OPERATIONS: dict[str, Callable[..., Any]] = {
    "CreateEndpoint": create_endpoint,
    "ListEndpoints": list_endpoints,
    "ShowEndpoint": show_endpoint,
    "UpdateEndpoint": update_endpoint,
    "DeleteEndpoint": delete_endpoint,
    "SubscribeEndpoint": subscribe_endpoint,
}
