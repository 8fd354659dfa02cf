"""Service instances: a model version deployed on a RUNNING inference endpoint, within the endpoint's capacity."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..errors import CapacityExceeded, RuleViolated, StateConflict, UnsupportedChange
from .core import Actor, Service
from .listing import Listing, Page, page
from .onboarding import after_onboarding
from .public import address_in
from .store import Entry, Record, WorkspaceState
from .versions import version_of

KIND = "service_instance"
DEFAULT_MAX = 1  # instances a deployment may scale to when the request names no resource (inferred)
RESOURCE = "config.model_instance_config.resource"  # where a deployment's resource request sits, in requests and records


def resource_of(entry: Entry) -> dict[str, Any]:
    """The resource a deployed instance draws from its endpoint (spec_code, min, max)."""
    resource: dict[str, Any] = entry.record["config"]["model_instance_config"]["resource"]
    return resource


def drawn_from(workspace: WorkspaceState, endpoint_id: str, except_id: str | None = None) -> int:
    """The units the endpoint's deployed instances (but `except_id`) may scale to, together."""
    return sum(
        resource_of(i)["max"]
        for i in workspace.instances.values()
        if i.record["endpoint_id"] == endpoint_id and i.record["id"] != except_id
    )


def _requested(config: dict[str, Any] | None) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (config or {}).get("model_instance_config", {}).get("resource")
    return found


def _check_capacity(workspace: WorkspaceState, endpoint: Entry, resource: dict[str, Any], except_id: str | None = None) -> None:
    if resource["min"] > resource["max"]:
        raise RuleViolated(f"{resource['min']} must not exceed max {resource['max']}", field=f"{RESOURCE}.min")
    mu = endpoint.record.get("reserved_resource", {}).get("mu")
    if mu is None:
        return  # an endpoint that reserves no MU resources sets no capacity to check against
    if resource["max"] > mu["max"]:
        raise CapacityExceeded(f"{resource['max']} exceeds the endpoint's maximum {mu['max']}", field=f"{RESOURCE}.max")
    drawn = drawn_from(workspace, endpoint.record["id"], except_id)
    if drawn + resource["max"] > mu["max"]:
        raise CapacityExceeded(
            f"endpoint {endpoint.record['id']} has {mu['max'] - drawn} of {mu['max']} units left; "
            f"the deployment asks for up to {resource['max']}"
        )


@after_onboarding
def deploy_instance(
    service: Service,
    actor: Actor,
    workspace: WorkspaceState,
    *,
    name: str,
    endpoint_id: str,
    source: dict[str, Any],
    description: str = "",
    config: dict[str, Any] | None = None,
) -> Record:
    """A model version (the model's current one unless named) deployed on a RUNNING inference endpoint, within its
    capacity and on its reserved spec; the invocation address is kept relative to the service's base."""
    endpoint = service.entry(workspace, "endpoint", endpoint_id)
    model = service.entry(workspace, "model", source["id"], public=True)
    version_id = source.get("version_id") or model.record["current_version"]["id"]
    version_of(model, version_id, "model")
    if endpoint.record["type"] != "inference":
        raise RuleViolated(f"endpoint {endpoint.record['id']} is of type {endpoint.record['type']}, not inference", field="endpoint_id")
    if endpoint.record["status"] != "RUNNING":
        raise StateConflict(f"endpoint {endpoint.record['id']} is {endpoint.record['status']}; deploy once it is RUNNING")
    mu = endpoint.record.get("reserved_resource", {}).get("mu", {})
    requested = _requested(config)
    resource = copy.deepcopy(requested) if requested else {"spec_code": mu.get("spec_code", "mu.llama3.8b"), "min": 0, "max": DEFAULT_MAX}
    if mu and resource["spec_code"] != mu["spec_code"]:
        raise RuleViolated(
            f"{resource['spec_code']!r} differs from the endpoint's reserved spec {mu['spec_code']!r}", field=f"{RESOURCE}.spec_code"
        )
    _check_capacity(workspace, endpoint, resource)
    instance_id, now, stamp = service.ids.uuid(), service.now(), service.timestamp()
    address = address_in(workspace.entry.record["id"], instance_id)
    record: Record = {
        "visibility": "PRIVATE",
        "source": {"id": model.record["id"], "version_id": version_id},
        "id": instance_id,
        "name": name,
        "description": description,
        "endpoint_id": endpoint.record["id"],
        "status": service.lifecycle.initial(KIND, "PRIVATE"),
        "create_time": stamp,
        "update_time": stamp,
        "create_user": actor.ep_user(),
        "update_user": actor.ep_user(),
        "type": "LLM_MODEL",
        "url": {"name": "ApiInvoke", "address": address, "type": "PUBLIC"},
        "config": {"model_instance_config": {"resource": resource}},
    }
    entry = Entry(record, created_seq=service.store.next_seq())
    workspace.instances[instance_id] = entry
    service.lifecycle.enter(KIND, workspace, entry, record["status"], now)
    return record


def _duration(service: Service, record: Record) -> int:
    """Running time in seconds since creation (the unit is undocumented; inferred)."""
    created = datetime.fromisoformat(record["create_time"])  # the service's "...Z" form; cheaper than strptime per listed item
    return max(0, int(service.now() - created.timestamp()))


def _view(service: Service, workspace: WorkspaceState, entry: Entry) -> Record:
    """The record with its running time; a preset public service with its address as seen from the workspace."""
    record = entry.record
    view = dict(record, duration=_duration(service, record))
    if service.public.holds(entry):
        view["url"] = {"name": "ApiInvoke", "address": address_in(workspace.entry.record["id"], record["id"]), "type": "PUBLIC"}
    return view


SORT_KEYS: dict[str, Callable[[Service, Entry], Any]] = {
    "CREATE_TIME": lambda service, entry: entry.record["create_time"],
    "DURATION": lambda service, entry: _duration(service, entry.record),
}


def list_instances(
    service: Service,
    workspace: WorkspaceState,
    listing: Listing,
    *,
    endpoint_id: str | None = None,
    source_id: str | None = None,
    version_id: str | None = None,
) -> Page[Record]:
    tests = []
    if endpoint_id is not None:
        tests.append(lambda e: e.record["endpoint_id"] == endpoint_id)
    if source_id is not None:
        tests.append(lambda e: e.record["source"]["id"] == source_id)
    if version_id is not None:
        tests.append(lambda e: e.record["source"]["version_id"] == version_id)
    by = SORT_KEYS.get(listing.sort_by or "")
    candidates = workspace.instances
    if listing.visibility in ("PUBLIC", "ALL"):  # the platform's preset services too
        candidates = {**workspace.instances, **service.public.instances}
    found = page(candidates, listing, tests, sort_key=(lambda e: by(service, e)) if by else None)
    for entry in found.items:
        service.lifecycle.note_read(entry)
    return Page(found.total, [_view(service, workspace, entry) for entry in found.items])


def show_instance(service: Service, workspace: WorkspaceState, visible_instance: Entry) -> Record:
    service.lifecycle.note_read(visible_instance)
    return _view(service, workspace, visible_instance)


def update_instance(
    service: Service,
    actor: Actor,
    workspace: WorkspaceState,
    instance: Entry,
    *,
    name: str | None = None,
    description: str | None = None,
    source: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> Record:
    """UPDATING with the changes applied. Only the maximum of the resource may change (within the endpoint's
    capacity); another model, version or minimum is UnsupportedChange."""
    record = instance.record
    if source and (
        source["id"] != record["source"]["id"] or source.get("version_id", record["source"]["version_id"]) != record["source"]["version_id"]
    ):
        raise UnsupportedChange("changing the model or model version of a service instance is not supported", field="source")
    wanted = _requested(config)
    resource = dict(resource_of(instance))
    if wanted:
        if wanted["min"] != resource["min"]:
            raise UnsupportedChange(f"changing min ({resource['min']}) is not supported", field=f"{RESOURCE}.min")
        resource["max"] = wanted["max"]
        endpoint = workspace.endpoints.get(record["endpoint_id"])
        if endpoint is not None:
            _check_capacity(workspace, endpoint, resource, except_id=record["id"])
    service.transition(KIND, workspace, instance, "UpdateServiceInstance")
    record.update((key, value) for key, value in {"name": name, "description": description}.items() if value is not None)
    resource_of(instance)["max"] = resource["max"]  # the only part that may change
    record["update_user"] = actor.ep_user()
    return record


def delete_instance(service: Service, workspace: WorkspaceState, instance: Entry) -> str:
    service.transition(KIND, workspace, instance, "DeleteServiceInstance")
    return "OK"


OPERATIONS: dict[str, Callable[..., Any]] = {
    "DeployServiceInstance": deploy_instance,
    "ListServicesInstances": list_instances,
    "ShowServiceInstanceDetail": show_instance,
    "UpdateServiceInstance": update_instance,
    "DeleteServiceInstance": delete_instance,
}
