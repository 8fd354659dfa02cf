"""Who is calling: credentials are checked for shape (default mode) or ignored (`--auth off`), and the tenant is
taken from `X-Project-Id`, else derived from the credential, so two credentials never share state by accident."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from ..domain.fabric import Caller
from ..errors import Unauthorized

SDK_AUTH = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<ak>[^,\s]+),\s*SignedHeaders=(?P<headers>[a-z0-9\-_;]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
SDK_DATE = re.compile(r"^\d{8}T\d{6}Z$")
PROJECT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOKEN = 65534


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def credential_of(headers: Mapping[str, str]) -> str:
    """A stable name for the presented credential (`token:<hash>` or `ak:<AK>`); raises Unauthorized when absent or garbled."""
    token = headers.get("X-Auth-Token")
    authorization = headers.get("Authorization")
    if token is not None:
        if not token.strip() or len(token) > MAX_TOKEN:
            raise Unauthorized("X-Auth-Token is empty or longer than 65534 characters")
        return "token:" + _digest(token)
    if authorization is not None:
        match = SDK_AUTH.match(authorization.strip())
        if match is None:
            raise Unauthorized("Authorization must read 'SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2>, Signature=<64 hex>'")
        date = headers.get("X-Sdk-Date")
        if date is None or not SDK_DATE.match(date):
            raise Unauthorized("a signed request needs an X-Sdk-Date header of the form YYYYMMDDTHHMMSSZ")
        return "ak:" + match.group("ak")
    raise Unauthorized("Incorrect token or token resolution failed: send X-Auth-Token or an SDK-HMAC-SHA256 Authorization header")


def identify(headers: Mapping[str, str], mode: str, base_url: str) -> Caller:
    """The caller of one request. Tenancy follows X-Project-Id when sent (the SDK sends the project id there)."""
    credential = "anonymous" if mode == "off" else credential_of(headers)
    if mode == "off" and ("X-Auth-Token" in headers or "Authorization" in headers):
        try:
            credential = credential_of(headers)
        except Unauthorized:
            credential = "anonymous"
    project = headers.get("X-Project-Id")
    if project is not None and not PROJECT_ID.match(project):
        raise Unauthorized("X-Project-Id must be 1-64 letters, digits, '-' or '_'")
    tenant = project or credential
    user = credential.split(":", 1)[1] if credential.startswith("ak:") else "mockfabric-user"
    return Caller(
        tenant=tenant,
        domain_name="mockfabric",
        domain_id=_digest("domain:" + tenant),
        user_name=user,
        user_id=_digest("user:" + credential),
        base_url=base_url,
    )
