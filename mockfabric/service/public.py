"""Platform public resources: the catalog's public models and their preset public inference services.

What must hold: they belong to no tenant and no workspace; every tenant sees the same ones (listed with visibility
PUBLIC or ALL, shown and invoked from any of its workspaces, deployed on its own endpoints); no operation changes or
deletes them (they are not in the store: a reset, an import or a state file never touches them); a preset service is
always RUNNING and draws on no tenant's endpoint.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from .catalog import Catalog, PublicModel
from .store import Entry, Record

PLATFORM_USER = {"domain_name": "huaweicloud-fabric", "domain_id": "", "user_name": "platform", "user_id": ""}
PLATFORM_ENDPOINT = uuid.uuid5(uuid.NAMESPACE_URL, "mockfabric:platform-endpoint").hex  # a 32-hex endpoint id, as the service's
CREATED = "2025-01-01T00:00:00.000Z"  # when the platform's resources appeared (the emulator's choice)


@dataclass(frozen=True, slots=True)
class PublicResources:
    """The platform's public models and preset services, by id."""

    models: dict[str, Entry] = field(default_factory=dict)
    instances: dict[str, Entry] = field(default_factory=dict)

    def collection(self, kind: str) -> dict[str, Entry]:
        return {"model": self.models, "service_instance": self.instances}.get(kind, {})

    def holds(self, entry: Entry) -> bool:
        """Whether `entry` is one of the platform's (and so is read-only)."""
        found = entry.record["id"]
        return entry is self.models.get(found) or entry is self.instances.get(found)


def public_resources(catalog: Catalog) -> PublicResources:
    resources = PublicResources()
    for model in catalog.public_models:
        version = _version(model)
        record: Record = {
            "visibility": "PUBLIC",
            "id": model.id,
            "name": model.name,
            "description": model.description,
            "type": "LLM_MODEL",
            "create_time": CREATED,
            "update_time": CREATED,
            "current_version": version,
            "create_user": dict(PLATFORM_USER),
            "update_user": dict(PLATFORM_USER),
        }
        resources.models[model.id] = Entry(record, versions={version["id"]: version})
        resources.instances[model.service_id] = Entry(_service(model, version["id"], catalog))
    return resources


def _version(model: PublicModel) -> Record:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"mockfabric:public-model:{model.id}:v1")),
        "name": "v1",
        "cap_white_list": [],
        "description": "",
        "config": {"llm_model_config": {"base_model_type": model.base_model_type, "model_path": ""}},
        "create_time": CREATED,
        "create_user": dict(PLATFORM_USER),
    }


def _service(model: PublicModel, version_id: str, catalog: Catalog) -> Record:
    """The preset service's record; its address depends on the workspace it is viewed from (`address_in`)."""
    base = catalog.base_model(model.base_model_type) or {}
    return {
        "visibility": "PUBLIC",
        "source": {"id": model.id, "version_id": version_id},
        "id": model.service_id,
        "name": model.name,
        "description": f"preset public inference service of {model.name}",
        "endpoint_id": PLATFORM_ENDPOINT,
        "status": "RUNNING",
        "create_time": CREATED,
        "update_time": CREATED,
        "create_user": {"domain_name": PLATFORM_USER["domain_name"], "user_name": PLATFORM_USER["user_name"]},
        "update_user": {"domain_name": PLATFORM_USER["domain_name"], "user_name": PLATFORM_USER["user_name"]},
        "type": "LLM_MODEL",
        "config": {"model_instance_config": {"resource": {"spec_code": "mu.platform", "min": 1, "max": base.get("num_of_mu", 1)}}},
    }


def address_in(workspace_id: str, instance_id: str) -> str:
    """An instance's invocation address, relative to the service's base, as seen from a workspace."""
    return f"v1/workspaces/{workspace_id}/services/instances/{instance_id}/invocations"
