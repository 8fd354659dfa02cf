"""Client-side AK/SK signing with huaweicloudsdkcore's own Signer, for the HTTP clients mockfabric hands out
(verify's requests session, the openai helper). The signature is never computed by hand on the client side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SIGNATURE_HEADERS = ("authorization", "x-sdk-date", "x-auth-token", "content-length")


class SdkSigner:
    """Signs (method, URL, headers, body) as the SDK would; `ImportError` naming the extra if the SDK is absent."""

    def __init__(self, ak: str, sk: str, project_id: str, security_token: str | None = None) -> None:
        try:
            from huaweicloudsdkcore.auth.credentials import BasicCredentials
            from huaweicloudsdkcore.sdk_request import SdkRequest
            from huaweicloudsdkcore.signer.signer import Signer
        except ImportError as exc:  # depends on the installation
            raise ImportError("AK/SK signing needs huaweicloudsdkcore: pip install 'mockfabric[verify]' or 'mockfabric[openai]'") from exc
        credentials = BasicCredentials(ak, sk, project_id)
        if security_token:
            credentials = credentials.with_security_token(security_token)
        self._signer, self._request_class = Signer(credentials), SdkRequest
        self.project_id, self.security_token = project_id, security_token

    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> tuple[str, dict[str, str]]:
        """The URL to send (its query canonicalised as signed) and every header to send, signature included. Any
        X-Auth-Token is dropped: a signed request authenticates by signature only."""
        parts = urlsplit(url)
        kept = {k.lower(): v for k, v in headers.items() if k.lower() not in SIGNATURE_HEADERS}  # one spelling per name
        kept.setdefault("content-type", "application/json")
        if self.project_id:  # none: the credential's own project, as the SDK sends no header without one
            kept["x-project-id"] = self.project_id
        if self.security_token:
            kept["x-security-token"] = self.security_token
        request: Any = self._request_class(
            method=method,
            schema=parts.scheme,
            host=parts.netloc,
            resource_path=parts.path,
            query_params=parse_qsl(parts.query, keep_blank_values=True),
            header_params=kept,
            body=body,
        )
        signed = self._signer.sign(request)
        return f"{parts.scheme}://{parts.netloc}{signed.uri}", {k: str(v) for k, v in signed.header_params.items()}
