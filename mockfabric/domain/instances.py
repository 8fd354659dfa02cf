"""Service instances: a model version deployed on a RUNNING inference endpoint, within the endpoint's capacity."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from ..errors import CapacityExceeded, ResourceNotFound, RuleViolated, StateConflict, UnsupportedChange
from .fabric import Call, Fabric
from .paging import common_filters, field_equals, page
from .store import Entry, WorkspaceState

KIND = "service_instance"
BRIEF_FIELDS = (
    "visibility",
    "source",
    "id",
    "name",
    "description",
    "endpoint_id",
    "status",
    "create_time",
    "update_time",
    "duration",
    "create_user",
    "type",
    "config",
    "error_code",
    "error_msg",
)
DEFAULT_MAX = 1  # instances a deployment may scale to when the request names no resource (inferred)


def _resource(entry: Entry) -> dict[str, Any]:
    resource: dict[str, Any] = entry.record["config"]["model_instance_config"]["resource"]
    return resource


def _drawn(workspace: WorkspaceState, endpoint_id: str, except_id: str | None = None) -> int:
    return sum(
        _resource(i)["max"] for i in workspace.instances.values() if i.record["endpoint_id"] == endpoint_id and i.record["id"] != except_id
    )


def _check_capacity(workspace: WorkspaceState, endpoint: Entry, resource: dict[str, Any], except_id: str | None = None) -> None:
    if resource["min"] > resource["max"]:
        raise RuleViolated(f"body.config.model_instance_config.resource.min: {resource['min']} must not exceed max {resource['max']}")
    mu = endpoint.record.get("reserved_resource", {}).get("mu")
    if mu is None:
        return  # an endpoint that reserves no MU resources sets no capacity to check against
    if resource["max"] > mu["max"]:
        raise CapacityExceeded(
            f"body.config.model_instance_config.resource.max: {resource['max']} exceeds the endpoint's maximum {mu['max']}"
        )
    drawn = _drawn(workspace, endpoint.record["id"], except_id)
    if drawn + resource["max"] > mu["max"]:
        raise CapacityExceeded(
            f"endpoint {endpoint.record['id']} has {mu['max'] - drawn} of {mu['max']} units left; "
            f"the deployment asks for up to {resource['max']}"
        )


def deploy_instance(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    body = call.body
    endpoint = fabric.entry(workspace, "endpoint", body["endpoint_id"])
    model = fabric.entry(workspace, "model", body["source"]["id"])
    version_id = body["source"].get("version_id") or model.record["current_version"]["id"]
    if version_id not in model.versions:
        raise ResourceNotFound(f"model version {version_id} does not exist in model {model.record['id']}")
    if endpoint.record["type"] != "inference":
        raise RuleViolated(f"body.endpoint_id: endpoint {endpoint.record['id']} is of type {endpoint.record['type']}, not inference")
    if endpoint.record["status"] != "RUNNING":
        raise StateConflict(f"endpoint {endpoint.record['id']} is {endpoint.record['status']}; deploy once it is RUNNING")
    mu = endpoint.record.get("reserved_resource", {}).get("mu", {})
    requested = body.get("config", {}).get("model_instance_config", {}).get("resource")
    resource = copy.deepcopy(requested) if requested else {"spec_code": mu.get("spec_code", "mu.llama3.8b"), "min": 0, "max": DEFAULT_MAX}
    if mu and resource["spec_code"] != mu["spec_code"]:
        raise RuleViolated(
            f"body.config.model_instance_config.resource.spec_code: {resource['spec_code']!r} differs from "
            f"the endpoint's reserved spec {mu['spec_code']!r}"
        )
    _check_capacity(workspace, endpoint, resource)
    instance_id, now, stamp = fabric.ids.uuid(), fabric.now(), fabric.timestamp()
    base = f"{call.caller.base_url}v1/workspaces/{call.path['workspace_id']}/services/instances/{instance_id}"
    record = {
        "visibility": "PRIVATE",
        "source": {"id": model.record["id"], "version_id": version_id},
        "id": instance_id,
        "name": body["name"],
        "description": body.get("description", ""),
        "endpoint_id": endpoint.record["id"],
        "status": fabric.lifecycle.initial(KIND, "PRIVATE"),
        "create_time": stamp,
        "update_time": stamp,
        "create_user": call.caller.ep_user(),
        "update_user": call.caller.ep_user(),
        "type": "LLM_MODEL",
        "url": {"name": "ApiInvoke", "address": f"{base}/invocations", "type": "PUBLIC"},
        "config": {"model_instance_config": {"resource": resource}},
    }
    entry = Entry(record, created_seq=fabric.store.next_seq())
    workspace.instances[instance_id] = entry
    fabric.lifecycle.enter(KIND, workspace, entry, record["status"], now)
    return {"id": instance_id}


def _duration(fabric: Fabric, record: dict[str, Any]) -> int:
    """Running time in seconds since creation (the unit is undocumented; inferred)."""
    created = datetime.fromisoformat(record["create_time"])  # the service's "...Z" form; cheaper than strptime per listed item
    return max(0, int(fabric.now() - created.timestamp()))


def _view(fabric: Fabric, entry: Entry, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    record = dict(entry.record, duration=_duration(fabric, entry.record))
    return record if fields is None else {k: record[k] for k in fields if k in record}


def list_instances(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    query, tests = call.query, common_filters(call.query, "id")
    if "endpoint_id" in query:
        tests.append(field_equals("endpoint_id", query["endpoint_id"]))
    if "source_id" in query:
        tests.append(lambda e: e.record["source"]["id"] == query["source_id"])
    if "version_id" in query:
        tests.append(lambda e: e.record["source"]["version_id"] == query["version_id"])
    sort_by, descending = query.get("sort_by"), query.get("order_by", "DESC") == "DESC"
    key = (lambda e: _duration(fabric, e.record)) if sort_by == "DURATION" else None
    if sort_by == "CREATE_TIME":
        key = lambda e: e.record["create_time"]  # noqa: E731 - same sort, explicit when asked
    total, chosen = page(workspace.instances, query, tests, sort_key=key, descending=descending)
    for entry in chosen:
        fabric.lifecycle.note_read(entry)
    return {"total": total, "service_instances": [_view(fabric, e, BRIEF_FIELDS) for e in chosen]}


def show_instance(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["instance_id"])
    fabric.lifecycle.note_read(entry)
    return _view(fabric, entry)


def update_instance(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["instance_id"])
    body, record = call.body, entry.record
    source = body.get("source")
    if source and (
        source["id"] != record["source"]["id"] or source.get("version_id", record["source"]["version_id"]) != record["source"]["version_id"]
    ):
        raise UnsupportedChange("body.source: changing the model or model version of a service instance is not supported")
    wanted = body.get("config", {}).get("model_instance_config", {}).get("resource")
    resource = dict(_resource(entry))
    if wanted:
        if wanted["min"] != resource["min"]:
            raise UnsupportedChange(f"body.config.model_instance_config.resource.min: changing min ({resource['min']}) is not supported")
        resource["max"] = wanted["max"]
        endpoint = workspace.endpoints.get(record["endpoint_id"])
        if endpoint is not None:
            _check_capacity(workspace, endpoint, resource, except_id=record["id"])
    fabric.transition(KIND, workspace, entry, "UpdateServiceInstance")
    for name in ("name", "description"):
        if name in body:
            record[name] = body[name]
    record["config"]["model_instance_config"]["resource"] = resource
    record["update_user"] = call.caller.ep_user()
    return {"id": record["id"]}


def delete_instance(fabric: Fabric, call: Call) -> str:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["instance_id"])
    fabric.transition(KIND, workspace, entry, "DeleteServiceInstance")
    return "OK"


OPERATIONS = {
    "DeployServiceInstance": deploy_instance,
    "ListServicesInstances": list_instances,
    "ShowServiceInstanceDetail": show_instance,
    "UpdateServiceInstance": update_instance,
    "DeleteServiceInstance": delete_instance,
}
