"""Status machines as data (the contract's `x-lifecycle`) and the progression policies that drive them.

Progression is lazy: a transient status is settled when the resource's workspace is next touched and its time
(on the injected Clock) or its number of reads has come. No background thread, no sleeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clock import iso_millis
from ..config import Progression
from ..errors import StateConflict
from .store import Entry, Pending, WorkspaceState

REMOVED = "DELETED"  # reaching this status means the resource is gone


@dataclass(frozen=True, slots=True)
class Machine:
    kind: str
    initial: Mapping[str, str]
    transient: frozenset[str]
    edges: frozenset[tuple[str, str, str]]  # (from, to, on)

    def target(self, status: str, on: str) -> str | None:
        for source, to, trigger in self.edges:
            if source == status and trigger == on:
                return to
        return None

    def states(self) -> set[str]:
        return {s for edge in self.edges for s in edge[:2]} | set(self.initial.values())


def machines_from_contract(document: Mapping[str, Any]) -> dict[str, Machine]:
    result = {}
    for kind, spec in document["x-lifecycle"].items():
        edges = frozenset((t["from"], t["to"], t["on"]) for t in spec["transitions"])
        result[kind] = Machine(kind, dict(spec["initial"]), frozenset(spec["transient"]), edges)
    return result


class Lifecycle:
    """Applies the machines with the current per-kind progression policies."""

    def __init__(self, machines: Mapping[str, Machine], progressions: Mapping[str, Progression]) -> None:
        self.machines = dict(machines)
        self.progressions = dict(progressions)

    def initial(self, kind: str, visibility: str) -> str:
        return self.machines[kind].initial[visibility]

    def begin(self, kind: str, workspace: WorkspaceState, entry: Entry, operation: str, now: float) -> None:
        """Move `entry` along the edge `operation` triggers, scheduling its progression if the new status is transient.

        Raises StateConflict, naming the status, when the operation is not allowed from where the resource is.
        """
        machine = self.machines[kind]
        status = entry.record["status"]
        target = machine.target(status, operation)
        if target is None:
            raise StateConflict(f"{_label(kind)} {entry.record['id']} is {status}; {operation} is not allowed in that status")
        self.enter(kind, workspace, entry, target, now)

    def enter(self, kind: str, workspace: WorkspaceState, entry: Entry, status: str, now: float) -> None:
        entry.record["status"] = status
        for field_name in ("error_code", "error_msg"):
            entry.record.pop(field_name, None)
        entry.pending = None
        workspace.pending.pop(entry.record["id"], None)
        if status in self.machines[kind].transient:
            workspace.pending[entry.record["id"]] = kind
            progression = self.progressions[kind]
            entry.pending = Pending(
                self.machines[kind].target(status, "progress"), progression.policy, now + progression.seconds, progression.polls
            )
            if progression.policy == "instant":
                entry.pending.due = now
            script = entry.script
            if script is not None and script["from"] == status:  # a scripted way out instead of the progression
                entry.pending = Pending(script["to"], "time", now + script["seconds"], 0)
        elif entry.script is not None and entry.script["to"] == status:
            entry.record.update((name, entry.script[name]) for name in ("error_code", "error_msg") if entry.script.get(name))
            entry.script = None

    def force(
        self,
        kind: str,
        workspace: WorkspaceState,
        entry: Entry,
        status: str,
        now: float,
        error_code: str | None = None,
        error_msg: str | None = None,
    ) -> None:
        """Put a resource in any declared status (control API / fault injection), e.g. CREATE_FAILED with an error."""
        if status not in self.machines[kind].states():
            raise ValueError(f"{status!r} is not a status of {kind} (declared: {', '.join(sorted(self.machines[kind].states()))})")
        self.enter(kind, workspace, entry, status, now)
        if error_code:
            entry.record["error_code"] = error_code
        if error_msg:
            entry.record["error_msg"] = error_msg

    def check_script(self, kind: str, source: str, target: str) -> None:
        """ValueError unless leaving transient `source` for `target` is an edge of the kind's machine."""
        machine = self.machines[kind]
        if source not in machine.transient or not any(edge[:2] == (source, target) for edge in machine.edges):
            edges = sorted(f"{a}->{b}" for a, b, _ in machine.edges if a in machine.transient)
            raise ValueError(f"{source} -> {target} is not a way out of a transient status of {kind} ({', '.join(edges)})")

    def is_due(self, pending: Pending, now: float) -> bool:
        if pending.policy in ("time", "instant"):
            return now >= pending.due
        if pending.policy == "polls":
            return pending.polls_left <= 0
        return False

    def note_read(self, entry: Entry) -> None:
        """A client looked at the resource: counts for the `polls` policy."""
        if entry.pending is not None and entry.pending.policy == "polls":
            entry.pending.polls_left -= 1

    def settle_workspace(self, workspace: WorkspaceState, now: float) -> None:
        """Complete every due transition of the workspace; resources whose deletion completed disappear.

        Only the workspace's pending resources are looked at, so the cost does not grow with its size.
        """
        for resource_id, kind in list(workspace.pending.items()):
            items = workspace.collection(kind)
            entry = items.get(resource_id)
            pending = entry.pending if entry is not None else None
            if entry is None or pending is None:
                workspace.pending.pop(resource_id, None)
                continue
            while pending is not None and self.is_due(pending, now):
                if pending.target in (None, REMOVED):
                    del items[resource_id]
                    workspace.pending.pop(resource_id, None)
                    break
                # A transition completes at its due time, not at the (later) read that notices it; a chain of
                # transient statuses (a job run: PENDING, RUNNING) moves on from there, as far as the time allows.
                finished = min(now, pending.due) if pending.policy in ("time", "instant") else now
                self.enter(kind, workspace, entry, pending.target, finished)
                entry.record["update_time"] = iso_millis(finished)
                pending = entry.pending


def _label(kind: str) -> str:
    return {"endpoint": "endpoint", "service_instance": "service instance", "job_run": "job run"}.get(kind, kind)
