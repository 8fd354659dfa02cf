"""One error tree. Each error carries its HTTP status and Huawei error_code; the web layer renders it as
`{"error_code", "error_msg"}`.

Documented codes: dataartsfabric.00010003 (workspace not found), dataartsfabric.00010009 (resource not found),
common.01000001 (malformed request), common.00000408, common.00000500; and the API Gateway's own (GatewayError):
APIG.0301 (no credential), APIG.1002 (a token it cannot resolve), APIG.0101 (unknown route), APIG.0201 (body too
large), APIG.0308 (throttled).
The business-rule codes below are not documented by the service; they are our choice (listed in the contract's
`x-error-codes`) so clients can tell the conditions apart.
"""

from __future__ import annotations

import json
import os
from typing import ClassVar

MAX_ERROR_MSG = 512  # admin pages document error_msg as 2..512 characters


class ApiError(Exception):
    status: ClassVar[int] = 400
    error_code: ClassVar[str] = "common.01000001"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = _bounded(message)
        self.headers = headers or {}
        self.field = field  # the dotted name, inside the request, of the value at fault (the service knows no locations)

    def locate(self, location: str) -> None:
        """Prefix the message with where the field was sent (`body.reserved_resource.mu.min: ...`); once."""
        if self.field is not None:
            where = f"{location}.{self.field}" if self.field else location  # "" = the whole of it
            self.message = _bounded(f"{where}: {self.message}")
            self.field = None

    def body(self) -> dict[str, str]:
        return {"error_code": self.error_code, "error_msg": self.message}

    def payload(self) -> bytes:
        """The answer's body, as every layer sends it (the app, the ASGI front, the protocol's own refusals)."""
        return json.dumps(self.body(), ensure_ascii=False).encode("utf-8")


def _bounded(message: str) -> str:
    return message if len(message) <= MAX_ERROR_MSG else message[: MAX_ERROR_MSG - 3] + "..."


def new_request_id() -> str:
    """The X-Request-Id of one answer: 32 random hex digits, the one source for every layer that answers."""
    return os.urandom(16).hex()


class MalformedRequest(ApiError):
    """Body is not JSON, has the wrong content type, or a value has the wrong type."""


class ValidationFailed(ApiError):
    error_code = "dataartsfabric.00010001"


class RuleViolated(ApiError):
    """A value the schema allows but a rule forbids (min <= max, a known spec code, ...): a business answer."""

    error_code = "dataartsfabric.00010010"


class WorkspaceNotFound(ApiError):
    error_code = "dataartsfabric.00010003"


class ResourceNotFound(ApiError):
    error_code = "dataartsfabric.00010009"


class DuplicateName(ApiError):
    error_code = "dataartsfabric.00010011"


class ResourceInUse(ApiError):
    error_code = "dataartsfabric.00010012"


class StateConflict(ApiError):
    """The resource is in a status that does not allow the operation (e.g. transient CREATING/UPDATING/DELETING)."""

    error_code = "dataartsfabric.00010013"


class CapacityExceeded(ApiError):
    error_code = "dataartsfabric.00010014"


class UnsupportedChange(ApiError):
    error_code = "dataartsfabric.00010015"


class NotRunning(ApiError):
    """An invocation reached an instance (or endpoint) that is not RUNNING."""

    error_code = "dataartsfabric.00010016"


class AgreementVersionUnknown(ApiError):
    """DOC: agreement version does not exist."""

    error_code = "dataartsfabric.00010005"


class AgreementVersionEmpty(ApiError):
    """DOC: agreement version is empty."""

    error_code = "dataartsfabric.00010006"


class NotOnboarded(ApiError):
    """--require-agreement: the tenant has not signed the current agreement or created the common agency (inferred)."""

    error_code = "dataartsfabric.00010018"


class QuotaExhausted(ApiError):
    """The endpoint's tokens quota is used up (code inferred: the service documents the quota, not its error)."""

    error_code = "dataartsfabric.00010017"


class NotScripted(ApiError):
    """Strict fixtures: an invocation that no scripted answer or fixture decides (the emulator's own code)."""

    status = 501
    error_code = "mockfabric.00000501"


class GatewayError(ApiError):
    """Answered by Huawei's API Gateway in front of the service, not by the service: an APIG.* code, the gateway's own
    message where it documents one (`documented_msg`; the constructor's text stays in logs and `str()`), and the
    request id in the body as well as in X-Request-Id (APIG documentation, bench-free: reference/fidelity-notes)."""

    documented_msg: ClassVar[str | None] = None
    request_id: str | None = None  # set by whoever renders the answer, the same id as its X-Request-Id header

    def body(self) -> dict[str, str]:
        body = {"error_code": self.error_code, "error_msg": self.documented_msg or self.message}
        if self.request_id is not None:
            body["request_id"] = self.request_id
        return body


class Unauthorized(GatewayError):
    """A credential the gateway cannot resolve (Fabric's own 401 example): APIG.1002."""

    status = 401
    error_code = "APIG.1002"


class MissingCredential(Unauthorized):
    """No credential at all: the gateway's APIG.0301 with its documented message."""

    error_code = "APIG.0301"
    documented_msg = "Incorrect IAM authentication information: x-auth-token not found"


class SignatureRejected(Unauthorized):
    """An AK/SK-signed request that does not verify (strict mode): unknown AK, bad signature, date, signed headers."""

    error_code = "APIG.0301"


class ForbiddenRequest(ApiError):
    """Refused before routing: a foreign Host (DNS rebinding), a cross-site control call. The emulator's own code."""

    status = 403
    error_code = "common.01000403"


class RouteNotFound(GatewayError):
    status = 404
    error_code = "APIG.0101"
    documented_msg = "The API does not exist or has not been published in the environment"


class MethodNotAllowed(ApiError):
    status = 405


class BodyTooLarge(GatewayError):
    status = 413
    error_code = "APIG.0201"
    documented_msg = "Request entity too large"


class RequestTimeout(ApiError):
    """The client stopped sending a request it had begun (its head or body) for longer than the read timeout."""

    status = 408
    error_code = "common.00000408"


class HeadTooLarge(ApiError):
    """A request head (request line and headers) over the server's bound: refused before it is parsed, the
    connection closed. The emulator's own code: Huawei documents no gateway code for it."""

    status = 431
    error_code = "common.00000431"


class Throttled(GatewayError):
    status = 429
    error_code = "APIG.0308"


class UpstreamUnreachable(ApiError):
    """`mockfabric proxy` could not reach the service it stands in front of. The proxy's own code."""

    status = 502
    error_code = "mockfabric.00000502"


class ServiceUnavailable(ApiError):
    status = 503
    error_code = "common.00000503"


class InternalError(ApiError):
    status = 500
    error_code = "common.00000500"


class InjectedError(GatewayError):
    """An error a fault rule or an answer fixture asked for: any status and code, perhaps after `latency_ms` of real
    time. One with a gateway code (APIG.*) carries the request id in its body as the gateway's own errors do."""

    def __init__(self, status: int, error_code: str, message: str, *, headers: dict[str, str] | None = None, latency_ms: int = 0) -> None:
        super().__init__(message, headers=headers)
        self.status = status  # type: ignore[misc]
        self.error_code = error_code  # type: ignore[misc]
        self.latency_ms = latency_ms

    def body(self) -> dict[str, str]:
        if self.error_code.startswith("APIG."):
            return super().body()
        return {"error_code": self.error_code, "error_msg": self.message}


ERROR_CODES: dict[str, type[ApiError]] = {
    cls.error_code: cls
    for cls in (
        ValidationFailed,
        WorkspaceNotFound,
        ResourceNotFound,
        DuplicateName,
        ResourceInUse,
        StateConflict,
        CapacityExceeded,
        UnsupportedChange,
        NotRunning,
    )
}

SCHEMA_ERROR_CODES: dict[str, type[ApiError]] = {  # what a contract's `x-empty-error-code` may name
    cls.error_code: cls for cls in (ValidationFailed, AgreementVersionEmpty)
}
