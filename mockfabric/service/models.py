"""Model definitions and their versions; a model or version that a service instance uses cannot be removed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..errors import DuplicateName, ResourceInUse
from .core import Actor, Service
from .listing import Listing, Page, page
from .onboarding import after_onboarding
from .store import Entry, Record, WorkspaceState
from .versions import make_current, page_of, refuse_current, version_of

KIND = "model"
SORT_FIELDS = {"UPDATE_TIME": "update_time", "NAME": "name"}  # CREATE_TIME is creation order


def _new_version(service: Service, actor: Actor, spec: dict[str, Any]) -> Record:
    return {
        "id": service.ids.uuid(),
        "name": spec["name"],
        "cap_white_list": [],
        "description": spec.get("description", ""),
        "config": copy.deepcopy(spec.get("config", {})),
        "create_time": service.timestamp(),
        "create_user": actor.user(),
    }


def _refuse_taken(workspace: WorkspaceState, name: str, except_id: str | None = None) -> None:
    if workspace.model_names.taken(name, except_id):
        raise DuplicateName(f"a model named {name!r} already exists in workspace {workspace.entry.record['id']}")


@after_onboarding
def create_model(
    service: Service, actor: Actor, workspace: WorkspaceState, *, name: str, type: str, version: dict[str, Any], description: str = ""
) -> Record:
    """A new model with its first version current; the answer is the model with `version_id`, that version's id."""
    _refuse_taken(workspace, name)
    first = _new_version(service, actor, version)
    model_id, stamp = service.ids.uuid(), service.timestamp()
    record: Record = {
        "visibility": "PRIVATE",
        "id": model_id,
        "name": name,
        "description": description,
        "type": type,
        "create_time": stamp,
        "update_time": stamp,
        "current_version": first,
        "create_user": actor.user(),
        "update_user": actor.user(),
    }
    workspace.models[model_id] = Entry(record, versions={first["id"]: first}, created_seq=service.store.next_seq())
    workspace.model_names.claim(name, model_id)
    return dict(record, version_id=first["id"])


def list_models(service: Service, workspace: WorkspaceState, listing: Listing) -> Page[Entry]:
    """The workspace's models; with visibility PUBLIC or ALL, the platform's public models too."""
    field = SORT_FIELDS.get(listing.sort_by or "")
    candidates = workspace.models
    if listing.visibility in ("PUBLIC", "ALL"):
        candidates = {**workspace.models, **service.public.models}
    return page(candidates, listing, sort_key=(lambda e: e.record[field]) if field else None)


def _used_versions(workspace: WorkspaceState, model_id: str) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for instance in workspace.instances.values():
        source = instance.record["source"]
        if source["id"] == model_id:
            used.setdefault(source["version_id"], []).append(instance.record["id"])
    return used


def update_model(
    service: Service,
    actor: Actor,
    workspace: WorkspaceState,
    model: Entry,
    *,
    name: str | None = None,
    description: str | None = None,
    current_version_id: str | None = None,
    version: dict[str, Any] | None = None,
) -> Record:
    """Change what is given; a new `version` is created and made current (DOC)."""
    record = model.record
    if name is not None:
        _refuse_taken(workspace, name, except_id=record["id"])
    current = version_of(model, current_version_id, KIND) if current_version_id is not None else None
    if name is not None:
        workspace.model_names.claim(name, record["id"], releasing=record["name"])
    record.update((key, value) for key, value in {"name": name, "description": description}.items() if value is not None)
    if current is not None:
        make_current(model, current)
    if version is not None:
        make_current(model, _new_version(service, actor, version))
    record["update_time"] = service.timestamp()
    record["update_user"] = actor.user()
    return record


def cleanup_model(workspace: WorkspaceState, model: Entry) -> str:
    """Gone with its versions; ResourceInUse while a service instance uses it."""
    used = _used_versions(workspace, model.record["id"])
    if used:
        instances = sorted(i for ids in used.values() for i in ids)
        raise ResourceInUse(f"model {model.record['id']} is used by service instance(s) {', '.join(instances)}; delete them first")
    workspace.model_names.release(model.record["name"])
    del workspace.models[model.record["id"]]
    return "OK"


def list_versions(visible_model: Entry, listing: Listing, *, version_id: str | None = None) -> Page[Record]:
    """Newest first, filtered by exact id and fuzzy name (a platform public model's versions too)."""
    return page_of(visible_model, listing, version_id)


def delete_version(workspace: WorkspaceState, model: Entry, *, version_id: str) -> str:
    """ResourceInUse while an instance uses it; StateConflict while it is the model's current version."""
    version_of(model, version_id, KIND)
    users = _used_versions(workspace, model.record["id"]).get(version_id)
    if users:
        raise ResourceInUse(f"model version {version_id} is used by service instance(s) {', '.join(sorted(users))}")
    refuse_current(model, version_id, KIND)
    del model.versions[version_id]
    return "OK"


OPERATIONS: dict[str, Callable[..., Any]] = {
    "CreateModelDefinition": create_model,
    "ListModels": list_models,
    "UpdateModelDefinition": update_model,
    "CleanupModel": cleanup_model,
    "ListModelVersions": list_versions,
    "DeleteModelVersion": delete_version,
}
