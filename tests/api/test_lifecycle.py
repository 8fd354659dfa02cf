"""Progression policies (time, polls, manual, instant) and forced failures, all on a ManualClock."""

from __future__ import annotations

import pytest

from mockfabric import create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Progression, Settings

from ..helpers import SEED_ENDPOINT, Api


def make_api(policy: Progression) -> Api:
    clock = ManualClock()
    app = create_app(Settings(validate_responses=True, lifecycle={"endpoint": policy, "service_instance": policy}), clock=clock)
    return Api(app.test_client(), {"X-Auth-Token": "t"}, clock)


def create_endpoint(api: Api) -> tuple[str, str]:
    ws = api.workspace()
    endpoint = api.ok("POST", f"/v1/workspaces/{ws}/endpoints", SEED_ENDPOINT)
    assert endpoint["status"] == "CREATING"
    return ws, f"/v1/workspaces/{ws}/endpoints/{endpoint['id']}"


def test_polls_policy_completes_after_n_reads() -> None:
    api = make_api(Progression("polls", polls=2))
    ws, path = create_endpoint(api)
    api.clock.advance(3600)  # time alone does nothing under `polls`
    assert [api.ok("GET", path)["status"] for _ in range(3)] == ["CREATING", "CREATING", "RUNNING"]
    # list reads count too
    ep2 = api.ok("POST", f"/v1/workspaces/{ws}/endpoints", SEED_ENDPOINT)["id"]
    statuses = [next(e["status"] for e in api.ok("GET", f"/v1/workspaces/{ws}/endpoints")["endpoints"] if e["id"] == ep2) for _ in range(3)]
    assert statuses == ["CREATING", "CREATING", "RUNNING"]


def test_manual_policy_moves_only_when_told() -> None:
    api = make_api(Progression("manual"))
    _, path = create_endpoint(api)
    api.clock.advance(10**6)
    for _ in range(5):
        assert api.ok("GET", path)["status"] == "CREATING"
    forced = api.ok(
        "POST", "/_mockfabric/status", {"tenant": _tenant(api), "kind": "endpoint", "id": path.rsplit("/", 1)[1], "status": "RUNNING"}
    )
    assert forced["status"] == "RUNNING"
    assert api.ok("GET", path)["status"] == "RUNNING"


def test_instant_policy_completes_on_the_next_read() -> None:
    api = make_api(Progression("instant"))
    _, path = create_endpoint(api)
    assert api.ok("GET", path)["status"] == "RUNNING"
    api.ok("DELETE", path, status=202)
    api.error("GET", path, code="dataartsfabric.00010009")


def test_time_policy_under_a_frozen_clock_does_not_move(api: Api) -> None:
    _, path = create_endpoint(api)
    for _ in range(10):
        assert api.ok("GET", path)["status"] == "CREATING"
    api.clock.advance(3)
    assert api.ok("GET", path)["status"] == "RUNNING"


@pytest.mark.parametrize(("status", "code"), [("CREATE_FAILED", "dataartsfabric.00000001")])
def test_forced_failure_shows_its_error_and_blocks_deploys(api: Api, status: str, code: str) -> None:
    ws, path = create_endpoint(api)
    endpoint_id = path.rsplit("/", 1)[1]
    api.ok(
        "POST",
        "/_mockfabric/status",
        {
            "tenant": _tenant(api),
            "kind": "endpoint",
            "id": endpoint_id,
            "status": status,
            "error_code": code,
            "error_msg": "no capacity in the region",
        },
    )
    api.clock.advance(60)
    shown = api.ok("GET", path)
    assert (shown["status"], shown["error_code"], shown["error_msg"]) == (status, code, "no capacity in the region")
    model = api.model(ws)
    body = {"source": {"id": model["id"]}, "name": "x", "endpoint_id": endpoint_id}
    api.error("POST", f"/v1/workspaces/{ws}/services/instances", body, code="dataartsfabric.00010013")
    api.ok("DELETE", path, status=202)  # a failed endpoint can still be deleted
    assert "error_code" not in api.ok("GET", path)


def test_forcing_an_undeclared_status_is_refused(api: Api) -> None:
    _, path = create_endpoint(api)
    reply = api.call(
        "POST", "/_mockfabric/status", {"tenant": _tenant(api), "kind": "endpoint", "id": path.rsplit("/", 1)[1], "status": "EXPLODED"}
    )
    assert reply.status == 400 and "EXPLODED" in reply.body["error_msg"]


def test_lifecycle_settings_change_through_the_control_api(api: Api) -> None:
    assert api.ok("PUT", "/_mockfabric/lifecycle", {"endpoint": {"policy": "polls", "polls": 1}})["endpoint"]["policy"] == "polls"
    _, path = create_endpoint(api)
    assert [api.ok("GET", path)["status"] for _ in range(2)] == ["CREATING", "RUNNING"]


def test_instance_failure_by_injection(api: Api) -> None:
    ws = api.workspace()
    ep = api.endpoint(ws)
    instance = api.instance(ws, api.model(ws)["id"], ep, running=False)
    api.ok(
        "POST",
        "/_mockfabric/status",
        {
            "tenant": _tenant(api),
            "kind": "service_instance",
            "id": instance,
            "status": "FAILED",
            "error_code": "dataartsfabric.00000001",
            "error_msg": "image pull failed",
        },
    )
    shown = api.ok("GET", f"/v1/workspaces/{ws}/services/instances/{instance}")
    assert shown["status"] == "FAILED" and shown["error_msg"] == "image pull failed"


def _tenant(api: Api) -> str:
    from mockfabric.web.auth import credential_of

    return credential_of(api.headers)
