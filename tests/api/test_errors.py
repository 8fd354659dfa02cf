"""Every error class answers a Huawei error body with the right status and X-Request-Id, and never a 500."""

from __future__ import annotations

import pytest

from ..helpers import Api


def test_missing_credentials_are_the_gateway_s_apig_0301_with_its_message_and_request_id(api: Api) -> None:
    reply = api.client.get("/v1/workspaces")
    assert reply.status_code == 401 and reply.json["error_code"] == "APIG.0301" and reply.headers["X-Request-Id"]
    assert reply.json["error_msg"] == "Incorrect IAM authentication information: x-auth-token not found"
    assert reply.json["request_id"] == reply.headers["X-Request-Id"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer abc"},
        {"Authorization": "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=" + "a" * 64},  # no X-Sdk-Date
        {"Authorization": "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=xyz", "X-Sdk-Date": "20240416T095341Z"},
        {"X-Auth-Token": ""},
        {"X-Auth-Token": "t", "X-Project-Id": "bad/project"},
    ],
)
def test_garbled_credentials(api: Api, headers: dict[str, str]) -> None:
    reply = api.client.get("/v1/workspaces", headers=headers)
    assert reply.status_code == 401 and reply.json["error_code"] == "APIG.1002", reply.json


def test_well_formed_signature_is_accepted_in_default_mode(api: Api) -> None:
    headers = {
        "Authorization": "SDK-HMAC-SHA256 Access=MYAK, SignedHeaders=content-type;host;x-sdk-date, Signature=" + "0" * 64,
        "X-Sdk-Date": "20240416T095341Z",
    }
    assert api.client.get("/v1/workspaces", headers=headers).status_code == 200


def test_malformed_json_and_content_type(api: Api) -> None:
    bad = api.client.post("/v1/workspaces", data=b"{nope", headers={**api.headers, "Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json["error_code"] == "common.01000001"
    text = api.client.post("/v1/workspaces", data=b'{"name":"abcd"}', headers={**api.headers, "Content-Type": "text/plain"})
    assert text.status_code == 400 and "Content-Type" in text.json["error_msg"]
    nan = api.client.post("/v1/workspaces", data=b'{"name": NaN}', headers={**api.headers, "Content-Type": "application/json"})
    assert nan.status_code == 400
    latin = api.client.post("/v1/workspaces", data=b'{"name": "\xff\xfe"}', headers={**api.headers, "Content-Type": "application/json"})
    assert latin.status_code == 400
    deep = api.client.post("/v1/workspaces", data=b"[" * 100_000, headers={**api.headers, "Content-Type": "application/json"})
    assert deep.status_code == 400


def test_missing_body_and_wrong_types(api: Api) -> None:
    assert api.error("POST", "/v1/workspaces", code="dataartsfabric.00010001").startswith("body")
    assert api.error("POST", "/v1/workspaces", ["name"]).startswith("body")
    assert api.error("POST", "/v1/workspaces", {"name": 12345}).startswith("body.name")


def test_empty_body_with_json_content_type_on_get_is_fine(api: Api) -> None:
    reply = api.client.get("/v1/workspaces", data=b"", headers={**api.headers, "Content-Type": "application/json"})
    assert reply.status_code == 200


def test_body_over_12_mib(api: Api) -> None:
    big = b'{"name": "abcd", "description": "' + b"x" * (12 * 1024 * 1024) + b'"}'
    reply = api.client.post("/v1/workspaces", data=big, headers={**api.headers, "Content-Type": "application/json"})
    assert reply.status_code == 413 and reply.json["error_code"] == "APIG.0201" and reply.json["error_msg"] == "Request entity too large"
    assert reply.json["request_id"] == reply.headers["X-Request-Id"]
    assert api.ok("GET", "/v1/workspaces")["total"] == 0  # nothing half-applied


def test_unknown_route_and_wrong_method(api: Api) -> None:
    missing = api.client.get("/v1/nothing-here", headers=api.headers)
    assert missing.status_code == 404 and missing.json["error_code"] == "APIG.0101" and missing.headers["X-Request-Id"]
    assert missing.json["error_msg"] == "The API does not exist or has not been published in the environment"
    assert missing.json["request_id"] == missing.headers["X-Request-Id"]
    wrong = api.client.patch("/v1/workspaces", headers=api.headers)
    assert wrong.status_code == 405 and "PATCH" in wrong.json["error_msg"] and "POST" in wrong.headers["Allow"]


def test_path_parameter_constraints(api: Api) -> None:
    assert api.error("GET", f"/v1/workspaces/{'x' * 37}/endpoints").startswith("path.workspace_id")
    assert api.error("GET", "/v1/workspaces/bad_id!/endpoints").startswith("path.workspace_id")


def test_healthcheck_and_openapi_need_no_credentials(api: Api) -> None:
    health = api.client.get("/healthcheck")
    assert health.status_code == 200 and health.data == b"OK"
    spec = api.client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json["openapi"] == "3.1.0" and "/v1/workspaces" in spec.json["paths"]


def test_header_parameter_constraints(api: Api) -> None:
    """X-Infer-Service-Id (the contract's one header parameter) is checked before the instance is looked up."""
    invoke = "/v1/workspaces/w1/services/instances/i1/invocations"
    body = {"messages": [{"role": "user", "content": "hi"}]}
    too_long = api.error("POST", invoke, body, headers={"X-Infer-Service-Id": "x" * 129}, code="dataartsfabric.00010001")
    assert too_long.startswith("header.X-Infer-Service-Id")
    api.error("POST", invoke, body, headers={"X-Infer-Service-Id": "x" * 128}, code="dataartsfabric.00010003")  # valid: on to the lookup


def test_allow_lists_the_methods_of_the_path_the_url_names(api: Api) -> None:
    """`/jobs/runs` is a path of its own, though `/jobs/{job_id}` matches it too: its Allow (OPTIONS and 405) lists
    only its methods, as schemathesis's allow_header_conformance (ST205) checks."""
    runs = "/v1/workspaces/w1/jobs/runs"
    assert api.client.options(runs).headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert api.client.options("/v1/workspaces/w1/jobs/j1").headers["Allow"] == "DELETE, OPTIONS, PUT"
    wrong = api.client.patch(runs, headers=api.headers)  # werkzeug alone would add /jobs/{job_id}'s PUT and DELETE
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, HEAD, OPTIONS, POST", wrong.headers
    assert api.client.options("/_mockfabric/clock").status_code == 200  # the control API keeps Flask's own OPTIONS
