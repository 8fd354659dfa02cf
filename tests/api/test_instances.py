from __future__ import annotations

import pytest

from ..helpers import Api, seed_deploy


@pytest.fixture
def ready(api: Api) -> tuple[str, str, dict[str, str]]:
    ws = api.workspace()
    return ws, api.endpoint(ws, max_units=4), api.model(ws)


def test_deploy_defaults_to_the_current_version_and_runs(api: Api, ready: tuple[str, str, dict[str, str]]) -> None:
    ws, ep, model = ready
    instance = api.ok("POST", f"/v1/workspaces/{ws}/services/instances", seed_deploy(model["id"], ep))["id"]
    path = f"/v1/workspaces/{ws}/services/instances/{instance}"
    shown = api.ok("GET", path)
    assert shown["status"] == "CREATING" and shown["source"] == {"id": model["id"], "version_id": model["version_id"]}
    assert shown["config"]["model_instance_config"]["resource"] == {"spec_code": "mu.llama3.8b", "min": 0, "max": 1}
    assert shown["url"]["address"].endswith(f"/services/instances/{instance}/invocations")
    api.clock.advance(3)
    running = api.ok("GET", path)
    assert running["status"] == "RUNNING" and running["duration"] == 3
    listed = api.ok("GET", f"/v1/workspaces/{ws}/services/instances")
    assert listed["total"] == 1 and "url" not in listed["service_instances"][0]


def test_deploy_needs_a_running_endpoint_and_known_resources(api: Api, ready: tuple[str, str, dict[str, str]]) -> None:
    ws, ep, model = ready
    creating = api.endpoint(ws, running=False, name="late")
    base = f"/v1/workspaces/{ws}/services/instances"
    assert "CREATING" in api.error("POST", base, seed_deploy(model["id"], creating), code="dataartsfabric.00010013")
    api.error("POST", base, seed_deploy("0" * 36, ep), code="dataartsfabric.00010009")
    api.error("POST", base, seed_deploy(model["id"], "f" * 32), code="dataartsfabric.00010009")
    body = seed_deploy(model["id"], ep)
    body["source"]["version_id"] = "1" * 32
    api.error("POST", base, body, code="dataartsfabric.00010009")
    api.error("POST", f"/v1/workspaces/{'a' * 36}/services/instances", seed_deploy(model["id"], ep), code="dataartsfabric.00010003")


@pytest.mark.parametrize(
    ("resource", "code", "field"),
    [
        ({"spec_code": "mu.llama3.8b", "min": 2, "max": 1}, "dataartsfabric.00010010", "body.config.model_instance_config.resource.min"),
        ({"spec_code": "mu.llama3.8b", "min": 0, "max": 5}, "dataartsfabric.00010014", "body.config.model_instance_config.resource.max"),
        (
            {"spec_code": "mu.llama3.70b", "min": 0, "max": 1},
            "dataartsfabric.00010010",
            "body.config.model_instance_config.resource.spec_code",
        ),
        ({"spec_code": "mu.llama3.8b", "min": 0, "max": 0}, "dataartsfabric.00010001", "body.config.model_instance_config.resource.max"),
    ],
)
def test_deploy_resource_rules(
    api: Api, ready: tuple[str, str, dict[str, str]], resource: dict[str, object], code: str, field: str
) -> None:
    ws, ep, model = ready
    body = {**seed_deploy(model["id"], ep), "config": {"model_instance_config": {"resource": resource}}}
    assert api.error("POST", f"/v1/workspaces/{ws}/services/instances", body, code=code).startswith(field)


def test_total_capacity_of_the_endpoint(api: Api, ready: tuple[str, str, dict[str, str]]) -> None:
    ws, ep, model = ready
    api.instance(ws, model["id"], ep, resource={"spec_code": "mu.llama3.8b", "min": 1, "max": 3}, running=False)
    body = {
        **seed_deploy(model["id"], ep),
        "config": {"model_instance_config": {"resource": {"spec_code": "mu.llama3.8b", "min": 0, "max": 2}}},
    }
    assert "1 of 4" in api.error("POST", f"/v1/workspaces/{ws}/services/instances", body, code="dataartsfabric.00010014")
    body["config"]["model_instance_config"]["resource"]["max"] = 1
    api.ok("POST", f"/v1/workspaces/{ws}/services/instances", body)


def test_update_rules(api: Api, ready: tuple[str, str, dict[str, str]]) -> None:
    ws, ep, model = ready
    instance = api.instance(ws, model["id"], ep, resource={"spec_code": "mu.llama3.8b", "min": 1, "max": 2})
    path = f"/v1/workspaces/{ws}/services/instances/{instance}"
    api.error("PUT", path, {"config": {"model_instance_config": {"resource": {"min": 2, "max": 2}}}}, code="dataartsfabric.00010015")
    api.error("PUT", path, {"source": {"id": model["id"], "version_id": "9" * 32}}, code="dataartsfabric.00010015")
    api.error("PUT", path, {"config": {"model_instance_config": {"resource": {"min": 1, "max": 5}}}}, code="dataartsfabric.00010014")
    assert api.ok(
        "PUT", path, {"name": "renamed", "config": {"model_instance_config": {"resource": {"min": 1, "max": 4}}}}, status=202
    ) == {"id": instance}
    shown = api.ok("GET", path)
    assert shown["status"] == "UPDATING" and shown["name"] == "renamed"
    assert shown["config"]["model_instance_config"]["resource"]["max"] == 4
    api.error("PUT", path, {"name": "again"}, code="dataartsfabric.00010013")
    api.clock.advance(3)
    assert api.ok("GET", path)["status"] == "RUNNING"


def test_delete_is_asynchronous(api: Api, ready: tuple[str, str, dict[str, str]]) -> None:
    ws, ep, model = ready
    instance = api.instance(ws, model["id"], ep)
    path = f"/v1/workspaces/{ws}/services/instances/{instance}"
    assert api.ok("DELETE", path, status=202) == "OK"
    assert api.ok("GET", path)["status"] == "DELETING"
    api.error("DELETE", path, code="dataartsfabric.00010013")
    api.clock.advance(3)
    api.error("GET", path, code="dataartsfabric.00010009")
    assert api.ok("GET", f"/v1/workspaces/{ws}/services/instances")["total"] == 0


def test_list_filters_and_sorting(api: Api, ready: tuple[str, str, dict[str, str]]) -> None:
    ws, ep, model = ready
    first = api.instance(ws, model["id"], ep)
    second_model = api.model(ws, "other")
    second = api.instance(ws, second_model["id"], ep)
    base = f"/v1/workspaces/{ws}/services/instances"
    ids = lambda **q: [i["id"] for i in api.ok("GET", base, query=q)["service_instances"]]  # noqa: E731
    assert ids() == [second, first]
    assert ids(sort_by="CREATE_TIME", order_by="ASC") == [first, second]
    assert ids(sort_by="DURATION", order_by="DESC") == [first, second]
    assert ids(source_id=second_model["id"]) == [second]
    assert ids(version_id=model["version_id"]) == [first]
    assert ids(endpoint_id=ep) == [second, first]
    assert ids(id=first) == [first]
    assert ids(name="Instance") == [second, first]
    assert ids(type="PGSQL_SERVICE") == []
