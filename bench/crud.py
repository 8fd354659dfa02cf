"""CRUD throughput and latency: mockfabric serve vs the hello-world ceiling (same server, same settings) vs Stoplight
Prism serving the contract's examples. Servers on core 0, wrk on core 1.

The three servers run side by side (an idle one costs nothing) and are measured in interleaved rounds: each round
runs every operation against every server for a few seconds, and the table reports the median of the rounds (after
one warm-up round, not counted). On
this VM the same server's throughput drifts by 10-20 % between minutes, so measuring one server after the other
put that drift into the ratios; interleaving keeps each ratio within one round's window.
Usage: python bench/crud.py [--seconds 3] [--rounds 5] [--prism PATH-TO-prism]"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from contextlib import ExitStack
from pathlib import Path

from common import PY, ROOT, call, pinned, wrk

PORT = 18740
CREATE_LUA = """counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, nil, '{"name":"bench-%s-' .. counter .. '"}')
end
"""
OPERATIONS = ("ListWorkspaces", "ShowEndpoint", "CreateWorkspace")
# A server goes on working after its load stops (Node's collector and JIT above all), on the core the next server
# is measured on: measured right after Prism, mockfabric's CreateWorkspace read ~1 500 req/s, alone ~2 200. So
# each measurement waits this long after the previous one, and the order rotates between rounds.
SETTLE_SECONDS = 1.5
EXAMPLE_IDS = ("e935d0ef-f4eb-4b95-aff1-9d33ae9f57a6", "0b5633ba2b904511ad514346f4d23d4b")  # the contract's examples


def route(operation: str, ws: str, ep: str, run: str) -> tuple[str, str | None, dict[str, str]]:
    """Path, wrk script and headers. CreateWorkspace sends a new name on every request (names are unique per
    tenant), into a tenant of its own, so the workspaces it makes do not lengthen the next round's list."""
    return {
        "ListWorkspaces": ("/v1/workspaces", None, {}),
        "ShowEndpoint": (f"/v1/workspaces/{ws}/endpoints/{ep}", None, {}),
        "CreateWorkspace": ("/v1/workspaces", CREATE_LUA % run, {"X-Project-Id": "bench-creates"}),
    }[operation]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prism", default=shutil.which("prism") or "")
    args = parser.parse_args()
    servers = {
        "mockfabric": [PY, "-m", "mockfabric", "serve", "--port", str(PORT), "--lifecycle", "endpoint=instant,service_instance=instant"],
        "hello-world ceiling": [PY, "ceiling_server.py", str(PORT + 1)],
    }
    if args.prism:  # an absolute path: Prism starts in the repository root, to find contracts/
        prism = str(Path(shutil.which(args.prism) or args.prism).absolute())
        servers["prism"] = [prism, "mock", "contracts/openapi.yaml", "-p", str(PORT + 2), "-v", "error"]
    base = {name: f"http://127.0.0.1:{PORT + index}" for index, name in enumerate(servers)}
    samples: dict[str, dict[str, list[dict[str, float]]]] = {name: {op: [] for op in OPERATIONS} for name in servers}
    with ExitStack() as running:
        for name, command in servers.items():
            running.enter_context(pinned(command, f"{base[name]}/healthcheck", cwd=ROOT / "bench" if "ceiling" in name else ROOT))
        ws = call(base["mockfabric"], "POST", "/v1/workspaces", {"name": "bench-home"})["id"]
        ep = call(base["mockfabric"], "POST", f"/v1/workspaces/{ws}/endpoints", {"name": "e", "type": "inference"})["id"]
        ids = {name: (ws, ep) if name == "mockfabric" else EXAMPLE_IDS for name in servers}
        names = list(servers)
        for round_number in range(-1, args.rounds):  # round -1 warms every server up (Prism's JIT above all)
            for operation in OPERATIONS:
                shift = (round_number + 1) % len(names)
                for name in names[shift:] + names[:shift]:  # each server follows each other equally often
                    time.sleep(SETTLE_SECONDS)
                    path, lua, headers = route(operation, *ids[name], run=f"r{round_number}")
                    result = wrk(f"{base[name]}{path}", lua=lua, headers=headers, seconds=args.seconds)
                    if round_number >= 0:
                        samples[name][operation].append(result)
    table = {name: {op: _median(runs) for op, runs in ops.items()} for name, ops in samples.items()}
    print(json.dumps({"median": table, "rounds": samples}))
    _print_table(table, samples)


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _print_table(table: dict[str, dict[str, dict[str, float]]], samples: dict[str, dict[str, list[dict[str, float]]]]) -> None:
    print("\n| operation | server | req/s (median) | p50 ms | p99 ms | non-2xx | vs ceiling | vs Prism | vs ceiling, per round |")
    print("|---|---|---|---|---|---|---|---|---|")
    for operation in OPERATIONS:
        ceiling = table["hello-world ceiling"][operation]["rps"]
        for server, results in table.items():
            r = results[operation]
            prism = r["rps"] / table["prism"][operation]["rps"] if "prism" in table else float("nan")
            rounds = zip(samples[server][operation], samples["hello-world ceiling"][operation], strict=True)
            per_round = " ".join(f"{mine['rps'] / theirs['rps']:.2f}" for mine, theirs in rounds)
            print(
                f"| {operation} | {server} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']:.0f} | "
                f"{r['rps'] / ceiling:.2f}x | {prism:.2f}x | {per_round} |"
            )


if __name__ == "__main__":
    main()
