"""Scale-out: streams and CRUD through HAProxy (deploy/haproxy.cfg, Debian's package) in front of 1 and of 2
`mockfabric serve` shards, measured in one run, with one shard alone (no HAProxy) as the baseline.

Three stacks run side by side (an idle one costs nothing) and are measured in interleaved rounds, as crud.py does:
  direct   one shard on core 0, wrk straight at it;
  1 shard  the same shard behind HAProxy (both server lines of haproxy.cfg name it);
  2 shards two other shards, one on core 0 and one on core 1, behind their own HAProxy.
Each HAProxy and wrk (1 thread, 16 connections) run on core 1. The machine has two cores, so the second shard
shares its core with HAProxy and the load generator: what 2 shards gain here is a floor, not the linear gain that a
core per shard (and the load elsewhere) gives.

Traffic rotates over --tenants tenants (X-Project-Id), so HAProxy's tenant hash spreads it; the split per shard is
printed. Operations: Stream (an unpaced 16-token streamed invocation of the tenant's own instance: streams/s),
ListWorkspaces (a one-workspace list), CreateWorkspace (a new name each time, into tenants of its own).
Usage: python bench/shards.py [--seconds 4] [--rounds 3] [--tenants 32]"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from common import LOAD_CORE, PY, ROOT, pinned, wrk

PORT = 18760
SETTLE_SECONDS = 1.5
OPERATIONS = ("Stream", "ListWorkspaces", "CreateWorkspace")
STREAM_BODY = {"messages": [{"role": "user", "content": "hello"}], "stream": True, "max_tokens": 16}
ENDPOINT = {"name": "e", "type": "inference", "reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 0, "max": 1}}}
MODEL_CONFIG = {"llm_model_config": {"base_model_type": "", "model_path": ""}}
MODEL = {"name": "m", "type": "LLM_MODEL", "version": {"name": "v1", "config": MODEL_CONFIG}}
LUA = """local targets = {%s}
local counter = 0
request = function()
  counter = counter + 1
  local target = targets[(counter %% #targets) + 1]
  local body = target[3]
  if body == "" then body = nil elseif body == "NEW" then body = '{"name":"%s-' .. counter .. '"}' end
  local headers = {["X-Project-Id"] = target[1], ["X-Auth-Token"] = "bench", ["Content-Type"] = "application/json"}
  return wrk.format("%s", target[2], headers, body)
end
"""


@dataclass(frozen=True)
class Stack:
    name: str
    url: str  # where wrk sends traffic
    shards: tuple[str, ...]  # the shards' own URLs
    shard_pids: tuple[int, ...]
    haproxy_pid: int | None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(stack: Stack, script: str, seconds: int) -> dict[str, float]:
    """wrk's figures, plus the CPU milliseconds per request the stack's shards and its HAProxy spent."""
    pids = [*stack.shard_pids, *([stack.haproxy_pid] if stack.haproxy_pid else [])]
    before = {pid: cpu_seconds(pid) for pid in pids}
    result = wrk(stack.url + "/v1/workspaces", lua=script, seconds=seconds)
    used = {pid: cpu_seconds(pid) - before[pid] for pid in pids}
    requests = max(result["rps"] * seconds, 1.0)
    result["shard_cpu_ms"] = 1000 * sum(used[pid] for pid in stack.shard_pids) / requests
    result["haproxy_cpu_ms"] = 1000 * used[stack.haproxy_pid] / requests if stack.haproxy_pid else 0.0
    return result


def as_tenant(base: str, tenant: str, method: str, path: str, body: object | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    headers = {"X-Auth-Token": "bench", "X-Project-Id": tenant, "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(f"{base}{path}", data=data, method=method, headers=headers), timeout=60) as reply:
        raw = reply.read()
    return json.loads(raw) if raw else {}


def deploy(base: str, tenant: str) -> tuple[str, str]:
    """The tenant's workspace and a RUNNING instance in it (the shards run with instant lifecycles)."""
    ws = as_tenant(base, tenant, "POST", "/v1/workspaces", {"name": "bench"})["id"]
    endpoint = as_tenant(base, tenant, "POST", f"/v1/workspaces/{ws}/endpoints", ENDPOINT)["id"]
    model = as_tenant(base, tenant, "POST", f"/v1/workspaces/{ws}/models", MODEL)["id"]
    deploy_body = {"source": {"id": model}, "name": "bench-instance", "endpoint_id": endpoint}
    instance = as_tenant(base, tenant, "POST", f"/v1/workspaces/{ws}/services/instances", deploy_body)["id"]
    return ws, instance


def lua(method: str, targets: list[tuple[str, str, str]], run: str) -> str:
    rows = ", ".join(f"{{{json.dumps(t)}, {json.dumps(p)}, {json.dumps(b)}}}" for t, p, b in targets)
    return LUA % (rows, run, method)


def scripts(stack: Stack, tenants: int) -> dict[str, tuple[str, str]]:
    """Per operation, a path for wrk's URL and a Lua template (`%RUN%` to fill) rotating over the tenants."""
    deployed = {f"{stack.name[0]}{n}": deploy(stack.url, f"{stack.name[0]}{n}") for n in range(tenants)}
    stream = [(t, f"/v1/workspaces/{ws}/services/instances/{i}/invocations", json.dumps(STREAM_BODY)) for t, (ws, i) in deployed.items()]
    listing = [(t, "/v1/workspaces", "") for t in deployed]
    creating = [(f"c{t}", "/v1/workspaces", "NEW") for t in deployed]
    return {
        "Stream": lua("POST", stream, "%RUN%"),
        "ListWorkspaces": lua("GET", listing, "%RUN%"),
        "CreateWorkspace": lua("POST", creating, "%RUN%"),
    }


def split(stack: Stack) -> list[int]:
    """How many of the stack's tenants each of its shards holds (the tenants in its journal)."""
    counts = []
    for shard in stack.shards:
        with urllib.request.urlopen(f"{shard}/_mockfabric/requests?limit=5000", timeout=60) as reply:
            tenants = {entry["tenant"] for entry in json.loads(reply.read())["requests"]}
        counts.append(len({tenant for tenant in tenants if tenant and tenant.startswith(stack.name[0])}))
    return counts


def shard_command(port: int) -> list[str]:
    return [PY, "-m", "mockfabric", "serve", "--port", str(port), "--quiet", "--lifecycle", "endpoint=instant,service_instance=instant"]


def start_stacks(running: ExitStack) -> list[Stack]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    pids = {}
    for n, core in enumerate(("0", "0", "1")):
        pids[PORT + n] = running.enter_context(pinned(shard_command(PORT + n), f"http://127.0.0.1:{PORT + n}/healthcheck", core=core)).pid
    balancers = {"1 shard": (PORT + 10, [PORT + 1, PORT + 1]), "2 shards": (PORT + 11, [PORT + 0, PORT + 2])}
    stacks = [Stack("direct", f"http://127.0.0.1:{PORT + 1}", (f"http://127.0.0.1:{PORT + 1}",), (pids[PORT + 1],), None)]
    for name, (port, servers) in balancers.items():
        env = {f"MOCKFABRIC_SHARD_{i}": f"127.0.0.1:{server}" for i, server in enumerate(servers, 1)}
        env["MOCKFABRIC_HAPROXY_BIND"] = f"127.0.0.1:{port}"
        command = [haproxy, "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")]
        balancer = running.enter_context(pinned(command, f"http://127.0.0.1:{port}/healthcheck", env=env, core=LOAD_CORE))
        own = list(dict.fromkeys(servers))
        urls = tuple(f"http://127.0.0.1:{server}" for server in own)
        stacks.append(Stack(name, f"http://127.0.0.1:{port}", urls, tuple(pids[server] for server in own), balancer.pid))
    return stacks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tenants", type=int, default=32)
    args = parser.parse_args()
    samples: dict[str, dict[str, list[dict[str, float]]]] = {}
    with ExitStack() as running:
        stacks = start_stacks(running)
        plans = {stack.name: scripts(stack, args.tenants) for stack in stacks}
        spread = {stack.name: split(stack) for stack in stacks}
        samples = {stack.name: {op: [] for op in OPERATIONS} for stack in stacks}
        for round_number in range(-1, args.rounds):  # round -1 warms up, not counted
            for operation in OPERATIONS:
                shift = (round_number + 1) % len(stacks)
                for stack in stacks[shift:] + stacks[:shift]:  # each stack follows each other equally often
                    time.sleep(SETTLE_SECONDS)
                    script = plans[stack.name][operation].replace("%RUN%", f"r{round_number}")
                    result = measured(stack, script, args.seconds)
                    if round_number >= 0:
                        samples[stack.name][operation].append(result)
    table = {name: {op: _median(runs) for op, runs in ops.items()} for name, ops in samples.items()}
    print(json.dumps({"tenants_per_shard": spread, "median": table, "rounds": samples, "cpus": os.cpu_count()}))
    _print_table(table, samples, spread)


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


Table = dict[str, dict[str, dict[str, float]]]


def _print_table(table: Table, samples: dict[str, dict[str, list[dict[str, float]]]], spread: dict[str, list[int]]) -> None:
    print(f"\ntenants per shard: {spread}")
    columns = "req/s (median) | p50 ms | p99 ms | non-2xx | shards' CPU ms/req | HAProxy CPU ms/req | vs 1 shard | per round"
    print(f"\n| operation | stack | {columns} |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for operation in OPERATIONS:
        one = table["1 shard"][operation]["rps"]
        for stack, results in table.items():
            r = results[operation]
            rounds = zip(samples[stack][operation], samples["1 shard"][operation], strict=True)
            per_round = " ".join(f"{mine['rps'] / theirs['rps']:.2f}" for mine, theirs in rounds)
            print(
                f"| {operation} | {stack} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']:.0f} | "
                f"{r['shard_cpu_ms']:.3f} | {r['haproxy_cpu_ms']:.3f} | {r['rps'] / one:.2f}x | {per_round} |"
            )


if __name__ == "__main__":
    main()
