"""Jobs (Ray, Python, Spark) and their versions: names unique per workspace (inferred); a job with runs, or a version
that is current or used by a run, cannot be removed (inferred, as for models)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..errors import DuplicateName, ResourceInUse, ResourceNotFound
from .core import Actor, Service
from .listing import Listing, Page, page
from .onboarding import after_onboarding
from .store import Entry, Record, WorkspaceState
from .versions import make_current, page_of, refuse_current, version_of

KIND = "job"
SORT_FIELDS = {"UPDATE_TIME": "update_time", "NAME": "name"}  # CREATE_TIME is creation order


def _new_version(service: Service, actor: Actor, spec: dict[str, Any]) -> Record:
    return {
        "name": spec["name"],
        "cap_white_list": copy.deepcopy(spec.get("cap_white_list", [])),
        "description": spec.get("description", ""),
        "config": copy.deepcopy(spec["config"]),
        "dependence_framework": copy.deepcopy(spec.get("dependence_framework", [])),
        "id": service.ids.uuid(),
        "create_user": actor.user(),
        "create_time": service.timestamp(),
    }


def _check_endpoint(workspace: WorkspaceState, endpoint_id: str | None, field: str) -> None:
    if endpoint_id is not None and endpoint_id not in workspace.endpoints:
        raise ResourceNotFound(f"endpoint {endpoint_id} does not exist in workspace {workspace.entry.record['id']}", field=field)


@after_onboarding
def create_job(
    service: Service,
    actor: Actor,
    workspace: WorkspaceState,
    *,
    name: str,
    type: str,
    version: dict[str, Any],
    description: str = "",
    current_endpoint_id: str | None = None,
) -> Record:
    """A new job with its first version current; the answer is the job with `version_id`."""
    if workspace.job_names.taken(name):
        raise DuplicateName(f"a job named {name!r} already exists in workspace {workspace.entry.record['id']}")
    _check_endpoint(workspace, current_endpoint_id, "current_endpoint_id")
    first = _new_version(service, actor, version)
    job_id, stamp = service.ids.uuid(), service.timestamp()
    record: Record = {
        "visibility": "PRIVATE",
        "id": job_id,
        "name": name,
        "description": description,
        "workspace_id": workspace.entry.record["id"],
        "type": type,
        "create_time": stamp,
        "update_time": stamp,
        "current_version": first,
        "create_user": actor.user(),
        "update_user": actor.user(),
    }
    if current_endpoint_id is not None:
        record["current_endpoint_id"] = current_endpoint_id
    workspace.jobs[job_id] = Entry(record, versions={first["id"]: first}, created_seq=service.store.next_seq())
    workspace.job_names.claim(name, job_id)
    return dict(record, version_id=first["id"])


def list_jobs(
    actor: Actor, workspace: WorkspaceState, listing: Listing, *, endpoint_id: str | None = None, create_by_me: bool | None = None
) -> Page[Entry]:
    tests: list[Callable[[Entry], bool]] = []
    if endpoint_id is not None:
        tests.append(lambda e: e.record.get("current_endpoint_id") == endpoint_id)
    if create_by_me:
        tests.append(lambda e: e.record["create_user"]["user_name"] == actor.user_name)
    field = SORT_FIELDS.get(listing.sort_by or "")
    return page(workspace.jobs, listing, tests, sort_key=(lambda e: e.record[field]) if field else None)


def update_job(
    service: Service,
    actor: Actor,
    workspace: WorkspaceState,
    job: Entry,
    *,
    name: str | None = None,
    description: str | None = None,
    current_version_id: str | None = None,
    current_endpoint_id: str | None = None,
    version: dict[str, Any] | None = None,
) -> Record:
    """Change what is given; a new `version` is created and made current. The answer: the job's id and current version."""
    record = job.record
    if name is not None and workspace.job_names.taken(name, except_id=record["id"]):
        raise DuplicateName(f"a job named {name!r} already exists in workspace {workspace.entry.record['id']}")
    current = version_of(job, current_version_id, KIND, field="current_version_id") if current_version_id is not None else None
    _check_endpoint(workspace, current_endpoint_id, "current_endpoint_id")
    if name is not None:
        workspace.job_names.claim(name, record["id"], releasing=record["name"])
    changes = {"name": name, "description": description, "current_endpoint_id": current_endpoint_id}
    record.update((key, value) for key, value in changes.items() if value is not None)
    if current is not None:
        make_current(job, current)
    if version is not None:
        make_current(job, _new_version(service, actor, version))
    record["update_time"] = service.timestamp()
    record["update_user"] = actor.user()
    return dict(record, version_id=record["current_version"]["id"])


def runs_of(workspace: WorkspaceState, job_id: str) -> list[Entry]:
    return [run for run in workspace.runs.values() if run.record["job"]["id"] == job_id]


def delete_job(workspace: WorkspaceState, job: Entry) -> str:
    """Gone with its versions; ResourceInUse while it has runs (delete or clear them first)."""
    runs = runs_of(workspace, job.record["id"])
    if runs:
        raise ResourceInUse(f"job {job.record['id']} has {len(runs)} run(s); delete them first")
    workspace.job_names.release(job.record["name"])
    del workspace.jobs[job.record["id"]]
    return "OK"


def list_job_versions(job: Entry, listing: Listing, *, version_id: str | None = None) -> Page[Record]:
    """Newest first, filtered by exact id and fuzzy name."""
    return page_of(job, listing, version_id)


def delete_job_version(workspace: WorkspaceState, job: Entry, *, version_id: str) -> str:
    """StateConflict while it is the job's current version; ResourceInUse while a run uses it."""
    version_of(job, version_id, KIND)
    refuse_current(job, version_id, KIND)
    users = [run.record["id"] for run in runs_of(workspace, job.record["id"]) if run.record["job"]["version_id"] == version_id]
    if users:
        raise ResourceInUse(f"job version {version_id} is used by run(s) {', '.join(sorted(users))}")
    del job.versions[version_id]
    return "OK"


OPERATIONS: dict[str, Callable[..., Any]] = {
    "CreateJob": create_job,
    "ListJobs": list_jobs,
    "UpdateJob": update_job,
    "DeleteJob": delete_job,
    "ListJobVersions": list_job_versions,
    "DeleteJobVersion": delete_job_version,
}
