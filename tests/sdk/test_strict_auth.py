"""Strict mode rejects every way a signature can be wrong with a 401 APIG.* naming the problem, never a 500."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from mockfabric import MockFabric, create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Settings
from mockfabric.testing.streams import chunk_rule_problems, parse_sse

from .signed import Signed, sign


@pytest.fixture(scope="module")
def strict(credentials_file: Path) -> Iterator[MockFabric]:
    with MockFabric(auth="strict", credentials=str(credentials_file), validate_responses=True) as handle:
        yield handle


def send(signed: Signed, **changes: object) -> requests.Response:
    return requests.request(
        signed.method,
        str(changes.get("url", signed.url)),
        headers=changes.get("headers", signed.headers),  # type: ignore[arg-type]
        data=changes.get("body", signed.body),
        timeout=10,
    )


def rejected(reply: requests.Response, needle: str, code: str = "APIG.0301") -> None:
    assert reply.status_code == 401, reply.text
    assert reply.json()["error_code"] == code and needle in reply.json()["error_msg"], reply.json()
    assert reply.headers["X-Request-Id"]


def test_a_correct_signature_passes(strict: MockFabric) -> None:
    reply = send(sign(strict.base_url, "POST", "/v1/workspaces", body={"name": "signed-ws"}))
    assert reply.status_code == 200 and reply.json()["create_user_name"] == "alice"
    listed = send(sign(strict.base_url, "GET", "/v1/workspaces", query=[("name", "signed"), ("limit", 5), ("offset", 0)]))
    assert listed.status_code == 200 and listed.json()["total"] == 1
    specs = send(sign(strict.base_url, "GET", "/v1/specs", query=[("spec_types", ["MU", "APU"])]))
    assert specs.status_code == 200 and specs.json()["total"] == 5


def test_wrong_sk(strict: MockFabric) -> None:
    rejected(send(sign(strict.base_url, "GET", "/v1/workspaces", sk="not-alices-secret")), "signature does not match")


def test_tampered_body(strict: MockFabric) -> None:
    signed = sign(strict.base_url, "POST", "/v1/workspaces", body={"name": "honest-ws"})
    rejected(send(signed, body=json.dumps({"name": "forged-ws"}).encode()), "signature does not match")


def test_tampered_query(strict: MockFabric) -> None:
    signed = sign(strict.base_url, "GET", "/v1/workspaces", query=[("limit", 5)])
    rejected(send(signed, url=signed.url.replace("limit=5", "limit=50")), "signature does not match")


def test_tampered_path(strict: MockFabric) -> None:
    signed = sign(strict.base_url, "GET", "/v1/base-models")
    rejected(send(signed, url=signed.url.replace("/v1/base-models", "/v1/features")), "signature does not match")


def test_missing_signed_header(strict: MockFabric) -> None:
    signed = sign(strict.base_url, "GET", "/v1/base-models")
    headers = {k: v for k, v in signed.headers.items() if k != "User-Agent"}
    headers["User-Agent"] = ""  # requests would add its own: send an empty one, i.e. not the signed value
    rejected(send(signed, headers=headers), "signature does not match")
    unsigned_host = dict(signed.headers)
    unsigned_host["Authorization"] = unsigned_host["Authorization"].replace("host;", "")
    rejected(send(signed, headers=unsigned_host), "SignedHeaders must include host")
    absent = dict(signed.headers)
    absent["Authorization"] = absent["Authorization"].replace("x-sdk-date", "x-sdk-date;x-extra-header")
    rejected(send(signed, headers=absent), "x-extra-header missing")


def test_expired_and_garbled_dates(strict: MockFabric) -> None:
    stale = (datetime.now(UTC) - timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")
    rejected(send(sign(strict.base_url, "GET", "/v1/base-models", sdk_date=stale)), "away from the emulator's clock")
    signed = sign(strict.base_url, "GET", "/v1/base-models")
    garbled = {**signed.headers, "X-Sdk-Date": "yesterday"}
    rejected(send(signed, headers=garbled), "X-Sdk-Date")
    missing = {k: v for k, v in signed.headers.items() if k != "X-Sdk-Date"}
    rejected(send(signed, headers=missing), "X-Sdk-Date")


def test_clock_skew_is_measured_on_the_emulator_clock(credentials_file: Path) -> None:
    with MockFabric(auth="strict", credentials=str(credentials_file)) as own:  # its clock moves: not the shared server
        assert send(sign(own.base_url, "GET", "/v1/base-models")).status_code == 200
        own.advance(20 * 60)  # the emulator is now 20 minutes ahead of the client
        reply = send(sign(own.base_url, "GET", "/v1/base-models"))
        rejected(reply, "s away from the emulator's clock")
        skew = int(reply.json()["error_msg"].split(" is ", 1)[1].split(" s away")[0])
        assert 1195 <= skew <= 1205  # 20 minutes, give or take the seconds the wall clock moved meanwhile


def test_unknown_ak_and_unknown_token(strict: MockFabric) -> None:
    rejected(send(sign(strict.base_url, "GET", "/v1/base-models", ak="AKNOBODY99", project=None)), "unknown AK AKNOBODY99")
    reply = requests.get(f"{strict.base_url}/v1/base-models", headers={"X-Auth-Token": "guessed-token"}, timeout=10)
    rejected(reply, "not a token this emulator knows", code="APIG.1002")
    assert (
        requests.get(f"{strict.base_url}/v1/base-models", headers={"X-Auth-Token": "mockfabric-test-token"}, timeout=10).status_code == 200
    )


def test_foreign_project_header(strict: MockFabric) -> None:
    rejected(send(sign(strict.base_url, "GET", "/v1/base-models", project="project-bob")), "not the project of this credential")


def test_temporary_credentials_need_their_token(strict: MockFabric) -> None:
    rejected(send(sign(strict.base_url, "GET", "/v1/base-models", ak="AKTEMP0003", sk="temp-secret")), "X-Security-Token")
    wrong = sign(strict.base_url, "GET", "/v1/base-models", ak="AKTEMP0003", sk="temp-secret", extra_headers={"X-Security-Token": "stolen"})
    rejected(send(wrong), "X-Security-Token")
    right = sign(
        strict.base_url, "GET", "/v1/base-models", ak="AKTEMP0003", sk="temp-secret", extra_headers={"X-Security-Token": "session-token-3"}
    )
    assert send(right).status_code == 200


def test_signed_invocation_streams(strict: MockFabric) -> None:
    def ok(signed: Signed) -> dict[str, object]:
        reply = send(signed)
        assert reply.status_code == 200, reply.text
        body: dict[str, object] = reply.json()
        return body

    base = strict.base_url
    handle = strict.for_tenant("project-alice")
    handle.set_lifecycle("endpoint", "instant")  # applies to transitions that start from now on
    handle.set_lifecycle("service_instance", "instant")
    ws = ok(sign(base, "POST", "/v1/workspaces", body={"name": "invoke-signed"}))["id"]
    endpoint = {"name": "e", "type": "inference", "reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 0, "max": 1}}}
    ep = ok(sign(base, "POST", f"/v1/workspaces/{ws}/endpoints", body=endpoint))["id"]
    ok(sign(base, "GET", f"/v1/workspaces/{ws}/endpoints/{ep}"))
    model = ok(sign(base, "POST", f"/v1/workspaces/{ws}/models", body={"name": "m", "type": "LLM_MODEL", "version": {"name": "v1"}}))["id"]
    instance = ok(
        sign(base, "POST", f"/v1/workspaces/{ws}/services/instances", body={"source": {"id": model}, "name": "i", "endpoint_id": ep})
    )["id"]
    ok(sign(base, "GET", f"/v1/workspaces/{ws}/services/instances/{instance}"))
    signed = sign(
        base,
        "POST",
        f"/v1/workspaces/{ws}/services/instances/{instance}/invocations",
        body={"messages": [{"role": "user", "content": "hello"}]},
    )
    reply = requests.post(signed.url, headers=signed.headers, data=signed.body, stream=True, timeout=30)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/event-stream")
    assert chunk_rule_problems(parse_sse(reply.iter_lines(delimiter=b"\n"))) == []
    tampered = requests.post(signed.url, headers=signed.headers, data=b'{"messages":[{"role":"user","content":"bye"}]}', timeout=30)
    rejected(tampered, "signature does not match")


authorization_values = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda ak, headers, sig: f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={headers}, Signature={sig}",
        st.text(max_size=30),
        st.text(max_size=60),
        st.text(max_size=80),
    ),
    st.builds(
        lambda ak, sig: f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date, Signature={sig}",
        st.sampled_from(["AKALICE0001", "AKBOB00002", "X"]),
        st.text("0123456789abcdef", min_size=64, max_size=64),
    ),
)


@given(value=authorization_values, date=st.one_of(st.none(), st.text(max_size=20), st.just("20240416T095341Z")))
def test_malformed_authorization_is_always_a_401(strict: MockFabric, value: str, date: str | None) -> None:
    headers = {"Authorization": value.encode("utf-8", "ignore").decode("latin-1", "ignore")}
    if date is not None:
        headers["X-Sdk-Date"] = date.encode("utf-8", "ignore").decode("latin-1", "ignore")
    try:
        reply = requests.get(f"{strict.base_url}/v1/base-models", headers=headers, timeout=10)
    except (ValueError, requests.exceptions.InvalidHeader):
        return  # not sendable as an HTTP header at all (e.g. a newline): nothing reaches the server
    if reply.status_code == 400:  # a header value HTTP itself forbids (control characters): refused before auth
        assert reply.json()["error_code"] == "common.01000001" and reply.headers["X-Request-Id"]
        return
    assert reply.status_code == 401, (headers, reply.text)
    assert reply.json()["error_code"].startswith("APIG.")


class TestPayloadHashHeader:
    """X-Sdk-Content-Sha256 may stand in for the body's hash only as the literal UNSIGNED-PAYLOAD, signed; the
    SDK's own Signer signs every header it is given, so each case below is signed the way a client would."""

    def test_an_unsigned_hash_header_does_not_let_the_body_be_swapped(self, strict: MockFabric) -> None:
        honest = {"name": "swap-honest"}
        signed = sign(strict.base_url, "POST", "/v1/workspaces", body=honest)
        headers = {**signed.headers, "X-Sdk-Content-Sha256": hashlib.sha256(signed.body).hexdigest()}
        rejected(send(signed, headers=headers, body=json.dumps({"name": "swap-forged"}).encode()), "signature does not match")
        assert not [w for w in list_names(strict) if w == "swap-forged"]

    def test_an_unsigned_unsigned_payload_header_does_not_let_the_body_be_swapped(self, strict: MockFabric) -> None:
        signed = sign(strict.base_url, "POST", "/v1/workspaces", body={"name": "swap-honest-2"})
        headers = {**signed.headers, "X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}
        rejected(send(signed, headers=headers, body=json.dumps({"name": "swap-forged-2"}).encode()), "signature does not match")

    def test_a_signed_hash_value_is_not_trusted_over_the_body(self, strict: MockFabric) -> None:
        honest = json.dumps({"name": "swap-honest-3"}).encode()
        declared = {"X-Sdk-Content-Sha256": hashlib.sha256(honest).hexdigest()}
        signed = sign(strict.base_url, "POST", "/v1/workspaces", body={"name": "swap-honest-3"}, extra_headers=declared)
        assert "x-sdk-content-sha256" in signed.headers["Authorization"]
        assert send(signed).status_code == 200  # the declared hash is the body's: the body verifies on its own
        rejected(send(signed, body=json.dumps({"name": "swap-forged-3"}).encode()), "signature does not match")

    def test_a_signed_unsigned_payload_is_honoured(self, strict: MockFabric) -> None:
        declared = {"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}
        signed = sign(strict.base_url, "POST", "/v1/workspaces", body={"name": "unsigned-payload"}, extra_headers=declared)
        assert send(signed).status_code == 200


def list_names(handle: MockFabric) -> list[str]:
    listed = send(sign(handle.base_url, "GET", "/v1/workspaces", query=[("limit", 100)]))
    return [workspace["name"] for workspace in listed.json()["workspaces"]]


def test_strict_auth_covers_the_control_api(credentials_file: Path) -> None:
    app = create_app(Settings(auth="strict", credentials=str(credentials_file)), clock=ManualClock())
    client = app.test_client()
    assert client.post("/_mockfabric/reset", json={}).status_code == 401
    assert client.post("/_mockfabric/reset", json={}, headers={"X-Auth-Token": "unknown"}).status_code == 401
    token = {"X-Auth-Token": "mockfabric-test-token"}  # a verified credential: its own tenant only (issue 28)
    assert client.post("/_mockfabric/reset", json={"tenant": "project-fixture"}, headers=token).status_code == 200
    everyone = client.post("/_mockfabric/reset", json={}, headers=token)
    assert everyone.status_code == 403 and "control token" in everyone.json["error_msg"]
    with MockFabric(auth="strict", credentials=str(credentials_file)) as fabric:  # the handle holds a control token of its own
        assert fabric.settings.control_token and fabric.health()["status"] == "ready"
        fabric.reset()
