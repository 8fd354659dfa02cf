"""The official Huawei Cloud SDK pointed at a real-socket emulator, as the README shows it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkdataartsfabric.v1 import DataArtsFabricClient
from huaweicloudsdkdataartsfabricep.v1 import DataArtsFabricEpClient

from mockfabric import MockFabric

IDENTITIES = {
    "credentials": [
        {
            "ak": "AKALICE0001",
            "sk": "alice-secret",
            "project_id": "project-alice",
            "domain_name": "acme",
            "domain_id": "d-acme",
            "user_name": "alice",
            "user_id": "u-alice",
        },
        {"ak": "AKBOB00002", "sk": "bob-secret", "project_id": "project-bob", "domain_name": "globex", "user_name": "bob"},
        {
            "ak": "AKTEMP0003",
            "sk": "temp-secret",
            "security_token": "session-token-3",
            "project_id": "project-alice",
            "domain_name": "acme",
            "user_name": "alice-temp",
        },
        {"token": "mockfabric-test-token", "project_id": "project-fixture", "user_name": "fixture"},
    ]
}


@pytest.fixture(scope="session")
def credentials_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("identities") / "credentials.json"
    path.write_text(json.dumps(IDENTITIES))
    return path


@pytest.fixture(scope="module", params=["strict", "default"])
def fabric(request: pytest.FixtureRequest, credentials_file: Path) -> Iterator[MockFabric]:
    with MockFabric(auth=request.param, credentials=str(credentials_file), validate_responses=True, seed=21) as handle:
        handle.mode = request.param  # type: ignore[attr-defined]
        yield handle


def clients(
    base_url: str, ak: str = "AKALICE0001", sk: str = "alice-secret", project: str = "project-alice", security_token: str | None = None
) -> tuple[Any, Any]:
    config = HttpConfig.get_default_config()
    config.user_agent = "mockfabric-tests"
    config.timeout = (5, 30)
    credentials = BasicCredentials(ak, sk, project)
    if security_token:
        credentials = credentials.with_security_token(security_token)
    admin = DataArtsFabricClient.new_builder().with_http_config(config).with_credentials(credentials).with_endpoints([base_url]).build()
    ep = DataArtsFabricEpClient.new_builder().with_http_config(config).with_credentials(credentials).with_endpoints([base_url]).build()
    return admin, ep
