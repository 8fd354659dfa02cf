"""Documented behaviour over inferred (issue 18): the documented base models and their limits, the platform's public
models and preset services, reasoning streamed before content, tokens quotas that run out, the gateway's throttling,
and the documented code for a value of the wrong type."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mockfabric import create_app
from mockfabric.clock import ManualClock
from mockfabric.config import ConfigError, Settings, parse_rate_limits
from mockfabric.service.completions import tokenize
from mockfabric.testing.streams import chunk_rule_problems, parse_sse
from tests.helpers import SEED_MODEL, Api

QWEN_SERVICE = "6f1d2c3b-4a59-4e87-b1c0-9d8e7f6a5b01"
R1_SERVICE = "6f1d2c3b-4a59-4e87-b1c0-9d8e7f6a5b03"
PUBLIC_MODEL_NAMES = {"QWEN_2_72B", "GLM_4_9B", "DeepSeek-R1", "DeepSeek-V3"}


def _instance_of(api: Api, base_model_type: str) -> tuple[str, str]:
    """A RUNNING instance of an own model whose version names `base_model_type`."""
    ws = api.workspace()
    body = copy.deepcopy(SEED_MODEL)
    body["version"]["config"]["llm_model_config"]["base_model_type"] = base_model_type
    model = api.ok("POST", f"/v1/workspaces/{ws}/models", body)
    return ws, api.instance(ws, model["id"], api.endpoint(ws))


def _invoke(api: Api, ws: str, instance: str, body: dict[str, Any]) -> Any:
    return api.call("POST", f"/v1/workspaces/{ws}/services/instances/{instance}/invocations", body)


def test_the_documented_base_models_are_listed_with_their_sizes(api: Api) -> None:
    listed = api.ok("GET", "/v1/base-models", query={"limit": 50})
    by_type = {m["base_model_type"]: m for m in listed["models"]}
    assert by_type["QWEN_2_72B"] == {"base_model_type": "QWEN_2_72B", "max_tokens": 16360, "num_of_mu": 8}
    assert by_type["GLM_4_9B"] == {"base_model_type": "GLM_4_9B", "max_tokens": 32751, "num_of_mu": 2}
    assert by_type["DEEPSEEK_R1"]["max_tokens"] == 32768 and by_type["DEEPSEEK_V3"]["max_tokens"] == 16384


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_output_beyond_the_models_maximum_is_refused_naming_the_field(api: Api, field: str) -> None:
    ws, instance = _instance_of(api, "QWEN_2_72B")
    refused = _invoke(api, ws, instance, {"messages": [{"role": "user", "content": "hi"}], field: 16361, "stream": False})
    assert refused.status == 400 and refused.body["error_code"] == "dataartsfabric.00010010"
    assert refused.body["error_msg"].startswith(f"body.{field}: 16361 exceeds the model's maximum of 16360")


def test_prompt_plus_output_beyond_the_context_length_is_refused(api: Api) -> None:
    ws, instance = _instance_of(api, "QWEN_2_72B")
    long_prompt = " ".join(["word"] * 12_000)  # 12 000 tokens, + 3 for the message
    refused = _invoke(api, ws, instance, {"messages": [{"role": "user", "content": long_prompt}], "max_tokens": 4000, "stream": False})
    assert refused.status == 400 and refused.body["error_msg"].startswith("body.messages: the prompt's 12003 tokens plus up to 4000")
    assert "context length of 16000" in refused.body["error_msg"]
    fits = _invoke(api, ws, instance, {"messages": [{"role": "user", "content": long_prompt}], "max_tokens": 3997, "stream": False})
    assert fits.status == 200, fits.body


def test_a_model_without_a_known_base_model_keeps_the_schemas_bounds_only(api: Api) -> None:
    ws, instance = _instance_of(api, "")  # the seed flow's model names no base model
    answered = _invoke(api, ws, instance, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 30000, "stream": False})
    assert answered.status == 200, answered.body


def test_public_models_and_services_are_listed_for_every_tenant_with_visibility_public(api: Api, other_api: Api) -> None:
    for caller in (api, other_api):
        ws = caller.workspace()
        own = caller.model(ws)
        assert {m["id"] for m in caller.ok("GET", f"/v1/workspaces/{ws}/models")["models"]} == {own["id"]}  # absent: own only
        public = caller.ok("GET", f"/v1/workspaces/{ws}/models", query={"visibility": "PUBLIC"})
        assert {m["name"] for m in public["models"]} == PUBLIC_MODEL_NAMES and public["total"] == 4
        assert all(m["visibility"] == "PUBLIC" for m in public["models"])
        every = caller.ok("GET", f"/v1/workspaces/{ws}/models", query={"visibility": "ALL", "limit": 20})
        assert every["total"] == 5
        services = caller.ok("GET", f"/v1/workspaces/{ws}/services/instances", query={"visibility": "PUBLIC"})
        assert services["total"] == 4 and {s["status"] for s in services["service_instances"]} == {"RUNNING"}
        shown = caller.ok("GET", f"/v1/workspaces/{ws}/services/instances/{QWEN_SERVICE}")
        assert shown["visibility"] == "PUBLIC" and shown["url"]["address"].endswith(
            f"/v1/workspaces/{ws}/services/instances/{QWEN_SERVICE}/invocations"
        )
        versions = caller.ok("GET", f"/v1/workspaces/{ws}/models/{shown['source']['id']}/versions")
        assert versions["versions"][0]["config"]["llm_model_config"]["base_model_type"] == "QWEN_2_72B"


def test_a_preset_service_answers_any_tenant_and_cannot_be_changed(api: Api) -> None:
    ws = api.workspace()
    answered = _invoke(api, ws, QWEN_SERVICE, {"messages": [{"role": "user", "content": "hello"}], "stream": False})
    assert answered.status == 200 and answered.body["model"] == QWEN_SERVICE
    base = f"/v1/workspaces/{ws}/services/instances/{QWEN_SERVICE}"
    api.error("PUT", base, {"description": "mine now"}, code="dataartsfabric.00010009")
    api.error("DELETE", base, code="dataartsfabric.00010009")
    model_id = api.ok("GET", base)["source"]["id"]
    api.error("DELETE", f"/v1/workspaces/{ws}/models/{model_id}", code="dataartsfabric.00010009")
    api.error("PUT", f"/v1/workspaces/{ws}/models/{model_id}", {"description": "x"}, code="dataartsfabric.00010009")
    again = _invoke(api, ws, QWEN_SERVICE, {"messages": [{"role": "user", "content": "hello"}], "stream": False})
    assert again.status == 200  # still there, unchanged


def test_a_public_model_deploys_on_an_own_endpoint(api: Api) -> None:
    ws = api.workspace()
    model_id = api.ok("GET", f"/v1/workspaces/{ws}/services/instances/{QWEN_SERVICE}")["source"]["id"]
    instance = api.instance(ws, model_id, api.endpoint(ws))
    assert api.ok("GET", f"/v1/workspaces/{ws}/services/instances/{instance}")["source"]["id"] == model_id


def test_a_reasoning_model_streams_its_reasoning_before_its_content(api: Api) -> None:
    ws = api.workspace()
    url = f"/v1/workspaces/{ws}/services/instances/{R1_SERVICE}/invocations"
    body = {"messages": [{"role": "user", "content": "why?"}], "stream_options": {"include_usage": True}}
    response = api.client.post(url, json=body, headers=api.headers)
    stream = parse_sse(response.get_data(as_text=True).splitlines(keepends=True))
    assert chunk_rule_problems(stream, include_usage=True) == []
    deltas = [c["choices"][0]["delta"] for c in stream.chunks if c["choices"]]
    kinds = ["reasoning" if d.get("reasoning_content") else "content" for d in deltas if d.get("reasoning_content") or d.get("content")]
    assert kinds[0] == "reasoning" and "content" in kinds and kinds == sorted(kinds, key=lambda k: k == "content")
    plain = api.ok("POST", url, {**body, "stream": False})
    message = plain["choices"][0]["message"]
    assert message["reasoning_content"] == "".join(d.get("reasoning_content", "") for d in deltas)
    assert message["content"] == "".join(d.get("content", "") for d in deltas)
    assert plain["usage"] == stream.chunks[-1]["usage"] and plain["usage"]["completion_tokens"] > len(message["content"].split())
    reasoning_tokens = plain["usage"]["completion_tokens_details"]["reasoning_tokens"]
    assert reasoning_tokens == len(tokenize(message["reasoning_content"])) and reasoning_tokens < plain["usage"]["completion_tokens"]


def test_an_endpoint_whose_quota_is_used_up_answers_no_more(api: Api) -> None:
    ws, instance = _instance_of(api, "")
    invoke = {"messages": [{"role": "user", "content": "hi"}], "stream": False}
    endpoint = api.ok("GET", f"/v1/workspaces/{ws}/services/instances/{instance}")["endpoint_id"]
    quota = api.ok("PUT", "/_mockfabric/quota", {"tenant": _tenant(api), "endpoint_id": endpoint, "total": 30})
    assert quota == {"total": 30, "used": 0, "expire_time": quota["expire_time"]}
    first = _invoke(api, ws, instance, invoke)
    assert first.status == 200 and first.body["usage"]["total_tokens"] > 0
    used = api.ok("GET", f"/v1/workspaces/{ws}/endpoints/{endpoint}")["tokens_quota"]["used"]
    assert used == first.body["usage"]["total_tokens"]
    if used < 30:  # the first answer did not use it all: the control API uses up the rest
        used = api.ok("PUT", "/_mockfabric/quota", {"tenant": _tenant(api), "endpoint_id": endpoint, "used": 30})["used"]
    refused = _invoke(api, ws, instance, invoke)
    assert refused.status == 400 and refused.body["error_code"] == "dataartsfabric.00010017"
    assert f"used its tokens quota ({used} of 30)" in refused.body["error_msg"]
    api.ok("PUT", "/_mockfabric/quota", {"tenant": _tenant(api), "endpoint_id": endpoint, "total": used + 1000})
    assert _invoke(api, ws, instance, invoke).status == 200  # a larger quota serves again


def _tenant(api: Api) -> str:
    requests = api.ok("GET", "/_mockfabric/requests", query={"limit": 1000})["requests"]
    tenants = {entry["tenant"] for entry in requests if entry.get("tenant") and entry["tenant"] != "_control"}
    assert len(tenants) == 1, tenants
    return tenants.pop()


def test_throttling_answers_the_gateways_429_until_the_clock_moves_on() -> None:
    clock = ManualClock(start=1_700_000_000.0)
    app = create_app(Settings(rate_limit=parse_rate_limits("ListWorkspaces=2/min")), clock=clock)
    client = app.test_client()
    alice, bob = {"X-Auth-Token": "alice-token"}, {"X-Auth-Token": "bob-token"}
    assert [client.get("/v1/workspaces", headers=alice).status_code for _ in range(2)] == [200, 200]
    throttled = client.get("/v1/workspaces", headers=alice)
    assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    body = throttled.get_json()
    assert body["error_code"] == "APIG.0308" and body["request_id"] == throttled.headers["X-Request-Id"]
    assert body["error_msg"] == "The throttling threshold has been reached: policy user over ratelimit,limit:2,time:1 minute"
    assert client.get("/v1/workspaces", headers=bob).status_code == 200  # per tenant
    assert client.get("/v1/specs", headers=alice).status_code == 200  # per operation
    clock.advance(60)
    assert client.get("/v1/workspaces", headers=alice).status_code == 200


@pytest.mark.parametrize(
    ("text", "problem"),
    [("InvokeModelService=60", "expected OPERATION=N/min"), ("InvokeModelService=0/min", "at least 1"), ("Nope=1/s", "not an operation")],
)
def test_a_bad_rate_limit_is_one_clear_line(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        create_app(Settings(rate_limit=parse_rate_limits(text)))


def test_a_value_of_the_wrong_type_is_the_documented_type_mismatch(api: Api) -> None:
    wrong_type = api.error("POST", "/v1/workspaces", {"name": 12345}, code="common.01000001")
    assert wrong_type.startswith("body.name: ")
    api.error("GET", "/v1/workspaces", query={"limit": "ten"}, code="common.01000001")
    too_short = api.error("POST", "/v1/workspaces", {"name": "ab"}, code="dataartsfabric.00010001")
    assert too_short.startswith("body.name: ")


def test_the_catalog_refuses_public_models_it_cannot_serve(tmp_path: Any) -> None:
    from mockfabric.service.catalog import CatalogError

    catalog = tmp_path / "catalog.yaml"
    model = {"id": "x" * 32, "name": "m", "base_model_type": "UNKNOWN", "service_id": "y" * 32}
    catalog.write_text(json.dumps({"base_models": [{"base_model_type": "A", "max_tokens": 1, "num_of_mu": 1}], "public_models": [model]}))
    with pytest.raises(CatalogError, match="base_model_type 'UNKNOWN' is not among base_models"):
        create_app(Settings(catalog=str(catalog)))


def test_other_tenants_public_endpoints_are_listed_with_visibility_public(api: Api, other_api: Api) -> None:
    mine = api.workspace()
    public = api.ok("POST", f"/v1/workspaces/{mine}/endpoints", {"name": "shared", "type": "inference", "public_access": True})["id"]
    private = api.endpoint(mine)
    theirs = other_api.workspace()
    own = other_api.endpoint(theirs)
    assert {e["id"] for e in other_api.ok("GET", f"/v1/workspaces/{theirs}/endpoints")["endpoints"]} == {own}
    listed = other_api.ok("GET", f"/v1/workspaces/{theirs}/endpoints", query={"visibility": "PUBLIC"})
    assert {e["id"] for e in listed["endpoints"]} == {public} and private not in json.dumps(listed)
    every = other_api.ok("GET", f"/v1/workspaces/{theirs}/endpoints", query={"visibility": "ALL"})
    assert {e["id"] for e in every["endpoints"]} == {public, own}
