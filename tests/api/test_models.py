from __future__ import annotations

from ..helpers import SEED_MODEL, Api


def test_create_returns_model_and_version_ids(api: Api) -> None:
    ws = api.workspace()
    created = api.ok("POST", f"/v1/workspaces/{ws}/models", SEED_MODEL)
    assert set(created) == {"id", "version_id"}
    listed = api.ok("GET", f"/v1/workspaces/{ws}/models", query={"id": created["id"]})
    model = listed["models"][0]
    assert listed["total"] == 1 and model["name"] == "LLama3-8b" and model["type"] == "LLM_MODEL"
    assert model["current_version"]["id"] == created["version_id"]
    assert model["current_version"]["config"] == SEED_MODEL["version"]["config"]


def test_duplicate_model_names_per_workspace(api: Api) -> None:
    ws, other = api.workspace("one-ws"), api.workspace("two-ws")
    api.model(ws, "same")
    api.error("POST", f"/v1/workspaces/{ws}/models", {**SEED_MODEL, "name": "same"}, code="dataartsfabric.00010011")
    api.model(other, "same")  # another workspace may reuse the name


def test_update_with_version_creates_a_new_current_version(api: Api) -> None:
    ws = api.workspace()
    model = api.model(ws)
    path = f"/v1/workspaces/{ws}/models/{model['id']}"
    updated = api.ok(
        "PUT",
        path,
        {
            "description": "v2 please",
            "version": {"name": "v2", "config": {"llm_model_config": {"base_model_type": "llama3-8b", "model_path": "obs://b/m2"}}},
        },
    )
    assert updated["current_version"]["name"] == "v2" and updated["description"] == "v2 please"
    versions = api.ok("GET", f"{path}/versions")
    assert versions["total"] == 2 and [v["name"] for v in versions["versions"]] == ["v2", "v1"]
    assert api.ok("GET", f"{path}/versions", query={"name": "1"})["total"] == 1
    back = api.ok("PUT", path, {"current_version_id": model["version_id"]})
    assert back["current_version"]["id"] == model["version_id"]
    api.error("PUT", path, {"current_version_id": "0" * 32}, code="dataartsfabric.00010009")


def test_versions_in_use_and_current_versions_are_kept(api: Api) -> None:
    ws = api.workspace()
    ep = api.endpoint(ws)
    model = api.model(ws)
    path = f"/v1/workspaces/{ws}/models/{model['id']}"
    instance = api.instance(ws, model["id"], ep)
    new_version = api.ok("PUT", path, {"version": {"name": "v2"}})["current_version"]["id"]
    assert instance in api.error("DELETE", f"{path}/versions/{model['version_id']}", code="dataartsfabric.00010012")
    assert "current" in api.error("DELETE", f"{path}/versions/{new_version}", code="dataartsfabric.00010013")
    assert instance in api.error("DELETE", path, code="dataartsfabric.00010012")
    api.ok("DELETE", f"/v1/workspaces/{ws}/services/instances/{instance}", status=202)
    api.clock.advance(3)
    assert api.ok("DELETE", f"{path}/versions/{model['version_id']}") == "OK"
    api.error("DELETE", f"{path}/versions/{model['version_id']}", code="dataartsfabric.00010009")
    assert api.ok("DELETE", path) == "OK"
    api.error("GET", f"{path}/versions", code="dataartsfabric.00010009")


def test_list_sorting_and_filters(api: Api) -> None:
    ws = api.workspace()
    for name in ("bravo", "alpha", "charlie"):
        api.model(ws, name)
        api.clock.advance(1)
    names = lambda **q: [m["name"] for m in api.ok("GET", f"/v1/workspaces/{ws}/models", query=q)["models"]]  # noqa: E731
    assert names() == ["charlie", "alpha", "bravo"]  # CREATE_TIME DESC by default
    assert names(sort_by="NAME", order_by="ASC") == ["alpha", "bravo", "charlie"]
    assert names(sort_by="CREATE_TIME", order_by="ASC") == ["bravo", "alpha", "charlie"]
    assert names(name="ar") == ["charlie"]
    assert names(limit=1, offset=1) == ["alpha"]
    assert api.ok("GET", f"/v1/workspaces/{ws}/models", query={"type": "LLM_MODEL"})["total"] == 3
