"""Scale-out (issue 32, item 3): `mockfabric serve` shards behind Debian's HAProxy with deploy/haproxy.cfg as shipped,
and the MockFabric handle that fans the calls naming no tenant out to every shard and merges the journal by time.

What must hold: a tenant (X-Project-Id, else its X-Auth-Token, else the AK of its signature) always reaches the same
shard, so its state is whole; different tenants spread over the shards; a stream passes HAProxy chunk by chunk; the
handle's clock moves, fixtures and resets reach every shard, its tenant calls reach the tenant's shard, and its
journal is every shard's entries ordered by time. The HAProxy tests skip, saying why, where `haproxy` is missing
(.ci/run installs Debian's package); the handle's own fan-out and merge are tested on two in-process emulators."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import requests.auth

from mockfabric import MockFabric
from mockfabric.config import CONTROL_TOKEN_HEADER
from mockfabric.testing.fabric import new_tenant
from mockfabric.testing.streams import chunk_rule_problems, parse_sse
from mockfabric.web.auth import credential_of

from ..helpers import SEED_INVOKE
from .flow import deploy

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
CONTROL_TOKEN = "shards-test-control-token"
START_SECONDS = 30.0
# Debian puts it in /usr/sbin, which a user's PATH often leaves out
HAPROXY = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.access(p, os.X_OK)), None)
needs_haproxy = pytest.mark.skipif(
    HAPROXY is None,
    reason="haproxy is neither on PATH nor /usr/sbin/haproxy: install Debian's package (apt-get install haproxy; .ci/run does)",
)


@dataclass(frozen=True)
class Sharded:
    balancer: str  # HAProxy's URL: where traffic goes
    shards: tuple[str, ...]  # each shard's own URL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = START_SECONDS) -> None:
    """Return once 127.0.0.1:`port` accepts a connection; fail if `process` exits or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)  # polling the port: the condition waited for, with a deadline
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {seconds} s ({process.args})")


@contextmanager
def running(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """`command` running (its output in `log`) until the block ends, ready once `port` accepts connections."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, **env})
        try:
            wait_for_port(port, process)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def shard_command(port: int) -> list[str]:
    return [sys.executable, "-m", "mockfabric", "serve", "--port", str(port), "--quiet"]


def haproxy_env(port: int, shards: list[int]) -> dict[str, str]:
    servers = {f"MOCKFABRIC_SHARD_{n}": f"127.0.0.1:{shard}" for n, shard in enumerate(shards, start=1)}
    return {"MOCKFABRIC_HAPROXY_BIND": f"127.0.0.1:{port}", **servers}


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sharded]:
    """Two `mockfabric serve` shards and HAProxy in front of them, with deploy/haproxy.cfg as shipped."""
    if HAPROXY is None:
        pytest.skip("haproxy is neither on PATH nor /usr/sbin/haproxy (apt-get install haproxy)")
    logs = tmp_path_factory.mktemp("shards")
    ports, balancer = [free_port(), free_port()], free_port()
    token = {"MOCKFABRIC_CONTROL_TOKEN": CONTROL_TOKEN}
    with ExitStack() as stack:
        for n, port in enumerate(ports, start=1):
            stack.enter_context(running(shard_command(port), token, port, logs / f"shard{n}.log"))
        haproxy = [HAPROXY, "-db", "-f", str(HAPROXY_CFG)]
        stack.enter_context(running(haproxy, haproxy_env(balancer, ports), balancer, logs / "haproxy.log"))
        yield Sharded(f"http://127.0.0.1:{balancer}", tuple(f"http://127.0.0.1:{port}" for port in ports))


def handle(sharded: Sharded, tenant: str | None = None) -> MockFabric:
    return MockFabric.connect(sharded.balancer, control_token=CONTROL_TOKEN, tenant=tenant, shards=sharded.shards)


def journal_tenants(shard: str) -> list[str | None]:
    """The tenant of every request in the shard's journal (every tenant's: no filter), through the control API."""
    tenants: list[str | None] = []
    query: dict[str, int] = {}
    while True:
        page = requests.get(f"{shard}/_mockfabric/requests", params=query, headers={CONTROL_TOKEN_HEADER: CONTROL_TOKEN}, timeout=30)
        assert page.status_code == 200, page.text
        tenants += [entry["tenant"] for entry in page.json()["requests"]]
        if page.json()["next_since_seq"] is None:
            return tenants
        query = {"since_seq": page.json()["next_since_seq"]}


def shards_of(sharded: Sharded, tenant: str) -> set[str]:
    return {shard for shard in sharded.shards if tenant in journal_tenants(shard)}


SIGNING_AK = "AK" + new_tenant()[3:].upper()
CREDENTIALS = {
    "project": {"X-Project-Id": "p-" + new_tenant(), "X-Auth-Token": "any"},
    "token": {"X-Auth-Token": "token-" + new_tenant()},
    "signature": {
        "Authorization": f"SDK-HMAC-SHA256 Access={SIGNING_AK}, SignedHeaders=host;x-sdk-date, Signature={'0' * 64}",
        "X-Sdk-Date": "20260101T000000Z",
    },
}


class FreshSignature(requests.auth.AuthBase):
    """Signs every request with another signature, as the SDK does: only the AK may decide the shard."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.count += 1
        signature = f"{self.count:064x}"
        request.headers["Authorization"] = f"SDK-HMAC-SHA256 Access={SIGNING_AK}, SignedHeaders=host;x-sdk-date, Signature={signature}"
        return request


@needs_haproxy
@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
def test_one_tenant_always_reaches_the_same_shard(sharded: Sharded, kind: str) -> None:
    """Its workspace is in every list it reads (a list served by the other shard would miss it), and only one
    shard's journal holds its requests."""
    session = requests.Session()
    session.headers.update(CREDENTIALS[kind])
    if kind == "signature":
        session.auth = FreshSignature()
    created = session.post(f"{sharded.balancer}/v1/workspaces", json={"name": f"sticky-{kind}"}, timeout=30)
    assert created.status_code == 200, created.text
    for _ in range(12):
        listed = session.get(f"{sharded.balancer}/v1/workspaces", timeout=30).json()
        assert [ws["id"] for ws in listed["workspaces"]] == [created.json()["id"]]
    headers = CREDENTIALS[kind]
    tenant = headers.get("X-Project-Id") or credential_of(headers)  # the emulator's tenant (web/auth.py)
    assert len(shards_of(sharded, tenant)) == 1


@needs_haproxy
def test_tenants_spread_over_the_shards(sharded: Sharded) -> None:
    tenants = [f"spread-{n}" for n in range(24)]
    for tenant in tenants:
        answer = requests.get(f"{sharded.balancer}/v1/workspaces", headers={"X-Auth-Token": "t", "X-Project-Id": tenant}, timeout=30)
        assert answer.status_code == 200, answer.text
    landed = {shard: len(set(tenants) & set(journal_tenants(shard))) for shard in sharded.shards}
    assert sum(landed.values()) == len(tenants) and all(landed.values()), landed


def arrival_times(response: requests.Response) -> tuple[list[float], list[bytes]]:
    """When each `data: {...}` line of a stream was whole, and every line: read as the bytes come (iter_lines'
    512-byte reads would join events that arrived apart)."""
    arrivals: list[float] = []
    lines: list[bytes] = []
    pending = b""
    for piece in response.iter_content(chunk_size=None):
        *whole, pending = (pending + piece).split(b"\n")
        lines += whole
        arrivals += [time.monotonic() for line in whole if line.startswith(b"data: {")]
    return arrivals, [*lines, pending] if pending else lines


@needs_haproxy
def test_a_stream_through_haproxy_arrives_chunk_by_chunk(sharded: Sharded) -> None:
    """With 150 ms between chunks, chunks arrive spread over the stream's length, not in one piece at its end."""
    deployed = deploy(handle(sharded))
    deployed.fabric.set_timing(deployed.instance, ttft_ms=0, itl_ms=150)
    body = {**SEED_INVOKE, "max_tokens": 8, "stream": True}
    response = deployed.invoke(body, stream=True)
    assert response.status_code == 200, response.text
    arrivals, lines = arrival_times(response)
    stream = parse_sse(iter(lines))
    assert chunk_rule_problems(stream) == [] and len(arrivals) >= 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert sum(gap > 0.075 for gap in gaps) >= len(gaps) - 1, gaps  # (the last chunk may follow its content at once)


@needs_haproxy
def test_the_handles_clock_fixtures_and_reset_reach_every_shard(sharded: Sharded) -> None:
    fabric = handle(sharded)
    direct = [MockFabric.connect(shard, control_token=CONTROL_TOKEN) for shard in sharded.shards]
    before = [shard.now() for shard in direct]
    fabric.advance(7200)
    assert all(shard.now() >= was + 7200 for shard, was in zip(direct, before, strict=True))
    assert abs(direct[0].now() - direct[1].now()) < 5
    loaded = fabric.add_fixture({"instance": {"equals": "no-such-instance"}}, {"content": "fanned out"})
    assert [shard.clear_fixtures() for shard in direct] == [loaded, loaded]
    homes = {}
    for tenant in (f"reset-{n}" for n in range(8)):
        tenant_fabric = fabric.for_tenant(tenant)
        created = requests.post(f"{sharded.balancer}/v1/workspaces", json={"name": "gone"}, headers=tenant_fabric.headers, timeout=30)
        assert created.status_code == 200, created.text
        homes[tenant] = shards_of(sharded, tenant)
    assert set.union(*homes.values()) == set(sharded.shards)  # the reset below has tenants on both shards to forget
    fabric.reset(all_tenants=True)
    for tenant in homes:
        listed = requests.get(f"{sharded.balancer}/v1/workspaces", headers=fabric.for_tenant(tenant).headers, timeout=30)
        assert listed.json()["workspaces"] == []


@needs_haproxy
def test_the_merged_journal_holds_every_shards_entries_in_time_order(sharded: Sharded) -> None:
    """A tenant's traffic sent to each shard directly (as a client bypassing HAProxy would) is all in requests()."""
    fabric = handle(sharded)
    for step in range(6):
        shard = sharded.shards[step % 2]
        assert requests.get(f"{shard}/v1/workspaces", headers=fabric.headers, timeout=30).status_code == 200
        fabric.advance(1)
    merged = fabric.requests(operation="ListWorkspaces")
    assert [entry["shard"] for entry in merged] == [sharded.shards[step % 2] for step in range(6)]
    assert [entry["time"] for entry in merged] == sorted(entry["time"] for entry in merged)
    assert fabric.requests(operation="ListWorkspaces", limit=2) == merged[-2:]


@needs_haproxy
def test_the_tenant_calls_of_the_handle_reach_the_tenants_shard(sharded: Sharded) -> None:
    """force_status names a resource only the tenant's shard has (the other would answer 404)."""
    fabric = handle(sharded)
    deployed = deploy(fabric)
    changed = fabric.force_status("service_instance", deployed.instance, "FAILED", error_code="X.1", error_msg="forced")
    assert changed["status"] == "FAILED"
    assert fabric.export_state()["tenants"]


def test_the_handle_fans_out_and_merges_without_a_balancer() -> None:
    """Two in-process emulators as shards, the first also standing for the balancer: the clock reaches both, the
    journal merges both in time order, and what cannot cross shards is refused with the way round it."""
    with MockFabric() as first, MockFabric() as second:
        fabric = MockFabric.connect(first.base_url, tenant="merged", shards=[first.base_url, second.base_url])
        started = [first.now(), second.now()]
        for target in [second, first, second, first]:
            requests.get(f"{target.base_url}/v1/workspaces", headers=fabric.headers, timeout=30)
            fabric.advance(2)
        assert first.now() == started[0] + 8 and second.now() == started[1] + 8
        merged = fabric.requests()
        assert [entry["shard"] for entry in merged] == [second.base_url, first.base_url] * 2
        assert [entry["time"] for entry in merged] == sorted(entry["time"] for entry in merged)
        with pytest.raises(ValueError, match="since_seq counts per shard"):
            fabric.requests(since_seq=1)
        with pytest.raises(ValueError, match="across shards"):
            fabric.export_state(all_tenants=True)
        with pytest.raises(TypeError):
            MockFabric.connect(first.base_url, shards=first.base_url)


@needs_haproxy
def test_the_readmes_sharded_example_runs(sharded: Sharded) -> None:
    """README's "Scaling out with HAProxy" Python block, with this test's ports in place of its own."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## Scaling out with HAProxy", 1)[1]
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    ports = {"8090": sharded.balancer, "8091": sharded.shards[0], "8092": sharded.shards[1]}
    for port, url in ports.items():
        assert f'"http://127.0.0.1:{port}"' in code
        code = code.replace(f'"http://127.0.0.1:{port}"', f'"{url}"')
    namespace: dict[str, object] = {"token": CONTROL_TOKEN}
    exec(compile(code, "README.md", "exec"), namespace)
    fabric = namespace["fabric"]
    assert isinstance(fabric, MockFabric) and fabric.shards == sharded.shards
    direct = [MockFabric.connect(shard, control_token=CONTROL_TOKEN) for shard in sharded.shards]
    assert [shard.clear_fixtures() for shard in direct] == [1, 1]
