"""Workspaces: names unique per tenant; a workspace that still holds compute resources (endpoints) or applications
(service instances) cannot be deleted (DOC DeleteWorkspace); its models go with it."""

from __future__ import annotations

from typing import Any

from ..errors import DuplicateName, ResourceInUse
from .fabric import Call, Fabric
from .paging import field_equals, name_contains, page
from .store import Entry, WorkspaceState

ALL_PROJECTS = "all_granted_eps"


def _name_taken(fabric: Fabric, call: Call, name: str, except_id: str | None = None) -> bool:
    owner = fabric.store.existing(call.caller.tenant).workspace_names.get(name)
    return owner is not None and owner != except_id


def create_workspace(fabric: Fabric, call: Call) -> dict[str, Any]:
    body = call.body
    if _name_taken(fabric, call, body["name"]):
        raise DuplicateName(f"a workspace named {body['name']!r} already exists")
    workspace_id = fabric.ids.uuid()
    record = {
        "id": workspace_id,
        "name": body["name"],
        "description": body.get("description", ""),
        "create_time": fabric.timestamp(),
        "create_domain_name": call.caller.domain_name,
        "create_user_name": call.caller.user_name,
        "metastore_id": body.get("metastore_id") or fabric.ids.uuid(),
        "access_url": call.caller.base_url,
        "enterprise_project_id": body.get("enterprise_project_id", "0"),
    }
    if "tags" in body:
        record["tags"] = [dict(tag) for tag in body["tags"]]
    tenant = fabric.store.tenant(call.caller.tenant)
    tenant.workspaces[workspace_id] = WorkspaceState(Entry(record, created_seq=fabric.store.next_seq()))
    tenant.workspace_names[record["name"]] = workspace_id
    return record


def list_workspaces(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspaces = fabric.store.existing(call.caller.tenant).workspaces
    query, tests = call.query, []
    if "id" in query:
        tests.append(field_equals("id", query["id"]))
    if "name" in query:
        tests.append(name_contains(query["name"]))
    project = query.get("enterprise_project_id")
    if project and project != ALL_PROJECTS:
        tests.append(field_equals("enterprise_project_id", project))
    total, chosen = page(workspaces, query, tests, entry_of=lambda workspace: workspace.entry)
    return {"total": total, "workspaces": [entry.record for entry in chosen]}


def update_workspace(fabric: Fabric, call: Call) -> dict[str, Any]:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    record, body = workspace.entry.record, call.body
    if "name" in body and _name_taken(fabric, call, body["name"], except_id=record["id"]):
        raise DuplicateName(f"a workspace named {body['name']!r} already exists")
    names = fabric.store.tenant(call.caller.tenant).workspace_names
    if "name" in body:
        names.pop(record["name"], None)
        names[body["name"]] = record["id"]
    for name in ("name", "description", "metastore_id", "enterprise_project_id"):
        if name in body:
            record[name] = body[name]
    return record


def delete_workspace(fabric: Fabric, call: Call) -> None:
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    if workspace.holds_compute():
        held = {"endpoints": len(workspace.endpoints), "service instances": len(workspace.instances)}
        listing = ", ".join(f"{count} {what}" for what, count in held.items() if count)
        raise ResourceInUse(f"workspace {call.path['workspace_id']} still holds {listing}; delete them first")
    tenant = fabric.store.tenant(call.caller.tenant)
    tenant.workspace_names.pop(workspace.entry.record["name"], None)
    del tenant.workspaces[call.path["workspace_id"]]
    return None


OPERATIONS = {
    "CreateWorkspace": create_workspace,
    "ListWorkspaces": list_workspaces,
    "UpdateWorkspace": update_workspace,
    "DeleteWorkspace": delete_workspace,
}
