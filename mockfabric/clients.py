"""The official openai client, configured for one service instance of DataArts Fabric (or of the emulator).

The service answers chat completions at `…/v1/workspaces/{workspace}/services/instances/{instance}/invocations`,
where the openai client appends `/chat/completions` to its base URL; and it authenticates with `X-Auth-Token` or an
SDK-HMAC-SHA256 signature, not a bearer key; and it streams unless the body says `"stream": false`, which the openai
client leaves out. `openai_client` returns an `openai.OpenAI` whose HTTP transport maps the one onto the other and
authenticates every request, so `client.chat.completions.create(...)` works unchanged, streamed or not. Errors keep
the service's body: `exc.body == {"error_code": …, "error_msg": …}`.

Needs `pip install 'mockfabric[openai]'` (openai 3.x, whose HTTP layer is httpx2; huaweicloudsdkcore for AK/SK).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import openai

from .sdk_signer import SdkSigner

CHAT_COMPLETIONS = "/chat/completions"
Authorize = Callable[[str, str, dict[str, str], bytes], tuple[str, dict[str, str]]]


def openai_client(
    base_url: str,
    workspace_id: str,
    instance_id: str,
    *,
    token: str | None = None,
    ak: str | None = None,
    sk: str | None = None,
    project_id: str | None = None,
    security_token: str | None = None,
    **options: Any,
) -> openai.OpenAI:
    """An `openai.OpenAI` that calls the instance's invocations URL under `base_url` (the ep plane of the service,
    or an emulator's one base URL), with `token` or `ak`/`sk`/`project_id`. `options` go to `openai.OpenAI`
    (timeout, max_retries, …)."""
    if (token is None) == (ak is None):
        raise ValueError("give either token or ak, sk and project_id")
    if ak is not None and (sk is None or project_id is None):
        raise ValueError("ak needs sk and project_id")
    authorize = (
        _token_auth(token, project_id)
        if token is not None
        else _signed_auth(SdkSigner(ak or "", sk or "", project_id or "", security_token))
    )
    instance_url = f"{base_url.rstrip('/')}/v1/workspaces/{workspace_id}/services/instances/{instance_id}"
    transport = InvocationsTransport(httpx2.HTTPTransport(), authorize)
    return openai.OpenAI(
        api_key="unused: mockfabric authenticates each request itself",
        base_url=instance_url,
        http_client=openai.DefaultHttpxClient(transport=transport),
        **options,
    )


class InvocationsTransport(httpx2.BaseTransport):
    """Sends `…/chat/completions` to `…/invocations`, without the bearer key, authenticated by `authorize`."""

    def __init__(self, inner: httpx2.BaseTransport, authorize: Authorize) -> None:
        self._inner, self._authorize = inner, authorize

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        url, body = request.url, request.read()
        if url.path.endswith(CHAT_COMPLETIONS):
            url = url.copy_with(path=url.path[: -len(CHAT_COMPLETIONS)] + "/invocations")
            body = _stream_stated(body)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "content-length")}
        target, headers = self._authorize(request.method, str(url), headers, body)
        sent = httpx2.Request(request.method, target, headers=headers, content=body, extensions=request.extensions)
        return self._inner.handle_request(sent)

    def close(self) -> None:
        self._inner.close()


def _stream_stated(body: bytes) -> bytes:
    """The service streams unless told otherwise, while the openai client leaves `stream` out when it wants one JSON
    answer: say `"stream": false` explicitly then, so both agree."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if not isinstance(payload, dict) or "stream" in payload:
        return body
    return json.dumps({**payload, "stream": False}).encode()


def _token_auth(token: str, project_id: str | None) -> Authorize:
    def authorize(method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[str, dict[str, str]]:
        headers = {**headers, "X-Auth-Token": token}
        if project_id is not None:
            headers["X-Project-Id"] = project_id
        return url, headers

    return authorize


def _signed_auth(signer: SdkSigner) -> Authorize:
    def authorize(method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[str, dict[str, str]]:
        return signer.sign(method, url, headers, body)

    return authorize
