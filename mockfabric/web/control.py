"""The control API under /_mockfabric/: thin handlers over the domain's reset, clock, lifecycle and state."""

from __future__ import annotations

from typing import Any

from ..clock import iso_millis
from ..config import Progression
from ..domain.fabric import Call, Fabric
from ..errors import ResourceNotFound, ValidationFailed


def health(fabric: Fabric, call: Call) -> dict[str, Any]:
    from .. import __version__
    from ..contracts import public_contract

    return {"status": "ready", "operations": len(public_contract().operations), "version": __version__}


def reset(fabric: Fabric, call: Call) -> dict[str, Any]:
    tenant = (call.body or {}).get("tenant")
    fabric.store.reset(tenant)
    return {"tenant": tenant}


def _clock_state(fabric: Fabric) -> dict[str, Any]:
    now = fabric.now()
    return {"now": now, "iso": iso_millis(now), "frozen": bool(getattr(fabric.clock, "frozen", True))}


def show_clock(fabric: Fabric, call: Call) -> dict[str, Any]:
    return _clock_state(fabric)


def move_clock(fabric: Fabric, call: Call) -> dict[str, Any]:
    clock: Any = fabric.clock
    body = call.body
    if "frozen" in body:
        if not hasattr(clock, "freeze"):
            if not body["frozen"]:
                raise ValidationFailed("body.frozen: this emulator runs on a manual clock, which only moves when advanced")
        elif body["frozen"]:
            clock.freeze()
        else:
            clock.unfreeze()
    if body.get("advance"):
        clock.advance(body["advance"])
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


def export_state(fabric: Fabric, call: Call) -> dict[str, Any]:
    return fabric.store.export(call.query.get("tenant"))


def import_state(fabric: Fabric, call: Call) -> dict[str, Any]:
    tenant = call.query.get("tenant")
    try:
        fabric.store.restore(call.body, tenant)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValidationFailed(f"body: not a state export this emulator can load ({type(exc).__name__}: {exc})") from None
    return {"tenant": tenant}


OPERATIONS = {
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
