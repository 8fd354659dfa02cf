"""Clients nobody here wrote, through the README's recipes against a served emulator: litellm (sync, streamed,
async) with the openai clients of mockfabric.clients, and langchain-openai (invoke, stream, ainvoke) with its HTTP
clients. Each answer is echoed back, so a request that reached anything but the instance's invocation would show."""

from __future__ import annotations

import asyncio
import gc
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockfabric import MockFabric

from ..serving.flow import Deployed, deploy

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: litellm's own copy of its price list
# litellm's streaming code trips pydantic's own warnings (its types, its use of pydantic): theirs, not ours
pytestmark = [
    pytest.mark.filterwarnings("ignore:Items? .* (is|are) using the `ReadOnly` qualifier"),  # one item or several
    pytest.mark.filterwarnings("ignore:Accessing the 'model_.*' attribute on the instance is deprecated"),
    # litellm's sync streaming makes an event loop of its own (an AF_UNIX self-pipe) that it never closes; the
    # `recipes` fixture collects it before this module ends, so the warning cannot land on another module's test
    pytest.mark.filterwarnings("ignore:Exception ignored in. <function BaseEventLoop.__del__:pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:Exception ignored in. <socket.socket fd=[0-9]+, family=1,:pytest.PytestUnraisableExceptionWarning"),
]
README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def recipes() -> Iterator[dict[str, Any]]:
    block = re.search(r"<!-- outside-clients.*?```python\n(.*?)```", README, re.S)
    assert block, "the README's outside-clients block"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    yield namespace
    gc.collect()


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    with MockFabric(completion_mode="echo") as fabric:
        built = deploy(fabric)
        yield built
        built.session.close()


def _where(deployed: Deployed) -> tuple[tuple[str, str, str], dict[str, str]]:
    fabric = deployed.fabric
    return (fabric.base_url, deployed.workspace, deployed.instance), {"token": "any-token", "project_id": fabric.tenant}


def _invocations(deployed: Deployed) -> list[dict[str, Any]]:
    return deployed.fabric.requests(operation="InvokeModelService")


def test_litellm_sync_and_async(recipes: dict[str, Any], deployed: Deployed) -> None:
    where, credentials = _where(deployed)
    assert recipes["ask_litellm"](*where, "litellm, whole", **credentials) == "litellm, whole"
    assert asyncio.run(recipes["ask_litellm_async"](*where, "litellm, async", **credentials)) == "litellm, async"
    bodies = [entry["body"] for entry in _invocations(deployed)[-2:]]
    assert [body["stream"] for body in bodies] == [False, False]  # said explicitly: the service streams by default


def test_litellm_streamed(deployed: Deployed, recipes: dict[str, Any]) -> None:
    import litellm

    from mockfabric.clients import openai_client

    where, credentials = _where(deployed)
    with openai_client(*where, **credentials) as client:
        chunks = litellm.completion(model="openai/x", messages=[{"role": "user", "content": "in pieces"}], client=client, stream=True)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == "in pieces"


def test_langchain_invoke_stream_and_ainvoke(recipes: dict[str, Any], deployed: Deployed) -> None:
    where, credentials = _where(deployed)
    assert recipes["ask_langchain"](*where, "langchain", **credentials) == ("langchain", "langchain")
    assert asyncio.run(recipes["ask_langchain_async"](*where, "langchain, async", **credentials)) == "langchain, async"
    streams = [entry["body"].get("stream") for entry in _invocations(deployed)[-3:]]
    assert streams == [False, True, False]
    paths = {entry["path"] for entry in _invocations(deployed)[-3:]}
    assert paths == {f"/v1/workspaces/{deployed.workspace}/services/instances/{deployed.instance}/invocations"}
