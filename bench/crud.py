"""CRUD throughput and latency: mockfabric serve vs the hello-world ceiling (same server, same settings) vs Stoplight
Prism serving the contract's examples. Servers on core 0, wrk on core 1, all in one run so ratios compare like with
like. Usage: python bench/crud.py [--seconds 6] [--prism PATH-TO-prism]"""

from __future__ import annotations

import argparse
import json
import shutil

from common import PY, ROOT, call, pinned, wrk

PORT = 18740
BASE = f"http://127.0.0.1:{PORT}"
CREATE_LUA = """counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, nil, '{"name":"bench-' .. counter .. '"}')
end
"""


def measure(routes: dict[str, tuple[str, str | None]], seconds: int) -> dict[str, dict[str, float]]:
    results = {}
    for name, (path, lua) in routes.items():
        results[name] = wrk(f"{BASE}{path}", lua=lua, seconds=seconds)
    return results


def routes_for(ws: str, ep: str) -> dict[str, tuple[str, str | None]]:
    return {
        "ListWorkspaces": ("/v1/workspaces", None),
        "ShowEndpoint": (f"/v1/workspaces/{ws}/endpoints/{ep}", None),
        "CreateWorkspace": ("/v1/workspaces", CREATE_LUA),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--prism", default=shutil.which("prism") or "")
    args = parser.parse_args()
    table: dict[str, dict[str, dict[str, float]]] = {}

    serve = [PY, "-m", "mockfabric", "serve", "--port", str(PORT), "--lifecycle", "endpoint=instant,service_instance=instant"]
    with pinned(serve, f"{BASE}/healthcheck"):
        ws = call(BASE, "POST", "/v1/workspaces", {"name": "bench-home"})["id"]
        ep = call(BASE, "POST", f"/v1/workspaces/{ws}/endpoints", {"name": "e", "type": "inference"})["id"]
        table["mockfabric"] = measure(routes_for(ws, ep), args.seconds)

    ceiling = [PY, "-m", "waitress", f"--port={PORT}", "--threads=512", "--connection-limit=1024", "--backlog=2048", "ceiling_app:app"]
    with pinned(ceiling, f"{BASE}/healthcheck", cwd=ROOT / "bench"):
        table["hello-world ceiling"] = measure(
            routes_for("e935d0ef-f4eb-4b95-aff1-9d33ae9f57a6", "0b5633ba2b904511ad514346f4d23d4b"), args.seconds
        )

    if args.prism:
        prism = [args.prism, "mock", "contracts/openapi.yaml", "-p", str(PORT), "-v", "error"]
        with pinned(prism, f"{BASE}/healthcheck"):
            table["prism"] = measure(routes_for("e935d0ef-f4eb-4b95-aff1-9d33ae9f57a6", "0b5633ba2b904511ad514346f4d23d4b"), args.seconds)

    print(json.dumps(table))
    print("\n| operation | server | req/s | p50 ms | p99 ms | non-2xx | vs ceiling | vs Prism |\n|---|---|---|---|---|---|---|---|")
    for operation in ("ListWorkspaces", "ShowEndpoint", "CreateWorkspace"):
        for server, results in table.items():
            r = results[operation]
            ceiling_ratio = r["rps"] / table["hello-world ceiling"][operation]["rps"]
            prism_ratio = r["rps"] / table["prism"][operation]["rps"] if "prism" in table else float("nan")
            print(
                f"| {operation} | {server} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']:.0f} | "
                f"{ceiling_ratio:.2f}x | {prism_ratio:.2f}x |"
            )


if __name__ == "__main__":
    main()
