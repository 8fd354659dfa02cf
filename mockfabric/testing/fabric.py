"""`MockFabric`: start an emulator for a test (or connect to a running one) and drive it through the control API.

Every handle acts as its own tenant (an `X-Project-Id` of its own), so tests sharing one server never see each
other's resources and never need a global reset.

Shards (`MockFabric.connect(balancer_url, shards=[...])`, deploy/haproxy.cfg): traffic and the tenant's own control
calls go through the balancer, which hashes on the tenant, so they reach the tenant's shard; the control calls that
name no tenant (clock, seed, every tenant's reset, fixtures, lifecycle, fault rules, journal clearing) go to every
shard directly, and `requests()` reads every shard's journal and merges it by time (then shard order, then seq).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ..clock import ManualClock
from ..config import CONTROL_TOKEN_HEADER, Settings
from ..web.app import create_app
from .server import ThreadedServer

TEST_TOKEN = "mockfabric-test-token"


class ControlError(RuntimeError):
    """The control API refused a request; carries the HTTP status and the Huawei-style error body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"control API answered {status}: {body}")
        self.status = status
        self.body = body


class MockFabric:
    """A handle on one emulator and one tenant of it.

    `MockFabric(**settings)` starts a real-socket server on 127.0.0.1 (port 0) when entered and stops it on exit;
    a setting may be given as its flag's text (`lifecycle="instant"`, `rate_limit="InvokeModelService=60/min"`).
    `clock="manual"` (the default) makes time move only through `advance()`; `clock="system"` runs on wall time.
    """

    def __init__(self, *, clock: str = "manual", tenant: str | None = None, **settings: Any) -> None:
        if clock not in ("manual", "system"):
            raise ValueError("clock must be 'manual' or 'system'")
        if settings.get("auth") == "strict" and not settings.get("control_token"):
            settings["control_token"] = secrets.token_urlsafe(24)  # strict mode closes the control API: this handle holds the key
        self.settings = Settings.of(**settings)
        self.tenant = tenant or new_tenant()
        self._clock_kind = clock
        self._server: ThreadedServer | None = None
        self._base_url: str | None = None
        self._control_token = self.settings.control_token
        self._shards: tuple[str, ...] = ()  # the shards' own URLs when _base_url is a balancer in front of them

    @classmethod
    def connect(cls, url: str, *, control_token: str | None = None, tenant: str | None = None, shards: Sequence[str] = ()) -> MockFabric:
        """A handle on an emulator running elsewhere (e.g. `docker compose`), with a tenant of its own.

        `shards`: the shards' own URLs when `url` is a balancer hashing on the tenant (deploy/haproxy.cfg). Every
        shard must answer its health check (and share `control_token`); the calls that name no tenant then reach
        every one of them, and an answer is the first shard's (a fault rule's `times` counts on each shard)."""
        if isinstance(shards, str):
            raise TypeError("shards is a sequence of URLs, not one URL")
        handle = cls(tenant=tenant)
        handle._base_url = url.rstrip("/")
        handle._control_token = control_token
        handle._shards = tuple(shard.rstrip("/") for shard in shards)
        handle.health()
        return handle

    def for_tenant(self, tenant: str | None = None) -> MockFabric:
        """Another handle on the same emulator (the same shards), acting as another (by default new) tenant."""
        handle = MockFabric(tenant=tenant)
        handle._base_url, handle._control_token, handle._shards = self.base_url, self._control_token, self._shards
        return handle

    @property
    def shards(self) -> tuple[str, ...]:
        """The shards' own URLs (empty for one emulator): where the calls naming no tenant go."""
        return self._shards

    # --- lifecycle of the handle -------------------------------------------------------------------------------
    def start(self) -> MockFabric:
        # The manual clock starts at the current time, so timestamps look real and signed requests (whose
        # X-Sdk-Date is wall time) stay within the 15-minute skew strict mode allows.
        clock = ManualClock(start=float(int(time.time()))) if self._clock_kind == "manual" else None
        self._server = ThreadedServer(create_app(self.settings, clock=clock), self.settings).start()
        self._base_url = self._server.base_url
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> MockFabric:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # --- what a client under test needs ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("MockFabric is not started: use `with MockFabric() as fabric:` or MockFabric.connect(url)")
        return self._base_url

    @property
    def headers(self) -> dict[str, str]:
        """Auth headers of this handle's tenant, ready for any HTTP client."""
        return {"X-Auth-Token": TEST_TOKEN, "X-Project-Id": self.tenant}

    # --- control ---------------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._control_json("GET", "health")

    def now(self) -> float:
        return float(self._control("GET", "clock")["now"])

    def advance(self, seconds: float) -> float:
        """Move the emulator's clock forward; due transitions complete on the next read."""
        return float(self._control("POST", "clock", {"advance": seconds})["now"])

    def freeze(self, frozen: bool = True) -> None:
        self._control("POST", "clock", {"frozen": frozen})

    def reset(self, *, all_tenants: bool = False) -> None:
        """Forget this tenant's state (or everyone's)."""
        self._control("POST", "reset", {} if all_tenants else {"tenant": self.tenant})

    def set_lifecycle(self, kind: str, policy: str, *, seconds: float | None = None, polls: int | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"policy": policy}
        if seconds is not None:
            spec["seconds"] = seconds
        if polls is not None:
            spec["polls"] = polls
        return self._control_json("PUT", "lifecycle", {kind: spec})

    def force_status(
        self, kind: str, resource_id: str, status: str, *, error_code: str | None = None, error_msg: str | None = None
    ) -> dict[str, Any]:
        body = {"tenant": self.tenant, "kind": kind, "id": resource_id, "status": status}
        body.update({k: v for k, v in (("error_code", error_code), ("error_msg", error_msg)) if v is not None})
        return self._tenant_json("POST", "status", body)

    def script_run(
        self, job_id: str, status: str = "SUCCEEDED", *, seconds: float = 0.0, error_code: str | None = None, error_msg: str | None = None
    ) -> int:
        """How the job's next run ends: `status` (SUCCEEDED or FAILED) after `seconds` RUNNING; returns how many are queued."""
        body: dict[str, Any] = {"tenant": self.tenant, "job_id": job_id, "status": status, "seconds": seconds}
        body.update({k: v for k, v in (("error_code", error_code), ("error_msg", error_msg)) if v is not None})
        queued: int = self._tenant_json("POST", "job-runs", body)["queued"]
        return queued

    def add_fixture(self, match: dict[str, Any], answer: dict[str, Any], *, times: int | None = None) -> int:
        """Add one answer fixture after those loaded (see `contracts/control.openapi.yaml` Fixture); returns how many
        are loaded. Fixtures are the emulator's, not the tenant's: match `instance` to keep them to this test's."""
        fixture: dict[str, Any] = {"match": match, "answer": answer}
        if times is not None:
            fixture["times"] = times
        loaded: int = self._control_json("POST", "fixtures", {"fixtures": [fixture]})["fixtures"]
        return loaded

    def load_fixtures(self, path: str) -> int:
        """Add the fixtures of a YAML or JSON fixture file (read here, sent through the control API)."""
        from ..fixture.answers import read_fixture_file

        loaded: int = self._control_json("POST", "fixtures", {"fixtures": list(read_fixture_file(Path(path)))})["loaded"]
        return loaded

    def clear_fixtures(self) -> int:
        removed: int = self._control_json("DELETE", "fixtures")["removed"]
        return removed

    def set_quota(self, endpoint_id: str, *, total: int | None = None, used: int | None = None) -> dict[str, Any]:
        """Set an endpoint's tokens quota; once `used` reaches `total` its instances answer 400 (quota used up)."""
        body: dict[str, Any] = {"tenant": self.tenant, "endpoint_id": endpoint_id}
        body.update({k: v for k, v in (("total", total), ("used", used)) if v is not None})
        return self._tenant_json("PUT", "quota", body)

    def fault(self, **spec: Any) -> dict[str, Any]:
        """Add a fault rule (see the control contract's FaultSpec); it only hits this handle's tenant unless
        `tenant=None` is passed explicitly."""
        spec.setdefault("tenant", self.tenant)
        return self._control_json("POST", "faults", {k: v for k, v in spec.items() if v is not None})

    def fail(
        self,
        operation: str | None = None,
        *,
        status: int = 500,
        error_code: str | None = None,
        error_msg: str | None = None,
        times: int | None = 1,
        **matchers: Any,
    ) -> dict[str, Any]:
        """Make the next `times` calls of `operation` (an operationId) answer `status` with a Huawei error body."""
        return self.fault(operation=operation, status=status, error_code=error_code, error_msg=error_msg, times=times, **matchers)

    def clear_faults(self) -> int:
        return int(self._control_json("DELETE", f"faults?tenant={self.tenant}")["removed"])

    def script_completion(
        self,
        instance_id: str,
        content: str = "",
        *,
        reasoning_content: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        finish_reason: str | None = None,
        default: bool = False,
    ) -> int:
        """Queue the answer the next invocation of `instance_id` gives (or, with default=True, every unscripted one).
        `tool_calls`: functions it calls, each `{name, arguments?, id?}` (arguments an object or JSON text)."""
        body: dict[str, Any] = {"tenant": self.tenant, "instance_id": instance_id, "content": content, "default": default}
        optional = (("reasoning_content", reasoning_content), ("tool_calls", tool_calls), ("finish_reason", finish_reason))
        body.update({k: v for k, v in optional if v is not None})
        return int(self._tenant_json("POST", "completions", body)["queued"])

    def set_timing(self, instance_id: str, *, ttft_ms: int, itl_ms: int, **spread: float) -> None:
        """The instance's stream pacing; `spread`: ttft_jitter_ms, itl_jitter_ms, prefill_us_per_token."""
        body = {"tenant": self.tenant, "instance_id": instance_id, "ttft_ms": ttft_ms, "itl_ms": itl_ms, **spread}
        self._tenant_control("PUT", "timing", body)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The journal of this tenant's requests (credentials redacted), oldest first; filters: operation, method,
        status, path_contains, since_seq, limit. Pages through the whole answer.

        With shards: every shard's entries, each carrying `shard` (its URL), merged by `time`, then shard order,
        then `seq` (seq counts per shard, so `since_seq` is refused); `limit` keeps the newest of the merge."""
        chosen = {"tenant": self.tenant, **{k: v for k, v in filters.items() if v is not None}}
        if not self._shards:
            return self._journal(self.base_url, chosen)
        if "since_seq" in chosen:
            raise ValueError("since_seq counts per shard: read one shard with MockFabric.connect(shard_url, tenant=...)")
        order = {shard: index for index, shard in enumerate(self._shards)}
        merged = [{**entry, "shard": shard} for shard in self._shards for entry in self._journal(shard, chosen)]
        merged.sort(key=lambda entry: (entry["time"], order[entry["shard"]], entry["seq"]))
        return merged[-int(chosen["limit"]) :] if "limit" in chosen else merged

    def _journal(self, url: str, chosen: dict[str, Any]) -> list[dict[str, Any]]:
        """One emulator's matching journal entries, oldest first, every page of them."""
        entries: list[dict[str, Any]] = []
        while True:
            page = self._control_at(url, "GET", f"requests?{urllib.parse.urlencode(chosen)}")
            entries += page["requests"]
            if page["next_since_seq"] is None:
                return entries
            chosen = {**chosen, "since_seq": page["next_since_seq"]}

    def clear_requests(self) -> None:
        self._control("DELETE", f"requests?tenant={self.tenant}")

    def seed(self, seed: int | None) -> None:
        """Reseed ids, generated content and fault probabilities."""
        self._control("POST", "seed", {"seed": seed})

    def export_state(self, *, all_tenants: bool = False) -> dict[str, Any]:
        """This tenant's state (or, on one emulator, everyone's; with shards, export each shard on its own)."""
        if not all_tenants:
            return self._tenant_json("GET", f"state?tenant={self.tenant}")
        self._refuse_across_shards("export every tenant's state")
        return self._control_json("GET", "state")

    def import_state(self, state: dict[str, Any], *, all_tenants: bool = False) -> None:
        if not all_tenants:
            self._tenant_control("PUT", f"state?tenant={self.tenant}", state)
            return
        self._refuse_across_shards("import every tenant's state")
        self._control("PUT", "state", state)

    def _refuse_across_shards(self, what: str) -> None:
        if self._shards:
            raise ValueError(f"cannot {what} across shards: use MockFabric.connect(shard_url) for each shard")

    def _control_json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return _json_object(self._control(method, path, body))

    def _tenant_json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return _json_object(self._tenant_control(method, path, body))

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        """A control call naming no tenant (or harmless on a shard without the tenant): sent to every shard, in
        order, answering the first one's; on one emulator, to it."""
        answers = [self._control_at(url, method, path, body) for url in self._shards or (self.base_url,)]
        return answers[0]

    def _tenant_control(self, method: str, path: str, body: Any = None) -> Any:
        """A control call about this handle's tenant's resources: through the base URL, carrying the tenant's
        X-Project-Id when there are shards so that the balancer sends it to the tenant's shard."""
        routed = {"X-Project-Id": self.tenant} if self._shards else {}
        return self._control_at(self.base_url, method, path, body, routed)

    def _control_at(self, url: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """Call the control API at `url`; answers the decoded JSON (None for an empty body) or raises ControlError."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{url}/_mockfabric/{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self._control_token:
            request.add_header(CONTROL_TOKEN_HEADER, self._control_token)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail: Any = json.loads(raw)
            except ValueError:
                detail = raw.decode(errors="replace")
            raise ControlError(exc.code, detail) from None
        return json.loads(payload) if payload else None


def _json_object(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise ControlError(200, answer)
    return answer


def new_tenant() -> str:
    return "mf-" + secrets.token_hex(8)
