"""Where the contract harness sends its requests: the in-process app, an emulator by URL, or the real service.

The real service has two hosts (admin and ep); an emulator serves both on one. AK/SK requests are signed by
huaweicloudsdkcore's own Signer (installed with the `verify` extra), never by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from ..sdk_signer import SdkSigner

NAME_PREFIX = "mfv-"  # every resource the harness creates on a real service starts with this, so cleanup finds it


class SdkSignerAuth(requests.auth.AuthBase):
    """requests auth that signs each prepared request with huaweicloudsdkcore's Signer (SDK-HMAC-SHA256)."""

    def __init__(self, ak: str, sk: str, project_id: str, security_token: str | None = None) -> None:
        self._signer = SdkSigner(ak, sk, project_id, security_token)

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        # The contract declares X-Auth-Token as a security scheme, so generated requests may carry one: an AK/SK run
        # authenticates by signature only (a token would take precedence on the service), and the signer drops it.
        raw: Any = prepared.body
        body = raw if isinstance(raw, bytes) else (raw or "").encode("utf-8")
        present = {k: v if isinstance(v, str) else v.decode("latin-1") for k, v in prepared.headers.items()}
        url, headers = self._signer.sign(prepared.method or "GET", prepared.url or "", present, body)
        for name in [k for k in prepared.headers if k.lower() == "x-auth-token"]:
            del prepared.headers[name]
        prepared.headers.update(headers)
        prepared.url = url
        return prepared


@dataclass
class Target:
    """A place to verify. `kind` is `in-process`, `emulator` or `real`."""

    kind: str
    admin_url: str | None = None
    ep_url: str | None = None
    app: Any = None
    token: str | None = None
    ak: str | None = None
    sk: str | None = None
    project_id: str | None = None
    security_token: str | None = None
    tenant: str | None = None  # X-Project-Id (or the signed project) to send; None sends none: the credential's own
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def is_real(self) -> bool:
        return self.kind == "real"

    @property
    def isolated(self) -> bool:
        """Whether the tenant is the harness's own pick rather than the credential's project (none sent, or
        --project-id), so that each stateful scenario may get an empty tenant of its own."""
        return self.tenant is not None and self.tenant != self.project_id

    def base_url(self, plane: str) -> str | None:
        if self.app is not None:
            return None
        return (self.ep_url or self.admin_url) if plane == "ep" else self.admin_url

    def headers(self) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if self.token:
            headers["X-Auth-Token"] = self.token
        if self.tenant and not (self.ak and self.sk):
            headers["X-Project-Id"] = self.tenant
        return headers

    def session(self) -> requests.Session:
        session = requests.Session()
        if self.ak and self.sk:
            session.auth = SdkSignerAuth(self.ak, self.sk, self.project_id or self.tenant or "", self.security_token)
        return session

    def describe(self) -> str:
        if self.app is not None:
            return "in-process app"
        planes = self.admin_url if not self.ep_url or self.ep_url == self.admin_url else f"{self.admin_url} + ep {self.ep_url}"
        return f"{self.kind} at {planes}"


def in_process(app: Any, tenant: str = "mfv-tenant") -> Target:
    return Target(kind="in-process", app=app, token="mockfabric-verify", tenant=tenant)
