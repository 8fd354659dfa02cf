"""What each dashboard page shows, gathered from the store, the clock and the fixture layer (no HTTP, no Flask).

What must hold: a page costs what it shows, not what the emulator holds — resources are read one tenant at a time,
PAGE_SIZE workspaces a page, and only those workspaces are settled (what any read of them would do; reads are not
counted as a client's polls). Everything returned is plain data for `pages` to escape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..clock import ControlledClock, iso_millis
from ..fixture.controls import Controls
from ..service.core import Service
from ..service.store import Entry, WorkspaceState

PAGE_SIZE = 50
MISSES_SHOWN = 100  # the newest strict-mode misses on the fixtures page
JOURNAL_PAGE = 50
KINDS = (("endpoint", "endpoints"), ("model", "models"), ("service_instance", "instances"), ("job", "jobs"), ("job_run", "runs"))


@dataclass(slots=True)
class Resource:
    kind: str
    id: str
    name: str
    status: str
    pending: str | None  # "RUNNING at 2026-…, in 3.0 s" or "RUNNING after 2 more reads"
    versions: list[str] = field(default_factory=list)


@dataclass(slots=True)
class WorkspaceView:
    id: str
    name: str
    created: str
    resources: list[Resource]


@dataclass(slots=True)
class ResourcesPage:
    tenant: str | None
    tenants: list[tuple[str, int]]  # (tenant, workspaces), every tenant
    query: str
    page: int
    total: int  # workspaces matching
    workspaces: list[WorkspaceView]


def clock_view(clock: ControlledClock) -> dict[str, Any]:
    return {"now": iso_millis(clock.now()), "frozen": clock.frozen, "runs_by_itself": clock.runs_by_itself}


def tenants(service: Service) -> list[tuple[str, int]]:
    with service.store.lock:
        return sorted((name, len(tenant.workspaces)) for name, tenant in service.store.tenants.items())


def resources(service: Service, tenant: str | None, query: str = "", page: int = 0) -> ResourcesPage:
    """One page of one tenant's workspaces (the first tenant's when none is named), with what each holds; `query`
    keeps the workspaces whose id or name contains it, or that hold a resource whose id or name does."""
    listed = tenants(service)
    tenant = tenant if tenant is not None else (listed[0][0] if listed else None)
    with service.store.lock:
        held = service.store.tenants.get(tenant) if tenant is not None else None
        spaces = list(held.workspaces.items()) if held is not None else []
        needle = query.strip().lower()
        if needle:
            spaces = [(ws_id, ws) for ws_id, ws in spaces if _mentions(ws_id, ws, needle)]
        chosen = spaces[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        now = service.now()
        views = []
        for ws_id, workspace in chosen:
            service.lifecycle.settle_workspace(workspace, now)
            views.append(_workspace_view(ws_id, workspace, now))
    return ResourcesPage(tenant, listed, query, page, len(spaces), views)


def _mentions(ws_id: str, workspace: WorkspaceState, needle: str) -> bool:
    if needle in ws_id.lower() or needle in str(workspace.entry.record.get("name", "")).lower():
        return True
    return any(
        needle in resource_id.lower() or needle in str(entry.record.get("name", "")).lower()
        for kind, _ in KINDS
        for resource_id, entry in workspace.collection(kind).items()
    )


def _workspace_view(ws_id: str, workspace: WorkspaceState, now: float) -> WorkspaceView:
    record = workspace.entry.record
    listed = [_resource(kind, resource_id, entry, now) for kind, _ in KINDS for resource_id, entry in workspace.collection(kind).items()]
    return WorkspaceView(ws_id, str(record.get("name", "")), str(record.get("create_time", "")), listed)


def _resource(kind: str, resource_id: str, entry: Entry, now: float) -> Resource:
    record = entry.record
    pending = entry.pending
    due = None
    if pending is not None:
        target = pending.target or "gone"
        if pending.policy in ("time", "instant"):
            due = f"{target} at {iso_millis(pending.due)} (in {max(0.0, pending.due - now):.1f} s)"
        elif pending.policy == "polls":
            due = f"{target} after {pending.polls_left} more read(s)"
        else:
            due = f"{target} when told (manual)"
    versions = [str(v.get("name", vid)) for vid, v in entry.versions.items()]
    name = str(record.get("name") or record.get("job_name") or "")
    return Resource(kind, resource_id, name, str(record.get("status", "")), due, versions)


def journal_page(
    controls: Controls, tenant: str | None, before: int | None, path: str | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """The newest JOURNAL_PAGE entries (of `tenant`, and whose path contains `path`, if named) older than seq `before`,
    newest first, and the seq to pass as `before` for the next page (None when there is none)."""
    chosen, more = controls.journal.newest({"tenant": tenant, "path_contains": path}, JOURNAL_PAGE, before)
    return chosen, chosen[-1]["seq"] if more else None


def journal_entry(controls: Controls, seq: int) -> dict[str, Any] | None:
    found = controls.journal.page({"since_seq": seq - 1, "limit": None})["requests"]
    return found[0] if found and found[0]["seq"] == seq else None


def fixtures_view(controls: Controls) -> dict[str, Any]:
    """Loaded fixtures with how often each answered, fault rules, and the strict-mode misses in the journal."""
    listed = controls.list_fixtures()
    newest, _ = controls.journal.newest({"status": 501, "operation": "InvokeModelService"}, MISSES_SHOWN)
    misses = [entry for entry in newest if isinstance(entry.get("body"), dict | str)]
    return {"fixtures": listed, "faults": controls.list_faults(), "misses": misses}
