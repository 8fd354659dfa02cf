"""Workspaces: names unique per tenant; a workspace that still holds compute resources (endpoints) or applications
(service instances) cannot be deleted (DOC DeleteWorkspace); its models go with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import DuplicateName, ResourceInUse
from .core import Actor, Service
from .listing import Listing, Page, field_equals, page
from .onboarding import after_onboarding
from .store import Entry, Record, WorkspaceState

ALL_PROJECTS = "all_granted_eps"


@after_onboarding
def create_workspace(
    service: Service,
    actor: Actor,
    *,
    name: str,
    description: str = "",
    metastore_id: str | None = None,
    enterprise_project_id: str = "0",
    tags: list[dict[str, Any]] | None = None,
) -> Record:
    """A new workspace of the actor's tenant; DuplicateName when the tenant has one of that name.
    `access_url` is kept relative to the service's base (empty: the base itself)."""
    tenant = service.store.tenant(actor.tenant)
    if tenant.workspace_names.taken(name):
        raise DuplicateName(f"a workspace named {name!r} already exists")
    workspace_id = service.ids.uuid()
    record: Record = {
        "id": workspace_id,
        "name": name,
        "description": description,
        "create_time": service.timestamp(),
        "create_domain_name": actor.domain_name,
        "create_user_name": actor.user_name,
        "metastore_id": metastore_id or service.ids.uuid(),
        "access_url": "",
        "enterprise_project_id": enterprise_project_id,
    }
    if tags is not None:
        record["tags"] = [dict(tag) for tag in tags]
    tenant.workspaces[workspace_id] = WorkspaceState(Entry(record, created_seq=service.store.next_seq()))
    tenant.workspace_names.claim(name, workspace_id)
    return record


def list_workspaces(service: Service, actor: Actor, listing: Listing, *, enterprise_project_id: str = ALL_PROJECTS) -> Page[Entry]:
    every_project = not enterprise_project_id or enterprise_project_id == ALL_PROJECTS
    tests = [] if every_project else [field_equals("enterprise_project_id", enterprise_project_id)]
    workspaces = service.store.existing(actor.tenant).workspaces
    return page(workspaces, listing, tests, entry_of=lambda workspace: workspace.entry)


def update_workspace(
    service: Service,
    actor: Actor,
    workspace: WorkspaceState,
    *,
    name: str | None = None,
    description: str | None = None,
    metastore_id: str | None = None,
    enterprise_project_id: str | None = None,
) -> Record:
    """Change what is given; DuplicateName when another of the tenant's workspaces has the new name."""
    record = workspace.entry.record
    names = service.store.tenant(actor.tenant).workspace_names
    if name is not None:
        if names.taken(name, except_id=record["id"]):
            raise DuplicateName(f"a workspace named {name!r} already exists")
        names.claim(name, record["id"], releasing=record["name"])
    changes = {"name": name, "description": description, "metastore_id": metastore_id, "enterprise_project_id": enterprise_project_id}
    record.update((key, value) for key, value in changes.items() if value is not None)
    return record


def delete_workspace(service: Service, actor: Actor, workspace: WorkspaceState) -> None:
    """Gone with its models; ResourceInUse while it holds endpoints or service instances."""
    workspace_id = workspace.entry.record["id"]
    if workspace.holds_compute():
        held = {"endpoints": len(workspace.endpoints), "service instances": len(workspace.instances)}
        listing = ", ".join(f"{count} {what}" for what, count in held.items() if count)
        raise ResourceInUse(f"workspace {workspace_id} still holds {listing}; delete them first")
    tenant = service.store.tenant(actor.tenant)
    tenant.workspace_names.release(workspace.entry.record["name"])
    del tenant.workspaces[workspace_id]


OPERATIONS: dict[str, Callable[..., Any]] = {
    "CreateWorkspace": create_workspace,
    "ListWorkspaces": list_workspaces,
    "UpdateWorkspace": update_workspace,
    "DeleteWorkspace": delete_workspace,
}
