"""Two credentials never see each other's resources: a foreign id answers exactly like an unknown id."""

from __future__ import annotations

from ..helpers import Api, seed_deploy


def test_every_operation_is_isolated(api: Api, other_api: Api) -> None:
    ws = api.workspace()
    ep = api.endpoint(ws)
    model = api.model(ws)
    instance = api.instance(ws, model["id"], ep)
    other_api.workspace("apieworkspace")  # the same name is free in another tenant
    assert other_api.ok("GET", "/v1/workspaces")["total"] == 1
    assert other_api.ok("GET", "/v1/workspaces", query={"id": ws}) == {"total": 0, "workspaces": []}
    base = f"/v1/workspaces/{ws}"
    calls = [
        ("GET", f"{base}/endpoints", None),
        ("GET", f"{base}/endpoints/{ep}", None),
        ("PUT", f"{base}/endpoints/{ep}", {"name": "x"}),
        ("DELETE", f"{base}/endpoints/{ep}", None),
        ("POST", f"{base}/endpoints/{ep}/subscribe", None),
        ("POST", f"{base}/endpoints", {"name": "e", "type": "inference"}),
        ("GET", f"{base}/models", None),
        ("POST", f"{base}/models", {"name": "m", "type": "LLM_MODEL", "version": {"name": "v"}}),
        ("PUT", f"{base}/models/{model['id']}", {"name": "x"}),
        ("DELETE", f"{base}/models/{model['id']}", None),
        ("GET", f"{base}/models/{model['id']}/versions", None),
        ("DELETE", f"{base}/models/{model['id']}/versions/{model['version_id']}", None),
        ("POST", f"{base}/services/instances", seed_deploy(model["id"], ep)),
        ("GET", f"{base}/services/instances", None),
        ("GET", f"{base}/services/instances/{instance}", None),
        ("PUT", f"{base}/services/instances/{instance}", {"name": "x"}),
        ("DELETE", f"{base}/services/instances/{instance}", None),
        ("PUT", base, {"name": "stolen"}),
        ("DELETE", base, None),
    ]
    for method, path, body in calls:
        other_api.error(method, path, body, code="dataartsfabric.00010003")
    # nothing changed for the owner
    assert api.ok("GET", f"{base}/services/instances/{instance}")["status"] == "RUNNING"
    assert api.ok("GET", "/v1/workspaces")["workspaces"][0]["name"] == "apieworkspace"


def test_project_header_decides_the_tenant(api: Api) -> None:
    shared = {"X-Project-Id": "project-1"}
    ws = api.ok("POST", "/v1/workspaces", {"name": "proj-ws"}, headers=shared)["id"]
    other = Api(api.client, {"X-Auth-Token": "another-token"}, api.clock)
    assert other.ok("GET", "/v1/workspaces", headers=shared)["workspaces"][0]["id"] == ws
    assert other.ok("GET", "/v1/workspaces")["total"] == 0


def test_reads_by_new_credentials_leave_no_tenant_behind(api: Api) -> None:
    store = api.client.application.extensions["mockfabric"].service.store
    for index in range(20):
        Api(api.client, {"X-Auth-Token": f"passer-by-{index}"}, api.clock).ok("GET", "/v1/workspaces")
    assert store.tenants == {}
    api.workspace()
    assert len(store.tenants) == 1
