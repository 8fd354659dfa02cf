"""Every control endpoint, with good and bad input (400 with a clear message), token enforcement and journal hygiene."""

from __future__ import annotations

from typing import Any

import pytest

from mockfabric import create_app
from mockfabric.config import Settings
from mockfabric.web.auth import credential_of

from ..helpers import SEED_INVOKE, Api


def control(api: Api, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
    return api.call(method, f"/_mockfabric/{path}", body, **kwargs)


def tenant_of(api: Api) -> str:
    return credential_of(api.headers)


def test_health(api: Api) -> None:
    reply = control(api, "GET", "health")
    assert reply.status == 200 and reply.body["status"] == "ready" and reply.body["operations"] == 57


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "clock", {}, "body"),
        ("POST", "clock", {"advance": -1}, "body.advance"),
        ("POST", "clock", {"advance": "soon"}, "body.advance"),
        ("POST", "clock", {"warp": 1}, "body"),
        ("PUT", "lifecycle", {"endpoint": {"policy": "sometimes"}}, "body.endpoint.policy"),
        ("PUT", "lifecycle", {"robots": {"policy": "time"}}, "body"),
        ("PUT", "lifecycle", {"endpoint": {"policy": "polls", "polls": -2}}, "body.endpoint.polls"),
        ("POST", "status", {"kind": "endpoint", "id": "x", "status": "RUNNING"}, "body.tenant"),
        ("POST", "status", {"tenant": "t", "kind": "workspace", "id": "x", "status": "RUNNING"}, "body.kind"),
        ("POST", "faults", {}, "body"),
        ("POST", "faults", {"status": 200}, "body.status"),
        ("POST", "faults", {"probability": 0}, "body.probability"),
        ("POST", "faults", {"path": "("}, "body.path"),
        ("POST", "faults", {"explode": True}, "body"),
        ("POST", "completions", {"tenant": "t", "content": "x"}, "body.instance_id"),
        ("POST", "completions", {"tenant": "t", "instance_id": "i", "content": "x", "finish_reason": "tired"}, "body.finish_reason"),
        ("PUT", "timing", {"tenant": "t", "instance_id": "i", "ttft_ms": -1, "itl_ms": 0}, "body.ttft_ms"),
        ("POST", "seed", {"seed": "abc"}, "body.seed"),
        ("PUT", "state", {"format": 2, "tenants": {}}, "body.format"),
        ("PUT", "state", {"format": 1, "tenants": {"t": {"workspaces": {"w": {"entry": {}}}}}}, "body"),
        ("POST", "reset", {"tenant": "bad tenant!"}, "body.tenant"),
        ("GET", "requests?limit=0", None, "query.limit"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api: Api, method: str, path: str, body: Any, field: str) -> None:
    reply = control(api, method, path, body)
    assert reply.status == 400, reply.body
    assert reply.body["error_msg"].startswith(field), reply.body


def test_clock_advance_freeze_and_manual_clock_rules(api: Api) -> None:
    start = control(api, "GET", "clock").body
    assert start["frozen"] is True  # a ManualClock only moves when told
    moved = control(api, "POST", "clock", {"advance": 90}).body
    assert moved["now"] == start["now"] + 90 and moved["iso"] == "2023-11-14T22:14:50.000Z"
    assert control(api, "POST", "clock", {"frozen": False}).status == 400


def test_clock_of_serve_can_freeze_and_unfreeze() -> None:
    app = create_app(Settings())
    api = Api(app.test_client(), {}, None)  # type: ignore[arg-type]
    frozen = control(api, "POST", "clock", {"frozen": True}).body
    assert frozen["frozen"] and control(api, "GET", "clock").body["now"] == frozen["now"]
    later = control(api, "POST", "clock", {"advance": 3600}).body
    assert later["now"] == frozen["now"] + 3600
    running = control(api, "POST", "clock", {"frozen": False}).body
    assert not running["frozen"] and running["now"] >= later["now"]


def test_state_round_trip_is_exact(api: Api, other_api: Api) -> None:
    ws = api.workspace()
    api.instance(ws, api.model(ws)["id"], api.endpoint(ws), running=False)
    other_api.workspace("someone-else")
    exported = control(api, "GET", "state").body
    assert set(exported["tenants"]) == {tenant_of(api), tenant_of(other_api)}
    assert control(api, "POST", "reset", {}).body == {"tenant": None}
    assert api.ok("GET", "/v1/workspaces")["total"] == 0
    assert control(api, "PUT", "state", exported).status == 200
    assert control(api, "GET", "state").body == exported
    api.clock.advance(5)  # the pending transition survived the round trip
    assert api.ok("GET", f"/v1/workspaces/{ws}/services/instances")["service_instances"][0]["status"] == "RUNNING"


def test_one_tenant_export_import_and_reset(api: Api, other_api: Api) -> None:
    api.workspace("mine")
    other_api.workspace("theirs")
    mine = control(api, "GET", f"state?tenant={tenant_of(api)}").body
    assert list(mine["tenants"]) == [tenant_of(api)]
    control(api, "POST", "reset", {"tenant": tenant_of(api)})
    assert api.ok("GET", "/v1/workspaces")["total"] == 0 and other_api.ok("GET", "/v1/workspaces")["total"] == 1
    control(api, "PUT", f"state?tenant={tenant_of(api)}", mine)
    assert api.ok("GET", "/v1/workspaces")["workspaces"][0]["name"] == "mine"


def test_faults_list_match_and_clear(api: Api, other_api: Api) -> None:
    rule = control(api, "POST", "faults", {"operation": "CreateWorkspace", "status": 500, "tenant": tenant_of(api), "times": 2}).body
    assert rule["id"].startswith("fault-") and rule["fired"] == 0
    control(api, "POST", "faults", {"method": "GET", "path": "/v1/workspaces", "status": 408})
    assert api.error("POST", "/v1/workspaces", {"name": "abcd"}, status=500, code="common.00000500")
    other_api.ok("POST", "/v1/workspaces", {"name": "abcd"})  # another tenant: the first rule does not match
    assert other_api.error("GET", "/v1/workspaces", status=408, code="common.00000408")
    listed = control(api, "GET", "faults").body["faults"]
    assert [r["fired"] for r in listed] == [1, 1]
    assert control(api, "DELETE", f"faults?id={listed[1]['id']}").body == {"removed": 1}
    api.error("POST", "/v1/workspaces", {"name": "abcd"}, status=500)
    api.ok("POST", "/v1/workspaces", {"name": "abcd"})  # times used up: the rule is gone
    assert control(api, "GET", "faults").body == {"faults": []}


def test_seeded_probability_repeats(api: Api) -> None:
    def outcomes() -> list[int]:
        control(api, "POST", "seed", {"seed": 99})
        control(api, "DELETE", "faults")
        control(api, "POST", "faults", {"operation": "ListWorkspaces", "status": 503, "probability": 0.5})
        return [api.call("GET", "/v1/workspaces").status for _ in range(30)]

    first, second = outcomes(), outcomes()
    assert first == second and set(first) == {200, 503}


def test_latency_and_dropped_connection(api: Api) -> None:
    control(api, "POST", "faults", {"operation": "ListWorkspaces", "drop_connection": True, "times": 1})
    with pytest.raises(ConnectionAbortedError):
        api.client.get("/v1/workspaces", headers=api.headers).get_data()
    assert api.ok("GET", "/v1/workspaces") == {"total": 0, "workspaces": []}


def test_journal_is_filterable_redacted_and_ignores_control_calls(api: Api, other_api: Api) -> None:
    api.workspace("journaled")
    api.error("POST", "/v1/workspaces", {"name": "x"})
    other_api.ok("GET", "/v1/workspaces")
    control(api, "GET", "clock")
    everything = control(api, "GET", "requests").body
    assert everything["total"] == 3 and all(not e["path"].startswith("/_mockfabric") for e in everything["requests"])
    mine = control(api, "GET", f"requests?tenant={tenant_of(api)}").body["requests"]
    assert [e["operation"] for e in mine] == ["CreateWorkspace", "CreateWorkspace"] and [e["status"] for e in mine] == [200, 400]
    assert mine[0]["headers"]["X-Auth-Token"] == "***" and mine[0]["body"] == {"name": "journaled"}
    assert control(api, "GET", "requests?status=400").body["total"] == 1
    assert control(api, "GET", f"requests?since_seq={mine[0]['seq']}&limit=1").body["requests"][0]["seq"] > mine[0]["seq"]
    assert control(api, "DELETE", f"requests?tenant={tenant_of(api)}").body == {"removed": 2}
    assert control(api, "GET", "requests").body["total"] == 1


def test_signed_credentials_are_redacted_but_the_ak_is_kept(api: Api) -> None:
    headers = {
        "Authorization": "SDK-HMAC-SHA256 Access=MYAK, SignedHeaders=host;x-sdk-date, Signature=" + "a" * 64,
        "X-Sdk-Date": "20240416T095341Z",
    }
    api.client.get("/v1/workspaces", headers=headers)
    entry = control(api, "GET", "requests").body["requests"][-1]
    assert entry["headers"]["Authorization"] == "SDK-HMAC-SHA256 Access=MYAK, SignedHeaders=host;x-sdk-date, Signature=***"


def test_scripted_completion_and_timing_answer_with_the_queue(api: Api) -> None:
    ws = api.workspace()
    instance = api.instance(ws, api.model(ws)["id"], api.endpoint(ws))
    body = {"tenant": tenant_of(api), "instance_id": instance, "content": "scripted"}
    assert control(api, "POST", "completions", body).body == {"queued": 1}
    assert control(api, "POST", "completions", {**body, "content": "two"}).body == {"queued": 2}
    timing = {"tenant": tenant_of(api), "instance_id": instance, "ttft_ms": 5, "itl_ms": 1}
    assert control(api, "PUT", "timing", timing).body == {
        **timing,
        "ttft_jitter_ms": 0.0,
        "itl_jitter_ms": 0.0,
        "prefill_us_per_token": 0.0,
    }
    url = f"/v1/workspaces/{ws}/services/instances/{instance}/invocations"
    assert api.ok("POST", url, {**SEED_INVOKE, "stream": False})["choices"][0]["message"]["content"] == "scripted"


def test_reset_of_a_tenant_clears_its_faults_scripts_and_journal(api: Api, other_api: Api) -> None:
    control(api, "POST", "faults", {"tenant": tenant_of(api), "status": 500})
    control(api, "POST", "faults", {"tenant": tenant_of(other_api), "operation": "CreateWorkspace", "status": 500})
    api.call("GET", "/v1/workspaces")
    control(api, "POST", "reset", {"tenant": tenant_of(api)})
    assert [r["tenant"] for r in control(api, "GET", "faults").body["faults"]] == [tenant_of(other_api)]
    assert control(api, "GET", f"requests?tenant={tenant_of(api)}").body["total"] == 0
    api.ok("GET", "/v1/workspaces")


def test_control_token_is_enforced() -> None:
    app = create_app(Settings(control_token="s3cret"))
    client = app.test_client()
    denied = client.get("/_mockfabric/health")
    assert denied.status_code == 401 and "X-Mockfabric-Control-Token" in denied.json["error_msg"]
    assert client.get("/_mockfabric/health", headers={"X-Mockfabric-Control-Token": "wrong"}).status_code == 401
    assert client.get("/_mockfabric/health", headers={"X-Mockfabric-Control-Token": "s3cret"}).status_code == 200
    assert client.get("/v1/workspaces", headers={"X-Auth-Token": "t"}).status_code == 200  # the public API is unaffected


def test_an_advance_past_year_9999_is_refused_and_nothing_breaks() -> None:
    from mockfabric import create_app
    from mockfabric.clock import LATEST_INSTANT, ManualClock
    from mockfabric.config import Settings

    app = create_app(Settings(), clock=ManualClock(start=LATEST_INSTANT - 100))
    client = app.test_client()
    refused = client.post("/_mockfabric/clock", json={"advance": 315_360_000, "frozen": True})
    assert refused.status_code == 400 and refused.get_json()["error_msg"].startswith("body.advance: the clock cannot go past 9999")
    assert client.get("/_mockfabric/clock").status_code == 200
    created = client.post("/v1/workspaces", json={"name": "late"}, headers={"X-Auth-Token": "late-token"})
    assert created.status_code == 200 and created.get_json()["id"]
