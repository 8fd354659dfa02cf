"""Model definitions and their versions; a model or version that a service instance uses cannot be removed."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import DuplicateName, ResourceInUse, ResourceNotFound, StateConflict
from .fabric import Call, Fabric
from .paging import common_filters, page
from .store import Entry, WorkspaceState

KIND = "model"
SORT_FIELDS = {"CREATE_TIME": "create_time", "UPDATE_TIME": "update_time", "NAME": "name"}


def _new_version(fabric: Fabric, call: Call, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": fabric.ids.uuid(),
        "name": spec["name"],
        "cap_white_list": [],
        "description": spec.get("description", ""),
        "config": copy.deepcopy(spec.get("config", {})),
        "create_time": fabric.timestamp(),
        "create_user": call.caller.user(),
    }


def _name_taken(workspace: WorkspaceState, name: str, except_id: str | None = None) -> bool:
    owner = workspace.model_names.get(name)
    return owner is not None and owner != except_id


def create_model(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    body = call.body
    if _name_taken(workspace, body["name"]):
        raise DuplicateName(f"a model named {body['name']!r} already exists in workspace {call.path['workspace_id']}")
    version = _new_version(fabric, call, body["version"])
    model_id, stamp = fabric.ids.uuid(), fabric.timestamp()
    record = {
        "visibility": "PRIVATE",
        "id": model_id,
        "name": body["name"],
        "description": body.get("description", ""),
        "type": body["type"],
        "create_time": stamp,
        "update_time": stamp,
        "current_version": version,
        "create_user": call.caller.user(),
        "update_user": call.caller.user(),
    }
    workspace.models[model_id] = Entry(record, versions={version["id"]: version}, created_seq=fabric.store.next_seq())
    workspace.model_names[record["name"]] = model_id
    return {"id": model_id, "version_id": version["id"]}


def list_models(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    query, tests = call.query, common_filters(call.query, "id")
    sort_by, order = query.get("sort_by", "CREATE_TIME"), query.get("order_by", "DESC")
    key = None if sort_by == "CREATE_TIME" else (lambda e, f=SORT_FIELDS[sort_by]: e.record[f])
    total, chosen = page(workspace.models, query, tests, sort_key=key, descending=order == "DESC")
    return {"total": total, "models": [entry.record for entry in chosen]}


def _used_versions(workspace: WorkspaceState, model_id: str) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for instance in workspace.instances.values():
        source = instance.record["source"]
        if source["id"] == model_id:
            used.setdefault(source["version_id"], []).append(instance.record["id"])
    return used


def update_model(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["model_id"])
    body, record = call.body, entry.record
    if "name" in body and _name_taken(workspace, body["name"], except_id=record["id"]):
        raise DuplicateName(f"a model named {body['name']!r} already exists in workspace {call.path['workspace_id']}")
    if "current_version_id" in body and body["current_version_id"] not in entry.versions:
        raise ResourceNotFound(f"model version {body['current_version_id']} does not exist in model {record['id']}")
    if "name" in body:
        workspace.model_names.pop(record["name"], None)
        workspace.model_names[body["name"]] = record["id"]
    for name in ("name", "description"):
        if name in body:
            record[name] = body[name]
    if "current_version_id" in body:
        record["current_version"] = entry.versions[body["current_version_id"]]
    if "version" in body:  # carrying a version creates it and makes it current (DOC)
        version = _new_version(fabric, call, body["version"])
        entry.versions[version["id"]] = version
        record["current_version"] = version
    record["update_time"] = fabric.timestamp()
    record["update_user"] = call.caller.user()
    return record


def cleanup_model(fabric: Fabric, call: Call) -> str:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["model_id"])
    used = _used_versions(workspace, entry.record["id"])
    if used:
        instances = sorted(i for ids in used.values() for i in ids)
        raise ResourceInUse(f"model {entry.record['id']} is used by service instance(s) {', '.join(instances)}; delete them first")
    workspace.model_names.pop(entry.record["name"], None)
    del workspace.models[entry.record["id"]]
    return "OK"


def list_versions(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["model_id"])
    versions = [
        v
        for v in reversed(entry.versions.values())
        if ("version_id" not in call.query or v["id"] == call.query["version_id"])
        and ("name" not in call.query or call.query["name"].lower() in v["name"].lower())
    ]
    offset, limit = call.query.get("offset", 0), call.query.get("limit", 10)
    return {"total": len(versions), "versions": versions[offset : offset + limit]}


def delete_version(fabric: Fabric, call: Call) -> str:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    entry = fabric.entry(workspace, KIND, call.path["model_id"])
    version_id = call.path["version_id"]
    if version_id not in entry.versions:
        raise ResourceNotFound(f"model version {version_id} does not exist in model {entry.record['id']}")
    users = _used_versions(workspace, entry.record["id"]).get(version_id)
    if users:
        raise ResourceInUse(f"model version {version_id} is used by service instance(s) {', '.join(sorted(users))}")
    if entry.record["current_version"]["id"] == version_id:
        raise StateConflict(f"model version {version_id} is the model's current version; make another version current first")
    del entry.versions[version_id]
    return "OK"


OPERATIONS = {
    "CreateModelDefinition": create_model,
    "ListModels": list_models,
    "UpdateModelDefinition": update_model,
    "CleanupModel": cleanup_model,
    "ListModelVersions": list_versions,
    "DeleteModelVersion": delete_version,
}
