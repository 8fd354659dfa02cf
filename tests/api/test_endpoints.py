from __future__ import annotations

import re

import pytest

from ..helpers import SEED_ENDPOINT, Api

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_create_is_asynchronous(api: Api) -> None:
    ws = api.workspace()
    created = api.ok("POST", f"/v1/workspaces/{ws}/endpoints", SEED_ENDPOINT)
    assert HEX32.match(created["id"]) and created["status"] == "CREATING"
    assert created["reserved_resource"] == SEED_ENDPOINT["reserved_resource"]
    assert created["owner"]["domain_name"] == "mockfabric" and created["visibility"] == "PRIVATE"
    path = f"/v1/workspaces/{ws}/endpoints/{created['id']}"
    api.clock.advance(2.9)
    assert api.ok("GET", path)["status"] == "CREATING"
    api.clock.advance(0.2)
    shown = api.ok("GET", path)
    assert shown["status"] == "RUNNING"
    assert shown["update_time"] == "2023-11-14T22:13:23.000Z"  # completed at its due time


def test_update_keeps_the_previous_version_and_goes_through_updating(api: Api) -> None:
    ws = api.workspace()
    ep = api.endpoint(ws)
    path = f"/v1/workspaces/{ws}/endpoints/{ep}"
    updated = api.ok(
        "PUT", path, {"description": "bigger", "reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 1, "max": 8}}}, status=202
    )
    assert updated["status"] == "UPDATING" and updated["description"] == "bigger"
    previous = api.ok("GET", path, query={"version": "PREVIOUS"})
    assert previous["reserved_resource"]["mu"]["max"] == 4 and previous["status"] == "RUNNING"
    api.error("PUT", path, {"description": "again"}, code="dataartsfabric.00010013")  # transient: conflict
    api.clock.advance(3)
    current = api.ok("GET", path, query={"version": "CURRENT"})
    assert current["status"] == "RUNNING" and current["reserved_resource"]["mu"]["max"] == 8


def test_delete_goes_through_deleting_and_disappears(api: Api) -> None:
    ws = api.workspace()
    ep = api.endpoint(ws)
    path = f"/v1/workspaces/{ws}/endpoints/{ep}"
    assert api.ok("DELETE", path, status=202) == {"id": ep}
    assert api.ok("GET", path)["status"] == "DELETING"
    assert api.ok("GET", f"/v1/workspaces/{ws}/endpoints")["total"] == 1
    api.clock.advance(3)
    api.error("GET", path, code="dataartsfabric.00010009")
    assert api.ok("GET", f"/v1/workspaces/{ws}/endpoints") == {"total": 0, "endpoints": []}


def test_operations_in_transient_states_conflict(api: Api) -> None:
    ws = api.workspace()
    ep = api.ok("POST", f"/v1/workspaces/{ws}/endpoints", SEED_ENDPOINT)["id"]
    message = api.error("PUT", f"/v1/workspaces/{ws}/endpoints/{ep}", {"name": "x"}, code="dataartsfabric.00010013")
    assert "CREATING" in message
    api.error("DELETE", f"/v1/workspaces/{ws}/endpoints/{ep}", code="dataartsfabric.00010013")


def test_public_endpoint_is_inactive_until_subscribed(api: Api) -> None:
    ws = api.workspace()
    ep = api.ok("POST", f"/v1/workspaces/{ws}/endpoints", {**SEED_ENDPOINT, "public_access": True})
    assert (ep["visibility"], ep["status"]) == ("PUBLIC", "INACTIVE")
    api.clock.advance(100)
    path = f"/v1/workspaces/{ws}/endpoints/{ep['id']}"
    assert api.ok("GET", path)["status"] == "INACTIVE"
    assert api.ok("POST", f"{path}/subscribe") == "OK"
    assert api.ok("GET", path)["status"] == "RUNNING"
    assert api.ok("POST", f"{path}/subscribe") == "OK"  # subscribing again changes nothing


def test_subscribing_a_private_endpoint_is_refused(api: Api) -> None:
    ws = api.workspace()
    ep = api.endpoint(ws)
    assert "PRIVATE" in api.error("POST", f"/v1/workspaces/{ws}/endpoints/{ep}/subscribe", code="dataartsfabric.00010013")


@pytest.mark.parametrize(
    ("mu", "field"),
    [
        ({"spec_code": "mu.llama3.8b", "min": 3, "max": 1}, "body.reserved_resource.mu.min"),
        ({"spec_code": "mu.unknown", "min": 0, "max": 1}, "body.reserved_resource.mu.spec_code"),
        ({"spec_code": "mu.llama3.8b", "min": -1, "max": 1}, "body.reserved_resource.mu.min"),
    ],
)
def test_resource_rules(api: Api, mu: dict[str, object], field: str) -> None:
    ws = api.workspace()
    message = api.error("POST", f"/v1/workspaces/{ws}/endpoints", {**SEED_ENDPOINT, "reserved_resource": {"mu": mu}})
    assert message.startswith(field)


def test_list_filters_and_brief_items(api: Api) -> None:
    ws = api.workspace()
    first = api.endpoint(ws, name="alpha one")
    api.endpoint(ws, name="beta", type="ray")
    public = api.ok("POST", f"/v1/workspaces/{ws}/endpoints", {**SEED_ENDPOINT, "name": "gamma", "public_access": True})["id"]
    listed = api.ok("GET", f"/v1/workspaces/{ws}/endpoints")
    assert listed["total"] == 3
    assert all("urls" not in item and "tokens_quota" not in item for item in listed["endpoints"])
    assert api.ok("GET", f"/v1/workspaces/{ws}/endpoints", query={"name": "ALPHA"})["endpoints"][0]["id"] == first
    assert api.ok("GET", f"/v1/workspaces/{ws}/endpoints", query={"type": "ray"})["total"] == 1
    assert api.ok("GET", f"/v1/workspaces/{ws}/endpoints", query={"visibility": "PUBLIC"})["endpoints"][0]["id"] == public
    assert api.ok("GET", f"/v1/workspaces/{ws}/endpoints", query={"visibility": "ALL"})["total"] == 3
    assert api.ok("GET", f"/v1/workspaces/{ws}/endpoints", query={"endpoint_id": first})["total"] == 1
    model = api.model(ws)
    api.instance(ws, model["id"], first)
    served = api.ok("GET", f"/v1/workspaces/{ws}/endpoints", query={"model_id": model["id"]})
    assert [e["id"] for e in served["endpoints"]] == [first]


def test_endpoint_with_instances_cannot_be_deleted(api: Api) -> None:
    ws = api.workspace()
    ep = api.endpoint(ws)
    api.instance(ws, api.model(ws)["id"], ep)
    assert "service instance" in api.error("DELETE", f"/v1/workspaces/{ws}/endpoints/{ep}", code="dataartsfabric.00010012")


def test_shrinking_below_what_instances_draw_is_refused(api: Api) -> None:
    ws = api.workspace()
    ep = api.endpoint(ws, max_units=4)
    api.instance(ws, api.model(ws)["id"], ep, resource={"spec_code": "mu.llama3.8b", "min": 1, "max": 3})
    body = {"reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 0, "max": 2}}}
    api.error("PUT", f"/v1/workspaces/{ws}/endpoints/{ep}", body, code="dataartsfabric.00010014")
