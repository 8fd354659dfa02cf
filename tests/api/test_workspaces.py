from __future__ import annotations

import re

import pytest

from ..helpers import SEED_WORKSPACE, Api

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_create_returns_the_workspace_with_clock_time_and_caller(api: Api) -> None:
    created = api.ok("POST", "/v1/workspaces", SEED_WORKSPACE)
    assert UUID.match(created["id"])
    assert created["name"] == "apieworkspace" and created["description"] == "apie test workspace"
    assert created["create_time"] == "2023-11-14T22:13:20.000Z"  # the ManualClock's start, ISO-8601 ms UTC
    assert created["create_domain_name"] == "mockfabric" and created["create_user_name"] == "mockfabric-user"
    assert created["enterprise_project_id"] == "0"


def test_duplicate_name_is_rejected(api: Api) -> None:
    api.workspace("dup-name")
    message = api.error("POST", "/v1/workspaces", {"name": "dup-name"}, code="dataartsfabric.00010011")
    assert "dup-name" in message


@pytest.mark.parametrize("name", ["abc", "x" * 33, "has space", "under_score"])
def test_name_constraints_name_the_field(api: Api, name: str) -> None:
    message = api.error("POST", "/v1/workspaces", {"name": name}, code="dataartsfabric.00010001")
    assert message.startswith("body.name")


def test_list_filters_and_total_before_paging(api: Api) -> None:
    ids = [api.workspace(f"team-{i:02d}") for i in range(12)]
    api.workspace("other-1", enterprise_project_id="ep-1")
    page = api.ok("GET", "/v1/workspaces", query={"limit": 5, "offset": 0})
    assert page["total"] == 13 and len(page["workspaces"]) == 5
    assert page["workspaces"][0]["name"] == "other-1"  # newest first
    assert api.ok("GET", "/v1/workspaces", query={"name": "team"})["total"] == 12
    assert api.ok("GET", "/v1/workspaces", query={"name": "TEAM-0"})["total"] == 10  # fuzzy, case-insensitive
    by_id = api.ok("GET", "/v1/workspaces", query={"id": ids[3]})
    assert by_id["total"] == 1 and by_id["workspaces"][0]["id"] == ids[3]
    assert api.ok("GET", "/v1/workspaces", query={"enterprise_project_id": "ep-1"})["total"] == 1
    assert api.ok("GET", "/v1/workspaces", query={"enterprise_project_id": "all_granted_eps"})["total"] == 13


def test_paging_edges(api: Api) -> None:
    for i in range(3):
        api.workspace(f"edge-{i}")
    beyond = api.ok("GET", "/v1/workspaces", query={"offset": 10})
    assert beyond == {"total": 3, "workspaces": []}
    assert len(api.ok("GET", "/v1/workspaces", query={"limit": 100})["workspaces"]) == 3
    assert api.error("GET", "/v1/workspaces", query={"limit": 0}).startswith("query.limit")
    assert api.error("GET", "/v1/workspaces", query={"limit": 101}).startswith("query.limit")
    assert api.error("GET", "/v1/workspaces", query={"offset": -1}).startswith("query.offset")
    assert api.error("GET", "/v1/workspaces", query={"limit": "ten"}).startswith("query.limit")
    last = api.ok("GET", "/v1/workspaces", query={"offset": 2, "limit": 5})
    assert last["total"] == 3 and [w["name"] for w in last["workspaces"]] == ["edge-0"]


def test_update_changes_fields_and_keeps_names_unique(api: Api) -> None:
    first, second = api.workspace("first"), api.workspace("second")
    updated = api.ok("PUT", f"/v1/workspaces/{first}", {"name": "renamed", "description": "new"})
    assert (updated["name"], updated["description"]) == ("renamed", "new")
    api.error("PUT", f"/v1/workspaces/{second}", {"name": "renamed"}, code="dataartsfabric.00010011")
    assert api.ok("PUT", f"/v1/workspaces/{second}", {"name": "second"})["name"] == "second"  # own name is fine


def test_delete_and_unknown_ids(api: Api) -> None:
    ws = api.workspace()
    reply = api.call("DELETE", f"/v1/workspaces/{ws}")
    assert reply.status == 200 and reply.body is None
    api.error("DELETE", f"/v1/workspaces/{ws}", code="dataartsfabric.00010003")
    api.error("PUT", f"/v1/workspaces/{ws}", {"name": "again"}, code="dataartsfabric.00010003")
    assert api.ok("GET", "/v1/workspaces")["total"] == 0


def test_a_workspace_with_endpoints_cannot_be_deleted_and_its_models_go_with_it(api: Api) -> None:
    """DOC DeleteWorkspace: refused while it holds compute resources, endpoints or applications; models are not among them."""
    ws = api.workspace()
    api.model(ws)
    endpoint = api.endpoint(ws)
    message = api.error("DELETE", f"/v1/workspaces/{ws}", code="dataartsfabric.00010012")
    assert "1 endpoints" in message and "model" not in message
    api.ok("DELETE", f"/v1/workspaces/{ws}/endpoints/{endpoint}", status=202)
    api.clock.advance(100)  # DELETING -> gone
    api.ok("DELETE", f"/v1/workspaces/{ws}")
    api.error("GET", f"/v1/workspaces/{ws}/models", code="dataartsfabric.00010003")
