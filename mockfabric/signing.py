"""SDK-HMAC-SHA256 as huaweicloudsdkcore's Signer computes it, rebuilt from the request the server received.

Canonical request = METHOD, canonical URI (each path segment percent-encoded, safe "~", trailing "/"), canonical
query (pairs sorted by key then value, each percent-encoded), canonical headers (`name:trimmed value` per signed
header, newline-terminated), the signed header names, and the hex SHA-256 of the body (the empty hash for no body,
or the literal UNSIGNED-PAYLOAD when the client sent and signed X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD). String to sign =
`SDK-HMAC-SHA256\\n<X-Sdk-Date>\\n<hex sha256(canonical request)>`; signature = hex HMAC-SHA256(SK, string to sign).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
CONTENT_SHA256 = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
AUTHORIZATION = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<ak>[^,\s]+),\s*SignedHeaders=(?P<headers>[a-z0-9\-;]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True, slots=True)
class Authorization:
    ak: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str) -> Authorization | None:
    match = AUTHORIZATION.match(value.strip())
    if match is None:
        return None
    return Authorization(match.group("ak"), match.group("headers").split(";"), match.group("signature"))


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_request(
    method: str, path: str, query: Iterable[tuple[str, str]], headers: Mapping[str, str], signed_headers: list[str], body: bytes
) -> str:
    uri = "/".join(_encode(segment) for segment in path.split("/"))
    if not uri.endswith("/"):
        uri += "/"
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(query))
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers)
    payload = payload_hash(headers, signed_headers, body)
    return "\n".join([method.upper(), uri, canonical_query, canonical_headers, ";".join(signed_headers), payload])


def payload_hash(headers: Mapping[str, str], signed_headers: list[str], body: bytes) -> str:
    """What the canonical request carries for the body: the empty hash for no body; the literal UNSIGNED-PAYLOAD only
    when the client sent exactly that in X-Sdk-Content-Sha256 *and signed the header*; otherwise the body's own
    SHA-256. Any other value of the header is ignored, so a body swapped after signing never verifies."""
    if not body:
        return EMPTY_HASH
    if CONTENT_SHA256 in signed_headers and headers.get(CONTENT_SHA256, "").strip() == UNSIGNED_PAYLOAD:
        return UNSIGNED_PAYLOAD
    return hashlib.sha256(body).hexdigest()


def signature(secret: str, sdk_date: str, canonical: str) -> str:
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def signature_matches(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode(), expected.encode())
