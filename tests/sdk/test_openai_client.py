"""The official openai client through `mockfabric.clients.openai_client`: streamed and not, by token and by AK/SK
signature (verified by strict mode), with the emulator's errors reaching the caller."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from mockfabric import MockFabric
from mockfabric.clients import openai_client

from ..serving.flow import Deployed, deploy

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    with MockFabric() as fabric:
        built = deploy(fabric)
        yield built
        built.session.close()


def test_streamed_and_whole_completions_by_token(deployed: Deployed) -> None:
    fabric = deployed.fabric
    with openai_client(fabric.base_url, deployed.workspace, deployed.instance, token="any-token", project_id=fabric.tenant) as client:
        fabric.script_completion(deployed.instance, "Hello from the emulator")
        whole = client.chat.completions.create(model="default", messages=HI)
        assert whole.choices[0].message.content == "Hello from the emulator" and whole.usage is not None
        fabric.script_completion(deployed.instance, "streamed words arrive in pieces")
        chunks = list(client.chat.completions.create(model="default", messages=HI, stream=True))
    assert len(chunks) > 2
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed words arrive in pieces"
    journal = fabric.requests(operation="InvokeModelService")
    assert journal[-1]["path"].endswith(f"/services/instances/{deployed.instance}/invocations")
    assert "Bearer" not in str(journal[-1]["headers"]) and journal[-1]["headers"]["X-Auth-Token"] == "***"
    assert journal[-2]["body"]["stream"] is False  # said explicitly for the whole answer: the service streams by default


def test_errors_reach_the_caller_with_the_emulators_body(deployed: Deployed) -> None:
    fabric = deployed.fabric
    missing = "00000000-0000-4000-8000-000000000000"
    with (
        openai_client(fabric.base_url, deployed.workspace, missing, token="t", project_id=fabric.tenant, max_retries=0) as client,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        client.chat.completions.create(model="default", messages=HI, stream=True)
    assert caught.value.status_code == 400
    assert isinstance(caught.value.body, dict) and caught.value.body["error_code"] == "dataartsfabric.00010009"
    assert "does not exist" in caught.value.body["error_msg"]


def test_signed_requests_verify_under_strict_auth(credentials_file: Path) -> None:
    with MockFabric(auth="strict", credentials=str(credentials_file)) as fabric:
        fixture = fabric.for_tenant("project-fixture")  # the handle's token belongs to project-fixture
        deployed = deploy(fixture)
        deployed.session.close()
        state = fixture.export_state()
        state["tenants"] = {"project-alice": state["tenants"]["project-fixture"]}
        alice = fabric.for_tenant("project-alice")  # the same resources, in alice's project
        alice.import_state(state)
        alice.script_completion(deployed.instance, "signed and verified")
        where = (fabric.base_url, deployed.workspace, deployed.instance)
        with openai_client(*where, ak="AKALICE0001", sk="alice-secret", project_id="project-alice") as client:
            answer = client.chat.completions.create(model="default", messages=HI)
        assert answer.choices[0].message.content == "signed and verified"
        with (
            openai_client(*where, ak="AKALICE0001", sk="wrong", project_id="project-alice", max_retries=0) as wrong,
            pytest.raises(openai.AuthenticationError) as caught,
        ):
            wrong.chat.completions.create(model="default", messages=HI)
        assert isinstance(caught.value.body, dict) and caught.value.body["error_code"] == "APIG.0301"


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="either token or ak"):
        openai_client("http://127.0.0.1:1", "w", "i")
    with pytest.raises(ValueError, match="ak needs sk and project_id"):
        openai_client("http://127.0.0.1:1", "w", "i", ak="AK")
