"""Building resources over HTTP for the real-socket tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

from mockfabric import MockFabric

from ..helpers import SEED_ENDPOINT, SEED_MODEL, seed_deploy


@dataclass
class Deployed:
    fabric: MockFabric
    session: requests.Session
    workspace: str
    endpoint: str
    instance: str

    @property
    def invoke_url(self) -> str:
        return f"{self.fabric.base_url}/v1/workspaces/{self.workspace}/services/instances/{self.instance}/invocations"

    def invoke(self, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.session.post(self.invoke_url, json=body, timeout=60, **kwargs)


def deploy(fabric: MockFabric, *, running: bool = True) -> Deployed:
    session = requests.Session()
    session.headers.update(fabric.headers)
    url = fabric.base_url
    ws = session.post(f"{url}/v1/workspaces", json={"name": "invoke-ws"}).json()["id"]
    ep = session.post(f"{url}/v1/workspaces/{ws}/endpoints", json=SEED_ENDPOINT).json()["id"]
    fabric.advance(5)
    model = session.post(f"{url}/v1/workspaces/{ws}/models", json=SEED_MODEL).json()["id"]
    instance = session.post(f"{url}/v1/workspaces/{ws}/services/instances", json=seed_deploy(model, ep)).json()["id"]
    if running:
        fabric.advance(5)
        assert session.get(f"{url}/v1/workspaces/{ws}/services/instances/{instance}").json()["status"] == "RUNNING"
    return Deployed(fabric, session, ws, ep, instance)


@contextmanager
def fresh_deployment(**settings: Any) -> Iterator[Deployed]:
    """A new emulator (MockFabric with `settings`) with one RUNNING instance; stopped, and its session closed, after."""
    with MockFabric(**settings) as fabric:
        deployed = deploy(fabric)
        try:
            yield deployed
        finally:
            deployed.session.close()
