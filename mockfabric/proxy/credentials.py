"""How the proxy authenticates upstream: a client's token passes through; AK/SK requests are signed again with the
proxy's own keys (the client signed for the proxy's host), by the SDK's signer; with `--token` every request goes
as that token.

What must hold: a credential is never logged, recorded or reported (recordings and reports redact headers by
name; this module never logs a value).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..sdk_signer import SdkSigner

log = logging.getLogger("mockfabric.proxy")
Headers = list[tuple[str, str]]
CLIENT_CREDENTIALS = frozenset({"authorization", "x-sdk-date", "x-auth-token", "x-security-token"})


@dataclass
class UpstreamCredentials:
    token: str | None = None
    signer: SdkSigner | None = None
    _warned: bool = field(default=False, repr=False)

    def apply(self, method: str, url: str, headers: Headers, body: bytes) -> tuple[str, Headers]:
        """The URL and headers to send upstream for a client's request."""
        names = {name.lower() for name, _ in headers}
        if self.token is not None:
            kept = [(k, v) for k, v in headers if k.lower() not in CLIENT_CREDENTIALS]
            return url, [*kept, ("X-Auth-Token", self.token)]
        if "x-auth-token" in names or self.signer is None:
            if self.signer is None and "authorization" in names and not self._warned:
                self._warned = True
                log.warning("an AK/SK-signed request passes unchanged: its signature names the proxy's host; give --ak/--sk to sign again")
            return url, headers
        unsigned = {k: v for k, v in headers if k.lower() not in CLIENT_CREDENTIALS}
        signed_url, signed = self.signer.sign(method, url, unsigned, body)
        return signed_url, list(signed.items())
