"""Workspace tags (TMS style): added and removed in batches, listed per workspace and per project, and used to find
workspaces. A workspace holds at most MAX_TAGS tags, one value per key (the TMS rule; inferred for Fabric)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import RuleViolated
from .core import Actor, Service
from .listing import Listing, Page, cut, fuzzy
from .store import Record, WorkspaceState

MAX_TAGS = 20
PROJECT_SYS_TAG = "_sys_enterprise_project_id"  # the system tag TMS keeps for a resource's enterprise project


def _tags(workspace: WorkspaceState) -> list[dict[str, str]]:
    found: list[dict[str, str]] = workspace.entry.record.setdefault("tags", [])
    return found


def _sys_tags(workspace: WorkspaceState) -> list[dict[str, str]]:
    project = {"key": PROJECT_SYS_TAG, "value": workspace.entry.record.get("enterprise_project_id", "0")}
    return [project, *workspace.extras.get("sys_tags", [])]


def create_tags(
    workspace: WorkspaceState, *, tags: list[dict[str, str]] | None = None, sys_tags: list[dict[str, str]] | None = None
) -> str:
    """Add each tag, replacing the value of a key it already has; RuleViolated past MAX_TAGS (nothing is added then)."""
    current = {tag["key"]: tag.get("value", "") for tag in _tags(workspace)}
    current.update((tag["key"], tag.get("value", "")) for tag in tags or [])
    if len(current) > MAX_TAGS:
        raise RuleViolated(f"a workspace holds at most {MAX_TAGS} tags; this would make {len(current)}", field="tags")
    workspace.entry.record["tags"] = [{"key": key, "value": value} for key, value in current.items()]
    extra = {tag["key"]: tag["value"] for tag in workspace.extras.get("sys_tags", [])}
    extra.update((tag["key"], tag["value"]) for tag in sys_tags or [])
    workspace.extras["sys_tags"] = [{"key": key, "value": value} for key, value in extra.items()]
    return "OK"


def delete_tags(
    workspace: WorkspaceState, *, tags: list[dict[str, str]] | None = None, sys_tags: list[dict[str, str]] | None = None
) -> str:
    """Remove each key (only when its value matches, if a value is given); keys it does not have are no error."""

    def kept(current: list[dict[str, str]], removed: list[dict[str, str]]) -> list[dict[str, str]]:
        def gone(tag: dict[str, str]) -> bool:
            return any(r["key"] == tag["key"] and r.get("value") in (None, tag.get("value")) for r in removed)

        return [tag for tag in current if not gone(tag)]

    workspace.entry.record["tags"] = kept(_tags(workspace), tags or [])
    workspace.extras["sys_tags"] = kept(workspace.extras.get("sys_tags", []), sys_tags or [])
    return "OK"


def list_workspace_tags(workspace: WorkspaceState, listing: Listing) -> Record:
    return {"tags": cut(list(_tags(workspace)), listing).items, "sys_tags": _sys_tags(workspace)}


def list_project_tags(service: Service, actor: Actor, listing: Listing, *, use_predefine_tags: bool) -> Record:
    """The keys the tenant's workspaces use, each with its values; predefined tags: none in the emulator."""
    if use_predefine_tags:
        return {"tags": []}
    values: dict[str, list[str]] = {}
    for workspace in service.store.existing(actor.tenant).workspaces.values():
        for tag in _tags(workspace):
            seen = values.setdefault(tag["key"], [])
            if tag.get("value", "") not in seen:
                seen.append(tag.get("value", ""))
    return {"tags": cut([{"key": key, "values": found} for key, found in values.items()], listing).items}


def _matches(
    workspace: WorkspaceState,
    without_any_tag: bool | None,
    tags: list[dict[str, Any]],
    matches: list[dict[str, str]],
    sys_tags: list[dict[str, Any]],
) -> bool:
    own = {tag["key"]: tag.get("value", "") for tag in _tags(workspace)}
    if without_any_tag:
        return not own
    system = {tag["key"]: tag["value"] for tag in _sys_tags(workspace)}
    for wanted, have in ((tags, own), (sys_tags, system)):
        for tag in wanted:
            if tag["key"] not in have or (tag.get("values") and have[tag["key"]] not in tag["values"]):
                return False
    name = workspace.entry.record["name"]
    return all(match["key"] != "resource_name" or fuzzy(name, match.get("value", "")) for match in matches)


def _filtered(service: Service, actor: Actor, body: dict[str, Any]) -> list[WorkspaceState]:
    args = (body.get("without_any_tag"), body.get("tags") or [], body.get("matches") or [], body.get("sys_tags") or [])
    return [ws for ws in service.store.existing(actor.tenant).workspaces.values() if _matches(ws, *args)]


def filter_workspaces(service: Service, actor: Actor, listing: Listing, body: dict[str, Any] | None = None) -> Page[Record]:
    """The tenant's workspaces with the tags asked for (every tag param must hold), oldest first."""
    chosen = [
        {
            "resource_id": ws.entry.record["id"],
            "resource_detail": {},
            "resource_name": ws.entry.record["name"],
            "tags": list(_tags(ws)),
            "sys_tags": _sys_tags(ws),
        }
        for ws in _filtered(service, actor, body or {})
    ]
    return cut(chosen, listing)


def count_workspaces(service: Service, actor: Actor, body: dict[str, Any] | None = None) -> Record:
    return {"total_count": len(_filtered(service, actor, body or {}))}


OPERATIONS: dict[str, Callable[..., Any]] = {
    "BatchCreateFabricWorkspaceTags": create_tags,
    "BatchDeleteFabricWorkspaceTags": delete_tags,
    "ListFabricWorkspaceTags": list_workspace_tags,
    "ListFabricProjectTags": list_project_tags,
    "ListTagFabricWorkspaces": filter_workspaces,
    "CountTagFabricWorkspaces": count_workspaces,
}
