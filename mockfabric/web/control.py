"""The control API under /_mockfabric/: thin handlers over the domain's reset, clock, lifecycle and state."""

from __future__ import annotations

import re
from typing import Any

from ..clock import ClockLimit, iso_millis
from ..config import Progression
from ..domain.completions import Scripted
from ..domain.fabric import Call, Fabric
from ..domain.store import StateFormatError
from ..errors import ResourceNotFound, ValidationFailed


def health(fabric: Fabric, call: Call) -> dict[str, Any]:
    from .. import __version__
    from ..contracts import public_contract

    answer: dict[str, Any] = {"status": "ready", "operations": len(public_contract().operations), "version": __version__}
    saving = fabric.saving()
    if saving is not None:
        answer["persistence"] = saving
        if saving["state"] != "ok":
            answer["status"] = "degraded"
    return answer


def reset(fabric: Fabric, call: Call) -> dict[str, Any]:
    tenant = (call.body or {}).get("tenant")
    fabric.forget(tenant)
    return {"tenant": tenant}


def _clock_state(fabric: Fabric) -> dict[str, Any]:
    now = fabric.now()
    return {"now": now, "iso": iso_millis(now), "frozen": fabric.clock.frozen}


def show_clock(fabric: Fabric, call: Call) -> dict[str, Any]:
    return _clock_state(fabric)


def move_clock(fabric: Fabric, call: Call) -> dict[str, Any]:
    """Advance first, then freeze or unfreeze (either order reaches the same instant), so a refused advance changes nothing."""
    clock, body = fabric.clock, call.body
    if "frozen" in body and not body["frozen"] and not clock.runs_by_itself:
        raise ValidationFailed("body.frozen: this emulator runs on a manual clock, which only moves when advanced")
    if body.get("advance"):
        try:
            clock.advance(body["advance"])
        except ClockLimit as exc:
            raise ValidationFailed(f"body.advance: {exc}") from None
    if "frozen" in body:
        clock.freeze() if body["frozen"] else clock.unfreeze()
    return _clock_state(fabric)


def show_lifecycle(fabric: Fabric, call: Call) -> dict[str, Any]:
    return {kind: progression.as_dict() for kind, progression in fabric.lifecycle.progressions.items()}


def set_lifecycle(fabric: Fabric, call: Call) -> dict[str, Any]:
    for kind, spec in call.body.items():
        current = fabric.lifecycle.progressions[kind]
        fabric.lifecycle.progressions[kind] = Progression(
            spec["policy"], spec.get("seconds", current.seconds), spec.get("polls", current.polls)
        )
    return show_lifecycle(fabric, call)


def force_status(fabric: Fabric, call: Call) -> dict[str, Any]:
    body = call.body
    tenant = fabric.store.tenants.get(body["tenant"])
    for workspace in tenant.workspaces.values() if tenant else ():
        fabric.lifecycle.settle_workspace(workspace, fabric.now())
        entry = workspace.collection(body["kind"]).get(body["id"])
        if entry is not None:
            try:
                fabric.lifecycle.force(
                    body["kind"], workspace, entry, body["status"], fabric.now(), body.get("error_code"), body.get("error_msg")
                )
            except ValueError as exc:
                raise ValidationFailed(f"body.status: {exc}") from None
            entry.record["update_time"] = fabric.timestamp()
            return entry.record
    raise ResourceNotFound(f"{body['kind']} {body['id']} does not exist for tenant {body['tenant']}")


def export_state(fabric: Fabric, call: Call) -> bytes:
    return fabric.store.snapshot(call.query.get("tenant"))  # rendered once, in one pass under the lock


def import_state(fabric: Fabric, call: Call) -> dict[str, Any]:
    tenant = call.query.get("tenant")
    try:
        fabric.store.restore(call.body, tenant)
    except StateFormatError as exc:
        raise ValidationFailed(f"body: not a state export this emulator can load: {exc}") from None
    return {"tenant": tenant}


def set_seed(fabric: Fabric, call: Call) -> dict[str, Any]:
    fabric.reseed(call.body["seed"])
    return {"seed": fabric.seed}


def list_faults(fabric: Fabric, call: Call) -> dict[str, Any]:
    return {"faults": [rule.as_dict() for rule in fabric.faults.rules()]}


def add_fault(fabric: Fabric, call: Call) -> dict[str, Any]:
    try:
        return fabric.faults.add(**call.body).as_dict()
    except re.error as exc:
        raise ValidationFailed(f"body.path: not a regular expression ({exc})") from None


def clear_faults(fabric: Fabric, call: Call) -> dict[str, Any]:
    return {"removed": fabric.faults.clear(tenant=call.query.get("tenant"), rule_id=call.query.get("id"))}


def list_requests(fabric: Fabric, call: Call) -> dict[str, Any]:
    return fabric.journal.page(call.query)


def clear_requests(fabric: Fabric, call: Call) -> dict[str, Any]:
    return {"removed": fabric.journal.clear(call.query.get("tenant"))}


def script_completion(fabric: Fabric, call: Call) -> dict[str, Any]:
    body = call.body
    key = (body["tenant"], body["instance_id"])
    answer = Scripted(body["content"], body.get("reasoning_content"), body.get("finish_reason"))
    fabric.scripts.add(key, answer, default=body.get("default", False))
    return {"queued": fabric.scripts.pending(key)}


def set_timing(fabric: Fabric, call: Call) -> dict[str, Any]:
    body = call.body
    fabric.timings[(body["tenant"], body["instance_id"])] = (body["ttft_ms"], body["itl_ms"])
    return dict(body)


OPERATIONS = {
    "ControlSetSeed": set_seed,
    "ControlListFaults": list_faults,
    "ControlAddFault": add_fault,
    "ControlClearFaults": clear_faults,
    "ControlListRequests": list_requests,
    "ControlClearRequests": clear_requests,
    "ControlScriptCompletion": script_completion,
    "ControlSetTiming": set_timing,
    "ControlHealth": health,
    "ControlReset": reset,
    "ControlShowClock": show_clock,
    "ControlMoveClock": move_clock,
    "ControlShowLifecycle": show_lifecycle,
    "ControlSetLifecycle": set_lifecycle,
    "ControlForceStatus": force_status,
    "ControlExportState": export_state,
    "ControlImportState": import_state,
}
