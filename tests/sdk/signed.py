"""Requests signed by huaweicloudsdkcore's own Signer (the client side is never home-made)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer


@dataclass
class Signed:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def sign(
    base_url: str,
    method: str,
    path: str,
    *,
    query: list[tuple[str, Any]] | None = None,
    body: Any = None,
    ak: str = "AKALICE0001",
    sk: str = "alice-secret",
    project: str | None = "project-alice",
    extra_headers: dict[str, str] | None = None,
    sdk_date: str | None = None,
) -> Signed:
    parts = urlsplit(base_url)
    headers = {"Content-Type": "application/json", "User-Agent": "mockfabric-tests", **(extra_headers or {})}
    if project:
        headers["X-Project-Id"] = project
    if sdk_date:
        headers["X-Sdk-Date"] = sdk_date
    payload = b"" if body is None else json.dumps(body).encode()
    request = SdkRequest(
        method=method,
        schema=parts.scheme,
        host=parts.netloc,
        resource_path=path,
        query_params=list(query or []),
        header_params=headers,
        body=payload,
    )
    signed = Signer(BasicCredentials(ak, sk, project)).sign(request)
    return Signed(method, f"{base_url}{signed.uri}", {k: str(v) for k, v in signed.header_params.items()}, payload)
