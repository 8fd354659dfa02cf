"""OpenAI-style clients, configured for one service instance of DataArts Fabric (or of the emulator).

The service answers chat completions at `…/v1/workspaces/{workspace}/services/instances/{instance}/invocations`,
where OpenAI-style clients append `/chat/completions` to their base URL; it authenticates with `X-Auth-Token` or an
SDK-HMAC-SHA256 signature, not a bearer key; and it streams unless the body says `"stream": false`, which the openai
client leaves out. The transports here map the one onto the other and authenticate every request, so any client
built on httpx2 (openai 3.x, langchain-openai, litellm through an openai client) works unchanged, streamed or not,
sync or async:

- `openai_client(...)` / `async_openai_client(...)`: an `openai.OpenAI` / `openai.AsyncOpenAI` for one instance;
- `http_client(...)` / `async_http_client(...)`: an `httpx2.Client` / `httpx2.AsyncClient` for clients that take
  one (langchain's `http_client=` / `http_async_client=`), with `instance_url(...)` as their base URL;
- `InvocationsTransport` / `AsyncInvocationsTransport` with `authorizer(...)`: the transports themselves.

Errors keep the service's body: `exc.body == {"error_code": …, "error_msg": …}`.
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
UNUSED_KEY = "unused: mockfabric authenticates each request itself"  # OpenAI-style clients insist on some api key
Authorize = Callable[[str, str, dict[str, str], bytes], tuple[str, dict[str, str]]]


def instance_url(base_url: str, workspace_id: str, instance_id: str) -> str:
    """The base URL an OpenAI-style client is given for one instance (it appends `/chat/completions`)."""
    return f"{base_url.rstrip('/')}/v1/workspaces/{workspace_id}/services/instances/{instance_id}"


def authorizer(
    *,
    token: str | None = None,
    ak: str | None = None,
    sk: str | None = None,
    project_id: str | None = None,
    security_token: str | None = None,
) -> Authorize:
    """How each request is authenticated: `token` (with `project_id` as X-Project-Id, if given), or signed with
    `ak`/`sk`/`project_id` (and `security_token` for temporary keys) by huaweicloudsdkcore's own signer."""
    if (token is None) == (ak is None):
        raise ValueError("give either token or ak, sk and project_id")
    if ak is not None and (sk is None or project_id is None):
        raise ValueError("ak needs sk and project_id")
    if token is not None:
        return _token_auth(token, project_id)
    return _signed_auth(SdkSigner(ak or "", sk or "", project_id or "", security_token))


def openai_client(base_url: str, workspace_id: str, instance_id: str, **settings: Any) -> openai.OpenAI:
    """An `openai.OpenAI` that calls the instance's invocations URL under `base_url` (the ep plane of the service, or
    an emulator's one base URL). `settings`: the credentials of `authorizer` (token=…, or ak=…, sk=…, project_id=…);
    the rest go to `openai.OpenAI` (timeout, max_retries, …)."""
    authorize, options = _split_credentials(settings)
    transport = InvocationsTransport(httpx2.HTTPTransport(), authorize)
    return openai.OpenAI(
        api_key=UNUSED_KEY,
        base_url=instance_url(base_url, workspace_id, instance_id),
        http_client=openai.DefaultHttpxClient(transport=transport),
        **options,
    )


def async_openai_client(base_url: str, workspace_id: str, instance_id: str, **settings: Any) -> openai.AsyncOpenAI:
    """`openai_client`, asynchronous: an `openai.AsyncOpenAI` (also what litellm's `acompletion(client=…)` takes)."""
    authorize, options = _split_credentials(settings)
    transport = AsyncInvocationsTransport(httpx2.AsyncHTTPTransport(), authorize)
    return openai.AsyncOpenAI(
        api_key=UNUSED_KEY,
        base_url=instance_url(base_url, workspace_id, instance_id),
        http_client=openai.DefaultAsyncHttpxClient(transport=transport),
        **options,
    )


def http_client(**settings: Any) -> httpx2.Client:
    """An `httpx2.Client` whose requests reach the service as invocations, authenticated by the credentials of
    `authorizer` in `settings` (the rest go to the client: timeout, …); give the client `instance_url(...)` as its
    base URL, e.g. `ChatOpenAI(base_url=instance_url(...), api_key="unused", http_client=http_client(token=…))`."""
    authorize, options = _split_credentials(settings)
    return openai.DefaultHttpxClient(transport=InvocationsTransport(httpx2.HTTPTransport(), authorize), **options)


def async_http_client(**settings: Any) -> httpx2.AsyncClient:
    """`http_client`, asynchronous (langchain's `http_async_client=`)."""
    authorize, options = _split_credentials(settings)
    return openai.DefaultAsyncHttpxClient(transport=AsyncInvocationsTransport(httpx2.AsyncHTTPTransport(), authorize), **options)


class InvocationsTransport(httpx2.BaseTransport):
    """Sends `…/chat/completions` to `…/invocations`, without the bearer key, authenticated by `authorize`."""

    def __init__(self, inner: httpx2.BaseTransport, authorize: Authorize) -> None:
        self._inner, self._authorize = inner, authorize

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return self._inner.handle_request(_as_invocation(request, request.read(), self._authorize))

    def close(self) -> None:
        self._inner.close()


class AsyncInvocationsTransport(httpx2.AsyncBaseTransport):
    """`InvocationsTransport` for asynchronous clients."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, authorize: Authorize) -> None:
        self._inner, self._authorize = inner, authorize

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        return await self._inner.handle_async_request(_as_invocation(request, body, self._authorize))

    async def aclose(self) -> None:
        await self._inner.aclose()


def _as_invocation(request: httpx2.Request, body: bytes, authorize: Authorize) -> httpx2.Request:
    """The request as the service wants it: at `…/invocations` with `stream` stated, the bearer key dropped, and
    authenticated (a signature covers the final URL, headers and body, so it is made last)."""
    url = request.url
    if url.path.endswith(CHAT_COMPLETIONS):
        url = url.copy_with(path=url.path[: -len(CHAT_COMPLETIONS)] + "/invocations")
        body = _stream_stated(body)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "content-length")}
    target, headers = authorize(request.method, str(url), headers, body)
    return httpx2.Request(request.method, target, headers=headers, content=body, extensions=request.extensions)


def _split_credentials(settings: dict[str, Any]) -> tuple[Authorize, dict[str, Any]]:
    names = ("token", "ak", "sk", "project_id", "security_token")
    credentials = {name: settings[name] for name in names if name in settings}
    return authorizer(**credentials), {k: v for k, v in settings.items() if k not in names}


def _stream_stated(body: bytes) -> bytes:
    """The service streams unless told otherwise, while the openai client leaves `stream` out when it wants one JSON
    answer: say `"stream": false` explicitly then, so both agree."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if not isinstance(payload, dict) or payload.get("stream") is not None:
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
