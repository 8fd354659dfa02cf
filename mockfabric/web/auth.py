"""Who is calling, checked the way `--auth` asks:

- `off`: anything goes (the credential, if any, still picks the tenant);
- `default`: a well-formed X-Auth-Token, or an SDK-HMAC-SHA256 Authorization with X-Sdk-Date (no signature check);
- `strict`: the token must be configured, or the signature must verify exactly as huaweicloudsdkcore computes it,
  against the configured AK/SK, within 15 minutes of the emulator's clock (and with the X-Security-Token of
  temporary credentials).

The tenant is the identity's project (from `--credentials`), else `X-Project-Id`, else the credential itself, so two
credentials never share state by accident. Failures are 401 with an APIG.* code and a message saying what was wrong.

The control API: the control token acts on the whole server; under `--auth strict` without a control token a
verified credential is let in as its tenant and acts on that tenant only (`tenant_scoped`, by the table of
`fixture/controls.py`): another tenant's, or the whole server's, needs the control token (403).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from calendar import timegm
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from time import strptime
from typing import TYPE_CHECKING, Any

from ..clock import Clock
from ..errors import MissingCredential, SignatureRejected, Unauthorized
from ..fixture.controls import tenant_part, tenant_scope
from ..identities import Identities, Identity
from ..service.core import Actor
from ..signing import canonical_request, parse_authorization, signature, signature_matches

if TYPE_CHECKING:
    from .parsing import Call

SDK_DATE = re.compile(r"^\d{8}T\d{6}Z$")
PROJECT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOKEN = 65534
MAX_SKEW_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class Presented:
    """The parts of a request authentication looks at (header names lower-cased). Query and body are read only
    when a signature is verified, so the default mode does not pay for them."""

    method: str
    path: str
    headers: Mapping[str, str]
    read_query: Callable[[], list[tuple[str, str]]]
    read_body: Callable[[], bytes]


@functools.lru_cache(maxsize=1024)  # the same few tokens arrive on every request
def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def credential_of(headers: Mapping[str, str]) -> str:
    """A stable name for the presented credential (`token:<hash>` or `ak:<AK>`); raises Unauthorized when absent or garbled."""
    lowered = {k.lower(): v for k, v in headers.items()}
    token, authorization = lowered.get("x-auth-token"), lowered.get("authorization")
    if token is not None:
        if not token.strip() or len(token) > MAX_TOKEN:
            raise Unauthorized("X-Auth-Token is empty or longer than 65534 characters")
        return "token:" + _digest(token)
    if authorization is not None:
        parsed = parse_authorization(authorization)
        if parsed is None:
            raise Unauthorized("Authorization must read 'SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2>, Signature=<64 hex>'")
        date = lowered.get("x-sdk-date")
        if date is None or not SDK_DATE.match(date):
            raise Unauthorized("a signed request needs an X-Sdk-Date header of the form YYYYMMDDTHHMMSSZ")
        return "ak:" + parsed.ak
    raise MissingCredential("no credential: send X-Auth-Token or an SDK-HMAC-SHA256 Authorization header")


class Authenticator:
    def __init__(self, mode: str, identities: Identities | None, clock: Clock) -> None:
        self.mode, self.identities, self.clock = mode, identities, clock

    def actor(self, request: Presented) -> Actor:
        headers = request.headers
        project = headers.get("x-project-id")
        if project is not None and not PROJECT_ID.match(project):
            raise Unauthorized("X-Project-Id must be 1-64 letters, digits, '-' or '_'")
        if self.mode == "strict":
            identity = self._verified(request)
            if project is not None and project != identity.project_id:
                raise SignatureRejected(f"X-Project-Id {project} is not the project of this credential")
            return _actor(identity, identity.project_id)
        credential = self._credential(headers)
        known = self._known(credential, headers)
        if known is not None:
            return _actor(known, project or known.project_id)
        tenant = project or credential
        return _actor(_derived_identity(tenant, credential), tenant)

    def _credential(self, headers: Mapping[str, str]) -> str:
        if self.mode != "off":
            return credential_of(headers)
        try:
            return credential_of(headers)
        except Unauthorized:
            return "anonymous"

    def _known(self, credential: str, headers: Mapping[str, str]) -> Identity | None:
        if self.identities is None:
            return None
        if credential.startswith("ak:"):
            return self.identities.by_ak(credential[3:])
        token = headers.get("x-auth-token")
        return self.identities.by_token(token) if token else None

    def _verified(self, request: Presented) -> Identity:
        assert self.identities is not None  # Settings refuses strict mode without credentials
        headers = request.headers
        token, authorization = headers.get("x-auth-token"), headers.get("authorization")
        if token is not None:
            identity = self.identities.by_token(token)
            if identity is None:
                raise Unauthorized("X-Auth-Token is not a token this emulator knows (see --credentials)")
            return identity
        if authorization is None:
            raise MissingCredential("no credential: send X-Auth-Token or an SDK-HMAC-SHA256 Authorization header")
        parsed = parse_authorization(authorization)
        if parsed is None:
            raise SignatureRejected("Authorization must read 'SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2>, Signature=<64 hex>'")
        identity = self.identities.by_ak(parsed.ak)
        if identity is None or identity.sk is None:
            raise SignatureRejected(f"unknown AK {parsed.ak}")
        date = headers.get("x-sdk-date", "")
        self._check_date(date)
        missing = [name for name in ("host", "x-sdk-date") if name not in parsed.signed_headers]
        if missing:
            raise SignatureRejected(f"SignedHeaders must include {', '.join(missing)}")
        absent = [name for name in parsed.signed_headers if name not in headers]
        if absent:
            raise SignatureRejected(f"signed header(s) {', '.join(absent)} missing from the request")
        if identity.security_token is not None:
            presented = headers.get("x-security-token", "")
            signed = "x-security-token" in parsed.signed_headers
            if not signed or not hmac.compare_digest(presented.encode(), identity.security_token.encode()):
                raise SignatureRejected("temporary credentials need their X-Security-Token, signed")
        canonical = canonical_request(
            request.method, request.path, request.read_query(), headers, parsed.signed_headers, request.read_body()
        )
        if not signature_matches(parsed.signature, signature(identity.sk, date, canonical)):
            raise SignatureRejected(
                "signature does not match: wrong SK, or the method, path, query, signed headers or body changed after signing"
            )
        return identity

    def _check_date(self, date: str) -> None:
        if not SDK_DATE.match(date):
            raise SignatureRejected("X-Sdk-Date is missing or not of the form YYYYMMDDTHHMMSSZ")
        try:
            signed_at = timegm(strptime(date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise SignatureRejected(f"X-Sdk-Date {date} is not a valid date") from None
        skew = abs(self.clock.now() - signed_at)
        if skew > MAX_SKEW_SECONDS:
            raise SignatureRejected(f"X-Sdk-Date {date} is {int(skew)} s away from the emulator's clock (limit {MAX_SKEW_SECONDS} s)")


@functools.lru_cache(maxsize=4096)  # a pure function of its arguments: remembered, not hashed again per request
def _derived_identity(tenant: str, credential: str) -> Identity:
    """The identity of an unconfigured credential in a tenant."""
    user = credential.split(":", 1)[1] if credential.startswith("ak:") else "mockfabric-user"
    return Identity(tenant, "mockfabric", _digest("domain:" + tenant), user, _digest("user:" + credential))


def _actor(identity: Identity, tenant: str) -> Actor:
    return Actor(
        tenant=tenant,
        domain_name=identity.domain_name,
        domain_id=identity.domain_id,
        user_name=identity.user_name,
        user_id=identity.user_id,
    )


def lowered_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased; values as the client encoded them (WSGI hands them over as latin-1)."""
    result = {}
    for name, value in items:
        if value.isascii():
            result[name.lower()] = value
            continue
        try:
            result[name.lower()] = value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            result[name.lower()] = value
    return result


def tenant_scoped(operation_id: str, binding: Callable[[Call], Any], whole_server: Actor) -> Callable[[Call], Any]:
    """A control operation's binding that, called by anyone but `whole_server` (the control token's actor, compared
    by identity: no tenant name can pass for it), acts on the caller's own tenant only (fixture.controls.tenant_scope,
    403 otherwise) and answers only the caller's part (tenant_part)."""

    def scoped(call: Call) -> Any:
        if call.actor is whole_server:
            return binding(call)
        tenant_scope(operation_id, call.actor.tenant, call.query, call.body)
        return tenant_part(operation_id, call.actor.tenant, binding(call))

    return scoped
