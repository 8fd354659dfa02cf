"""The operations beyond the inference flow (issue 19): onboarding, jobs and their versions, job runs and their
lifecycle, message notification policies, metrics and workspace tags — with their rules, tenant isolation and state."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import Api

AGREEMENT = {"agreement_name": "fabric_service_agreement", "agreement_version": "20250101"}
JOB = {"name": "nightly", "type": "PYTHON_JOB", "version": {"name": "v1", "config": {"timeout_seconds": 60}}}


def _job(api: Api, ws: str, **fields: Any) -> dict[str, str]:
    created: dict[str, str] = api.ok("POST", f"/v1/workspaces/{ws}/jobs", {**JOB, **fields})
    return created


def _run(api: Api, ws: str, job: dict[str, str], endpoint: str, name: str = "run") -> str:
    body = {"job": {"id": job["id"], "version_id": job["version_id"]}, "name": name, "endpoint_id": endpoint}
    run_id: str = api.ok("POST", f"/v1/workspaces/{ws}/jobs/runs", body)["id"]
    return run_id


def test_onboarding_signs_the_current_agreement_and_creates_agencies(api: Api, other_api: Api) -> None:
    rules = api.ok("GET", "/v1/agreement-rule")["agreement_rules"]
    assert [(r["agreement_name"], r["agreement_version"]) for r in rules] == [(AGREEMENT["agreement_name"], AGREEMENT["agreement_version"])]
    assert api.ok("GET", "/v1/agreement") == {"agreements": []}
    api.error(
        "POST",
        "/v1/agreement",
        {"agreements": [{"agreement_name": "fabric_service_agreement", "agreement_version": "19990101"}]},
        code="dataartsfabric.00010005",
    )
    api.error("POST", "/v1/agreement", {"agreements": [{"agreement_name": "fabric_service_agreement"}]}, code="dataartsfabric.00010006")
    for empty in ({}, {"agreements": []}):  # the contract says so too (required, minItems), with the documented code
        assert "body.agreements" in api.error("POST", "/v1/agreement", empty, code="dataartsfabric.00010006")
    assert api.ok("POST", "/v1/agreement", {"agreements": [AGREEMENT]}) == "OK"
    assert api.ok("GET", "/v1/agreement") == {"agreements": [AGREEMENT]}
    assert other_api.ok("GET", "/v1/agreement") == {"agreements": []}  # per tenant
    assert api.ok("GET", "/v1/agency")["authorized"] is False
    api.ok("POST", "/v1/agency", {"policy_types": ["FABRIC_COMMON_POLICY", "FABRIC_SMN_POLICY"]})
    agency = api.ok("GET", "/v1/agency")
    enabled = {p["policy_type"]: p["is_enable"] for p in agency["agency_policies"]}
    assert agency["authorized"] is True and enabled == {
        "FABRIC_COMMON_POLICY": True,
        "FABRIC_SMN_POLICY": True,
        "FABRIC_LAKEFORMATION_POLICY": False,
        "FABRIC_AOM_POLICY": False,
    }
    assert [p["policy_type"] for p in api.ok("GET", "/v1/agency", query={"policy_type": "FABRIC_SMN_POLICY"})["agency_policies"]] == [
        "FABRIC_SMN_POLICY"
    ]
    api.ok("DELETE", "/v1/agency", query={"policy_type": "FABRIC_SMN_POLICY"})
    assert {p["policy_type"]: p["is_enable"] for p in api.ok("GET", "/v1/agency")["agency_policies"]}["FABRIC_SMN_POLICY"] is False
    api.ok("DELETE", "/v1/agreement")
    assert api.ok("GET", "/v1/agreement") == {"agreements": []}


def test_jobs_have_unique_names_versions_and_filters(api: Api) -> None:
    ws = api.workspace()
    first = _job(api, ws)
    api.error("POST", f"/v1/workspaces/{ws}/jobs", JOB, code="dataartsfabric.00010011")
    _job(api, ws, name="weekly", type="SPARK_JOB")
    listed = api.ok("GET", f"/v1/workspaces/{ws}/jobs", query={"type": "PYTHON_JOB"})
    assert (
        listed["total"] == 1
        and listed["jobs"][0]["id"] == first["id"]
        and listed["jobs"][0]["current_version"]["id"] == first["version_id"]
    )
    by_name = api.ok("GET", f"/v1/workspaces/{ws}/jobs", query={"sort_by": "NAME", "order_by": "ASC"})
    assert [j["name"] for j in by_name["jobs"]] == ["nightly", "weekly"]
    updated = api.ok("PUT", f"/v1/workspaces/{ws}/jobs/{first['id']}", {"version": {"name": "v2", "config": {}}, "description": "d"})
    assert updated["id"] == first["id"] and updated["version_id"] != first["version_id"]
    versions = api.ok("GET", f"/v1/workspaces/{ws}/jobs/{first['id']}/versions")
    assert [v["name"] for v in versions["versions"]] == ["v2", "v1"] and versions["total"] == 2
    api.error("DELETE", f"/v1/workspaces/{ws}/jobs/{first['id']}/versions/{updated['version_id']}", code="dataartsfabric.00010013")
    api.ok("DELETE", f"/v1/workspaces/{ws}/jobs/{first['id']}/versions/{first['version_id']}")
    api.error("PUT", f"/v1/workspaces/{ws}/jobs/{first['id']}", {"current_endpoint_id": "f" * 32}, code="dataartsfabric.00010009")
    api.ok("DELETE", f"/v1/workspaces/{ws}/jobs/{first['id']}")
    api.error("DELETE", f"/v1/workspaces/{ws}/jobs/{first['id']}", code="dataartsfabric.00010009")


def test_a_run_moves_on_the_clock_and_keeps_its_job_and_endpoint(api: Api) -> None:
    ws = api.workspace()
    endpoint, job = api.endpoint(ws), _job(api, ws)
    run = _run(api, ws, job, endpoint)
    url = f"/v1/workspaces/{ws}/jobs/runs/{run}"
    shown = api.ok("GET", url)
    assert (
        shown["status"] == "PENDING"
        and shown["job"] == {"id": job["id"], "version_id": job["version_id"]}
        and shown["type"] == "PYTHON_JOB"
    )
    api.clock.advance(3)
    assert api.ok("GET", url)["status"] == "RUNNING"
    api.error("DELETE", url, code="dataartsfabric.00010013")  # still running
    api.error("DELETE", f"/v1/workspaces/{ws}/jobs/{job['id']}", code="dataartsfabric.00010012")  # a job with runs
    api.error("DELETE", f"/v1/workspaces/{ws}/endpoints/{endpoint}", code="dataartsfabric.00010012")  # an endpoint with runs
    api.clock.advance(3)
    done = api.ok("GET", url)
    assert done["status"] == "SUCCEEDED" and done["duration"] == 6
    api.clock.advance(100)
    assert api.ok("GET", url)["duration"] == 6  # an ended run's duration stays
    api.error("POST", f"{url}/cancel", code="dataartsfabric.00010013")
    listed = api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs", query={"status": "SUCCEEDED", "job_id": job["id"]})
    assert listed["total"] == 1 and listed["job_runs"][0]["id"] == run
    api.ok("DELETE", url)
    api.ok("DELETE", f"/v1/workspaces/{ws}/endpoints/{endpoint}", status=202)


def test_cancel_stops_a_run_and_clear_removes_an_endpoints_ended_runs(api: Api) -> None:
    ws = api.workspace()
    endpoint, job = api.endpoint(ws), _job(api, ws)
    cancelled, still = _run(api, ws, job, endpoint, "a"), _run(api, ws, job, endpoint, "b")
    api.ok("POST", f"/v1/workspaces/{ws}/jobs/runs/{cancelled}/cancel")
    assert api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs/{cancelled}")["status"] == "STOPPING"
    api.clock.advance(3)
    assert api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs/{cancelled}")["status"] == "STOPPED"
    assert api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs/{still}")["status"] == "RUNNING"
    api.ok("DELETE", f"/v1/workspaces/{ws}/endpoints/{endpoint}/jobs/runs")
    remaining = api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs")
    assert [r["id"] for r in remaining["job_runs"]] == [still]  # the active run stays


def test_a_run_needs_its_job_version_and_endpoint(api: Api) -> None:
    ws = api.workspace()
    endpoint, job = api.endpoint(ws), _job(api, ws)
    url = f"/v1/workspaces/{ws}/jobs/runs"
    missing_job = api.error("POST", url, {"job": {"id": "a" * 32, "version_id": job["version_id"]}, "name": "r", "endpoint_id": endpoint})
    assert missing_job.startswith("body.job.id: ")
    missing_version = api.error("POST", url, {"job": {"id": job["id"], "version_id": "b" * 32}, "name": "r", "endpoint_id": endpoint})
    assert missing_version.startswith("body.job.version_id: ")
    body = {"job": {"id": job["id"], "version_id": job["version_id"]}, "name": "r", "endpoint_id": "c" * 32}
    assert api.error("POST", url, body).startswith("body.endpoint_id: ")


def test_a_failed_run_is_reachable_through_the_control_api(api: Api) -> None:
    ws = api.workspace()
    run = _run(api, ws, _job(api, ws), api.endpoint(ws))
    tenant = api.ok("GET", "/_mockfabric/requests", query={"limit": 1})["requests"][0]["tenant"]
    forced = api.ok("POST", "/_mockfabric/status", {"tenant": tenant, "kind": "job_run", "id": run, "status": "FAILED", "error_msg": "OOM"})
    assert forced["status"] == "FAILED"
    shown = api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs/{run}")
    assert (shown["status"], shown["error_msg"]) == ("FAILED", "OOM")


def test_message_policies_are_created_listed_and_deleted(api: Api) -> None:
    ws = api.workspace()
    policy = {
        "message_type": "job",
        "name_pattern": "nightly",
        "notification_types": ["FAILED"],
        "topic_urn": "urn:smn:cn-north-4:p:alerts",
    }
    created = api.ok("POST", f"/v1/workspaces/{ws}/messages", {"message_notification_policy_list": [policy]})
    assert {k: created[k] for k in policy} == policy
    api.error("POST", f"/v1/workspaces/{ws}/messages", {"message_notification_policy_list": [{**policy, "notification_types": ["MAYBE"]}]})
    assert api.ok("GET", f"/v1/workspaces/{ws}/messages", query={"notify_type": "SUCCESS"})["total"] == 0
    assert api.ok("GET", f"/v1/workspaces/{ws}/messages", query={"notify_type": "FAILED"})["policies"][0]["id"] == created["id"]
    api.ok("DELETE", f"/v1/workspaces/{ws}/messages/{created['id']}")
    assert api.ok("GET", f"/v1/workspaces/{ws}/messages")["total"] == 0


def test_endpoint_metrics_count_the_endpoints_own_traffic(api: Api) -> None:
    ws = api.workspace()
    endpoint = api.endpoint(ws)
    instance = api.instance(ws, api.model(ws)["id"], endpoint)
    invoke = f"/v1/workspaces/{ws}/services/instances/{instance}/invocations"
    answers = [api.ok("POST", invoke, {"messages": [{"role": "user", "content": "hi"}], "stream": False}) for _ in range(3)]
    tokens = sum(answer["usage"]["total_tokens"] for answer in answers)
    api.ok("PUT", f"/v1/workspaces/{ws}/metrics", {"enable": True})
    now_ms = int(api.clock.now() * 1000)
    query = {"start_time": now_ms - 3_600_000, "end_time": now_ms + 60_000, "period": 3600}
    series = {
        m["metric_name"]: m["datapoints"]
        for m in api.ok("GET", f"/v1/workspaces/{ws}/endpoints/{endpoint}/metrics", query=query)["metrics"]
    }
    assert [p["value"] for p in series["invocations"]] == [3] and [p["value"] for p in series["tokens"]] == [tokens]
    assert [p["value"] for p in series["errors"]] == [0]
    history = api.ok(
        "GET", f"/v1/workspaces/{ws}/endpoints/{endpoint}/metric/query-history", query={**query, "metric_names": "QUERY_HISTORY_COUNT"}
    )
    assert [(m["metric_name"], [p["value"] for p in m["datapoints"]]) for m in history["metrics"]] == [("QUERY_HISTORY_COUNT", [3])]
    api.error("GET", f"/v1/workspaces/{ws}/endpoints/{endpoint}/metrics", query={"start_time": 10, "end_time": 5})


def test_workspace_tags_are_kept_listed_and_find_workspaces(api: Api, other_api: Api) -> None:
    tagged = api.ok("POST", "/v1/workspaces", {"name": "tagged", "tags": [{"key": "team", "value": "ml"}]})["id"]
    plain = api.workspace("plain")
    base = "/v1/project-a/fabric-workspace"
    api.ok("POST", f"{base}/{tagged}/tags/create", {"tags": [{"key": "env", "value": "dev"}, {"key": "team", "value": "ai"}]})
    listed = api.ok("GET", f"{base}/{tagged}/tags")
    assert listed["tags"] == [{"key": "team", "value": "ai"}, {"key": "env", "value": "dev"}]
    assert api.ok("GET", "/v1/workspaces", query={"id": tagged})["workspaces"][0]["tags"] == listed["tags"]  # the same tags
    assert api.ok("GET", f"{base}/tags", query={"use_predefine_tags": "false"})["tags"] == [
        {"key": "team", "values": ["ai"]},
        {"key": "env", "values": ["dev"]},
    ]
    found = api.ok("POST", f"{base}/resource-instances/filter", {"tags": [{"key": "env", "values": ["dev", "prod"]}]})
    assert found["total_count"] == 1 and found["resources"][0]["resource_id"] == tagged
    assert api.ok("POST", f"{base}/resource-instances/count", {"without_any_tag": True}) == {"total_count": 1}
    assert (
        api.ok("POST", f"{base}/resource-instances/filter", {"matches": [{"key": "resource_name", "value": "PLA"}]})["resources"][0][
            "resource_id"
        ]
        == plain
    )
    assert other_api.ok("POST", f"{base}/resource-instances/count", {}) == {"total_count": 0}  # per tenant
    api.ok("POST", f"{base}/{tagged}/tags/delete", {"tags": [{"key": "env"}, {"key": "team", "value": "not-its-value"}]})
    assert api.ok("GET", f"{base}/{tagged}/tags")["tags"] == [{"key": "team", "value": "ai"}]
    too_many = [{"key": f"k{i}", "value": "v"} for i in range(20)]
    api.error("POST", f"{base}/{tagged}/tags/create", {"tags": too_many}, code="dataartsfabric.00010010")


def test_the_new_resources_survive_an_export_and_import(api: Api) -> None:
    ws = api.workspace()
    run = _run(api, ws, _job(api, ws), api.endpoint(ws))
    api.ok("POST", "/v1/agreement", {"agreements": [AGREEMENT]})
    policy = {"message_type": "job", "name_pattern": "x", "notification_types": ["SUCCESS"], "topic_urn": "urn:smn:r:p:t"}
    api.ok("POST", f"/v1/workspaces/{ws}/messages", {"message_notification_policy_list": [policy]})
    state = api.ok("GET", "/_mockfabric/state")
    api.ok("POST", "/_mockfabric/reset", {})
    api.ok("PUT", "/_mockfabric/state", state)
    assert api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs/{run}")["id"] == run
    assert api.ok("GET", "/v1/agreement")["agreements"] == [AGREEMENT]
    assert api.ok("GET", f"/v1/workspaces/{ws}/messages")["total"] == 1
    assert json.loads(json.dumps(api.ok("GET", "/_mockfabric/state"))) == state  # the round trip is exact
    api.error("POST", f"/v1/workspaces/{ws}/jobs", {**JOB, "name": "nightly"}, code="dataartsfabric.00010011")  # names rebuilt


def test_with_require_agreement_creations_wait_for_the_onboarding() -> None:
    from mockfabric import create_app
    from mockfabric.config import Settings

    client = create_app(Settings(require_agreement=True)).test_client()
    headers = {"X-Auth-Token": "newcomer"}
    refused = client.post("/v1/workspaces", json={"name": "first"}, headers=headers)
    assert refused.status_code == 400 and refused.get_json()["error_code"] == "dataartsfabric.00010018"
    assert "CreateAgreement" in refused.get_json()["error_msg"]
    assert client.get("/v1/workspaces", headers=headers).status_code == 200  # reading is not gated
    client.post("/v1/agreement", json={"agreements": [AGREEMENT]}, headers=headers)
    assert client.post("/v1/workspaces", json={"name": "first"}, headers=headers).status_code == 400  # no agency yet
    client.post("/v1/agency", json={"policy_types": ["FABRIC_COMMON_POLICY"]}, headers=headers)
    assert client.post("/v1/workspaces", json={"name": "first"}, headers=headers).status_code == 200


def test_a_scripted_outcome_decides_how_a_jobs_next_run_ends(api: Api) -> None:
    ws = api.workspace()
    endpoint, job = api.endpoint(ws), _job(api, ws)
    tenant = api.ok("GET", "/_mockfabric/requests", query={"limit": 1})["requests"][0]["tenant"]
    script = {"tenant": tenant, "job_id": job["id"], "status": "FAILED", "seconds": 10, "error_code": "JOB.0001", "error_msg": "OOM"}
    assert api.ok("POST", "/_mockfabric/job-runs", script) == {"queued": 1}
    scripted, plain = _run(api, ws, job, endpoint, "scripted"), _run(api, ws, job, endpoint, "plain")
    api.clock.advance(3)
    assert api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs/{scripted}")["status"] == "RUNNING"
    api.clock.advance(9)
    assert api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs/{scripted}")["status"] == "RUNNING"  # 9 of its 10 s
    api.clock.advance(1)
    failed = api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs/{scripted}")
    assert (failed["status"], failed["error_code"], failed["error_msg"], failed["duration"]) == ("FAILED", "JOB.0001", "OOM", 13)
    assert api.ok("GET", f"/v1/workspaces/{ws}/jobs/runs/{plain}")["status"] == "SUCCEEDED"  # the next run is not scripted
    refused = api.call("POST", "/_mockfabric/job-runs", {**script, "status": "STOPPING", "seconds": 1})
    assert refused.status == 200  # RUNNING -> STOPPING is an edge of the machine (a cancel), so it may be scripted
    api.error("POST", "/_mockfabric/job-runs", {**script, "status": "PENDING"})
