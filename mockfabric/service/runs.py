"""Job runs: a version of a job run on an endpoint of the workspace, with a lifecycle on the emulator's clock
(PENDING, RUNNING, SUCCEEDED; CancelJobRun through STOPPING to STOPPED; FAILED through the control API)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..errors import StateConflict
from .core import Actor, Service
from .listing import Listing, Page, page
from .onboarding import after_onboarding
from .store import Entry, Record, WorkspaceState
from .versions import version_of

KIND = "job_run"
ACTIVE = frozenset({"PENDING", "RUNNING", "STOPPING"})


@after_onboarding
def run_job(service: Service, actor: Actor, workspace: WorkspaceState, *, job: dict[str, Any], name: str, endpoint_id: str) -> Record:
    """A new run, PENDING, of an existing job version on an existing endpoint of the workspace."""
    found = service.entry(workspace, "job", job["id"], field="job.id")
    version_of(found, job["version_id"], "job", field="job.version_id")
    service.entry(workspace, "endpoint", endpoint_id, field="endpoint_id")
    run_id, now, stamp = service.ids.uuid(), service.now(), service.timestamp()
    record: Record = {
        "job": {"id": job["id"], "version_id": job["version_id"]},
        "name": name,
        "endpoint_id": endpoint_id,
        "id": run_id,
        "create_time": stamp,
        "update_time": stamp,
        "status": service.lifecycle.initial(KIND, "PRIVATE"),
        "type": found.record["type"],
        "create_user": actor.ep_user(),
        "log_path": [{"type": "OBS", "path": f"obs://mockfabric-logs/{workspace.entry.record['id']}/runs/{run_id}/"}],
    }
    entry = Entry(record, created_seq=service.store.next_seq(), script=service.run_outcomes.take(actor.tenant, job["id"]))
    workspace.runs[run_id] = entry
    service.lifecycle.enter(KIND, workspace, entry, record["status"], now)
    return record


def _duration(service: Service, record: Record) -> int:
    """Seconds from creation to now, or to the run's last change once it has ended (inferred unit, as for instances)."""
    start = datetime.fromisoformat(record["create_time"]).timestamp()
    end = service.now() if record["status"] in ACTIVE else datetime.fromisoformat(record["update_time"]).timestamp()
    return max(0, int(end - start))


def _view(service: Service, record: Record) -> Record:
    return dict(record, duration=_duration(service, record))


def list_job_runs(
    service: Service,
    workspace: WorkspaceState,
    listing: Listing,
    *,
    job_id: str | None = None,
    endpoint_id: str | None = None,
    version_id: str | None = None,
    status: str | None = None,
) -> Page[Record]:
    wanted = {"job_id": job_id, "endpoint_id": endpoint_id, "version_id": version_id, "status": status}
    readers: dict[str, Callable[[Entry], Any]] = {
        "job_id": lambda e: e.record["job"]["id"],
        "endpoint_id": lambda e: e.record["endpoint_id"],
        "version_id": lambda e: e.record["job"]["version_id"],
        "status": lambda e: e.record["status"],
    }
    tests = [(lambda e, read=readers[name], value=value: read(e) == value) for name, value in wanted.items() if value is not None]
    sort_key = (lambda e: _duration(service, e.record)) if listing.sort_by == "DURATION" else None
    found = page(workspace.runs, listing, tests, sort_key=sort_key)
    for entry in found.items:
        service.lifecycle.note_read(entry)
    return Page(found.total, [_view(service, entry.record) for entry in found.items])


def show_job_run(service: Service, run: Entry) -> Record:
    service.lifecycle.note_read(run)
    return _view(service, run.record)


def cancel_job_run(service: Service, workspace: WorkspaceState, run: Entry) -> str:
    """STOPPING, then STOPPED; StateConflict once the run has ended."""
    service.transition(KIND, workspace, run, "CancelJobRun")
    return "OK"


def delete_job_run(workspace: WorkspaceState, run: Entry) -> str:
    """Gone; StateConflict while it is PENDING, RUNNING or STOPPING (cancel it first)."""
    if run.record["status"] in ACTIVE:
        raise StateConflict(f"job run {run.record['id']} is {run.record['status']}; cancel it and delete it once it has ended")
    del workspace.runs[run.record["id"]]
    workspace.pending.pop(run.record["id"], None)
    return "OK"


def clear_job_runs(workspace: WorkspaceState, endpoint: Entry) -> str:
    """Every ended run on the endpoint is removed; runs still active stay (inferred)."""
    ended = [
        key
        for key, run in workspace.runs.items()
        if run.record["endpoint_id"] == endpoint.record["id"] and run.record["status"] not in ACTIVE
    ]
    for key in ended:
        del workspace.runs[key]
    return "OK"


def runs_on(workspace: WorkspaceState, endpoint_id: str) -> int:
    """How many runs the endpoint holds (what keeps it from being deleted)."""
    return sum(1 for run in workspace.runs.values() if run.record["endpoint_id"] == endpoint_id)


OPERATIONS: dict[str, Callable[..., Any]] = {
    "RunJob": run_job,
    "ListJobRuns": list_job_runs,
    "ShowJobRunDetail": show_job_run,
    "CancelJobRun": cancel_job_run,
    "DeleteJobRun": delete_job_run,
    "ClearJobRun": clear_job_runs,
}
