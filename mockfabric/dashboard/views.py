"""What each dashboard page shows, gathered from the store, the clock and the fixture layer (no HTTP, no Flask).

What must hold: a page costs what it shows, not what the emulator holds — every list is paged: tenants, workspaces
(read one tenant at a time), a workspace's resources (RESOURCES_SHOWN beside the others, a page of PAGE_SIZE on its
own), fixtures and fault rules; only the workspaces shown are settled (what any read of them would do; reads are not
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
RESOURCES_SHOWN = 10  # a workspace's resources shown beside the other workspaces (all of them, paged, on its own)
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
    resources: list[Resource]  # those shown
    held: int  # resources it holds that the query keeps (all when there is none)


@dataclass(slots=True)
class ResourcesPage:
    tenant: str | None
    query: str
    page: int
    total: int  # workspaces matching (or the one workspace's resources matching, when `workspace` is named)
    workspaces: list[WorkspaceView]
    workspace: str | None = None  # the one workspace shown, its resources paged


@dataclass(slots=True)
class Paged:
    """One page of a longer list: the items shown, which page, and how many there are in all."""

    items: list[Any]
    page: int
    total: int

    @property
    def more(self) -> bool:
        return (self.page + 1) * PAGE_SIZE < self.total


def paged(items: list[Any], page: int) -> Paged:
    return Paged(items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE], page, len(items))


def clock_view(clock: ControlledClock) -> dict[str, Any]:
    return {"now": iso_millis(clock.now()), "frozen": clock.frozen, "runs_by_itself": clock.runs_by_itself}


def tenants(service: Service) -> list[tuple[str, int]]:
    with service.store.lock:
        return sorted((name, len(tenant.workspaces)) for name, tenant in service.store.tenants.items())


def first_tenant(service: Service) -> str | None:
    with service.store.lock:
        return min(service.store.tenants, default=None)


def resources(service: Service, tenant: str | None, query: str = "", page: int = 0, workspace: str | None = None) -> ResourcesPage:
    """One page of one tenant's workspaces (the first tenant's when none is named), with the first RESOURCES_SHOWN
    resources of each; with `workspace`, that workspace alone and a page of its resources. `query` keeps the
    workspaces whose id or name contains it, or that hold a resource whose id or name does, and of a workspace it
    keeps only for its resources (all of them, when the workspace itself matches)."""
    tenant = tenant if tenant is not None else first_tenant(service)
    needle = query.strip().lower()
    with service.store.lock:
        held = service.store.tenants.get(tenant) if tenant is not None else None
        spaces = list(held.workspaces.items()) if held is not None else []
        if workspace is not None:
            spaces = [(ws_id, ws) for ws_id, ws in spaces if ws_id == workspace]
        if needle:
            spaces = [(ws_id, ws) for ws_id, ws in spaces if _mentions(ws_id, ws, needle)]
        now = service.now()
        if workspace is not None:
            views = [_workspace_view(ws_id, ws, now, needle, page * PAGE_SIZE, PAGE_SIZE) for ws_id, ws in _settled(service, spaces, now)]
            total = views[0].held if views else 0
            return ResourcesPage(tenant, query, page, total, views, workspace)
        chosen = _settled(service, spaces[page * PAGE_SIZE : (page + 1) * PAGE_SIZE], now)
        views = [_workspace_view(ws_id, ws, now, needle, 0, RESOURCES_SHOWN) for ws_id, ws in chosen]
    return ResourcesPage(tenant, query, page, len(spaces), views)


def _settled(service: Service, spaces: list[tuple[str, WorkspaceState]], now: float) -> list[tuple[str, WorkspaceState]]:
    for _, workspace in spaces:
        service.lifecycle.settle_workspace(workspace, now)
    return spaces


def _named(needle: str, resource_id: str, record: dict[str, Any]) -> bool:
    return needle in resource_id.lower() or needle in str(record.get("name", "")).lower()


def _mentions(ws_id: str, workspace: WorkspaceState, needle: str) -> bool:
    return _named(needle, ws_id, workspace.entry.record) or any(
        _named(needle, resource_id, entry.record) for kind, _ in KINDS for resource_id, entry in workspace.collection(kind).items()
    )


def _workspace_view(ws_id: str, workspace: WorkspaceState, now: float, needle: str, start: int, count: int) -> WorkspaceView:
    """The workspace with `count` of its resources from `start` (those the needle names, unless it names the
    workspace); only those are read further than their id and name."""
    record = workspace.entry.record
    every = needle == "" or _named(needle, ws_id, record)
    kept = [
        (kind, resource_id, entry)
        for kind, _ in KINDS
        for resource_id, entry in workspace.collection(kind).items()
        if every or _named(needle, resource_id, entry.record)
    ]
    shown = [_resource(kind, resource_id, entry, now) for kind, resource_id, entry in kept[start : start + count]]
    return WorkspaceView(ws_id, str(record.get("name", "")), str(record.get("create_time", "")), shown, len(kept))


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


def fixtures_view(controls: Controls, page: int = 0, faults_page: int = 0) -> dict[str, Any]:
    """A page of the loaded fixtures with how often each answered, a page of the fault rules, and the newest
    strict-mode misses in the journal."""
    fixtures = controls.fixtures.listing(page * PAGE_SIZE, PAGE_SIZE)
    rules = controls.faults.rules()
    faults = paged(rules, faults_page)
    newest, _ = controls.journal.newest({"status": 501, "operation": "InvokeModelService"}, MISSES_SHOWN)
    misses = [entry for entry in newest if isinstance(entry.get("body"), dict | str)]
    return {
        "fixtures": Paged(fixtures, page, len(controls.fixtures.items)),
        "strict": controls.answers.strict,
        "faults": Paged([rule.as_dict() for rule in faults.items], faults_page, faults.total),
        "misses": misses,
    }
