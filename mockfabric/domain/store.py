"""Tenant-scoped state behind one lock.

Every resource is kept as its public JSON shape (`record`, exactly what the contract describes) plus the little
bookkeeping the emulator needs beside it (`Entry`). Workspaces hold their endpoints, models and instances, so a
list or lookup touches one workspace's dicts and never scans other workspaces or tenants.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

STATE_FORMAT = 1


@dataclass(slots=True)
class Pending:
    """A transient status on its way to `target` (`None` = the resource disappears)."""

    target: str | None
    policy: str
    due: float
    polls_left: int


@dataclass(slots=True)
class Entry:
    record: dict[str, Any]
    pending: Pending | None = None
    previous: dict[str, Any] | None = None  # endpoint as it was before its last update (ShowEndpoint ?version=PREVIOUS)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # model versions by id, oldest first
    created_seq: int = 0


@dataclass(slots=True)
class WorkspaceState:
    entry: Entry
    endpoints: dict[str, Entry] = field(default_factory=dict)
    models: dict[str, Entry] = field(default_factory=dict)
    instances: dict[str, Entry] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)  # id -> kind of every resource in a transient status
    model_names: dict[str, str] = field(default_factory=dict)  # name -> model id: uniqueness without a scan (derived, not exported)

    def collection(self, kind: str) -> dict[str, Entry]:
        return {"endpoint": self.endpoints, "model": self.models, "service_instance": self.instances}[kind]

    def is_empty(self) -> bool:
        return not (self.endpoints or self.models or self.instances)


@dataclass(slots=True)
class Tenant:
    workspaces: dict[str, WorkspaceState] = field(default_factory=dict)
    workspace_names: dict[str, str] = field(default_factory=dict)  # name -> workspace id (derived, not exported)


class Store:
    """All tenants' state. Callers hold `lock` around every read-modify-write (the web layer does it per request)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tenants: dict[str, Tenant] = {}
        self._seq = 0

    def tenant(self, tenant_id: str) -> Tenant:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            tenant = self.tenants[tenant_id] = Tenant()
        return tenant

    def existing(self, tenant_id: str) -> Tenant:
        """The tenant's state for reading: an empty, unregistered Tenant when it has none, so that requests with
        ever-new credentials (each its own tenant) do not leave empty tenants behind."""
        return self.tenants.get(tenant_id) or Tenant()

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def reset(self, tenant_id: str | None = None) -> None:
        with self.lock:
            if tenant_id is None:
                self.tenants.clear()
            else:
                self.tenants.pop(tenant_id, None)

    def export(self, tenant_id: str | None = None) -> dict[str, Any]:
        """A JSON-ready deep copy of the state (all tenants, or one)."""
        with self.lock:
            chosen = self.tenants if tenant_id is None else {tenant_id: self.tenants.get(tenant_id, Tenant())}
            return {
                "format": STATE_FORMAT,
                "seq": self._seq,
                "tenants": {tid: _exported(tenant) for tid, tenant in chosen.items()},
            }

    def restore(self, state: dict[str, Any], tenant_id: str | None = None) -> None:
        """Replace the state (or one tenant's) by an export; the result exports to the same JSON."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"unsupported state format {state.get('format')!r} (expected {STATE_FORMAT})")
        tenants = {tid: _tenant_from(data) for tid, data in state.get("tenants", {}).items()}
        with self.lock:
            if tenant_id is None:
                self.tenants = tenants
            else:
                self.tenants[tenant_id] = tenants.get(tenant_id, Tenant())
            self._seq = max(self._seq, int(state.get("seq", 0)))


def _exported(tenant: Tenant) -> dict[str, Any]:
    """The tenant as JSON-ready data, without the name indexes (they are rebuilt from the records on restore)."""
    data = copy.deepcopy(asdict(tenant))
    data.pop("workspace_names", None)
    for workspace in data["workspaces"].values():
        workspace.pop("model_names", None)
    return data


def _entry_from(data: dict[str, Any]) -> Entry:
    pending = Pending(**data["pending"]) if data.get("pending") else None
    return Entry(
        record=data["record"],
        pending=pending,
        previous=data.get("previous"),
        versions=data.get("versions", {}),
        created_seq=data.get("created_seq", 0),
    )


def _tenant_from(data: dict[str, Any]) -> Tenant:
    tenant = Tenant()
    for ws_id, ws in data.get("workspaces", {}).items():
        tenant.workspaces[ws_id] = WorkspaceState(
            entry=_entry_from(ws["entry"]),
            endpoints={k: _entry_from(v) for k, v in ws.get("endpoints", {}).items()},
            models={k: _entry_from(v) for k, v in ws.get("models", {}).items()},
            instances={k: _entry_from(v) for k, v in ws.get("instances", {}).items()},
            pending=dict(ws.get("pending", {})),
        )
        state = tenant.workspaces[ws_id]
        state.model_names = {entry.record["name"]: model_id for model_id, entry in state.models.items()}
    tenant.workspace_names = {ws.entry.record["name"]: ws_id for ws_id, ws in tenant.workspaces.items()}
    return tenant
