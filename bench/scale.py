"""Scale: ListEndpoints (10-item page) and ShowEndpoint p50 with 0, 10 000 and 100 000 endpoints in the tenant,
spread over 100 workspaces or all in one, plus resident memory per endpoint. The state is loaded from a generated
state file (`--state-file`), so the measurement starts from the same data every time.
Usage: python bench/scale.py [--sizes 0 10000 100000]"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from pathlib import Path

from common import PY, pinned, rss_kib, wrk

PORT = 18750
BASE = f"http://127.0.0.1:{PORT}"
TENANT = "bench"
STAMP = "2026-11-25T12:00:00.000Z"


def endpoint_record(workspace: str, index: int) -> dict:
    endpoint_id = uuid.UUID(int=index + 1).hex
    return {
        "visibility": "PRIVATE",
        "id": endpoint_id,
        "name": f"ep-{index}",
        "type": "inference",
        "status": "RUNNING",
        "description": "",
        "create_time": STAMP,
        "update_time": STAMP,
        "owner": {"domain_name": "mockfabric", "domain_id": "d", "user_name": "bench", "user_id": "u"},
        "reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 0, "max": 1}},
        "urls": [{"name": "ApiInvoke", "address": f"http://127.0.0.1/v1/workspaces/{workspace}/endpoints/{endpoint_id}", "type": "PUBLIC"}],
        "business_engine_instance_ids": [],
        "tokens_quota": {"total": 10000000, "used": 0, "expire_time": STAMP},
        "runtime_env_type": "RELEASE",
    }


def state(size: int, workspaces: int) -> dict:
    spaces = {}
    ids = [str(uuid.UUID(int=10**12 + w)) for w in range(workspaces)]
    for w, ws in enumerate(ids):
        record = {
            "id": ws,
            "name": f"ws-{w:04d}",
            "description": "",
            "create_time": STAMP,
            "create_domain_name": "mockfabric",
            "create_user_name": "bench",
            "metastore_id": ws,
            "access_url": "http://127.0.0.1/",
            "enterprise_project_id": "0",
        }
        spaces[ws] = {"entry": {"record": record, "created_seq": w}, "endpoints": {}, "models": {}, "instances": {}, "pending": {}}
    for index in range(max(size, 1)):  # size 0 still needs one endpoint to show
        ws = ids[index % workspaces]
        record = endpoint_record(ws, index)
        spaces[ws]["endpoints"][record["id"]] = {"record": record, "created_seq": 10**6 + index}
    return {"format": 1, "seq": 10**7, "tenants": {TENANT: {"workspaces": spaces}}}


def measure(size: int, workspaces: int, seconds: int) -> dict:
    data = state(size, workspaces)
    first_ws = next(iter(data["tenants"][TENANT]["workspaces"]))
    first_ep = next(iter(data["tenants"][TENANT]["workspaces"][first_ws]["endpoints"]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.json"
        path.write_text(json.dumps(data))
        del data
        serve = [PY, "-m", "mockfabric", "serve", "--port", str(PORT), "--state-file", str(path)]
        with pinned(serve, f"{BASE}/healthcheck") as server:
            listed = wrk(f"{BASE}/v1/workspaces/{first_ws}/endpoints?limit=10", connections=1, seconds=seconds)
            shown = wrk(f"{BASE}/v1/workspaces/{first_ws}/endpoints/{first_ep}", connections=1, seconds=seconds)
            rss = rss_kib(server.pid)
    return {
        "endpoints": size,
        "workspaces": workspaces,
        "list_p50_ms": listed["p50_ms"],
        "show_p50_ms": shown["p50_ms"],
        "list_rps": listed["rps"],
        "show_rps": shown["rps"],
        "rss_kib": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 10_000, 100_000])
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    rows = [measure(size, layout, args.seconds) for layout in (100, 1) for size in args.sizes]
    print(json.dumps(rows))
    print("\n| endpoints | workspaces | ListEndpoints p50 ms | ShowEndpoint p50 ms | RSS MiB | vs 0: list | vs 0: show |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        base = next(r for r in rows if r["workspaces"] == row["workspaces"] and r["endpoints"] == min(args.sizes))
        ratios = f"{row['list_p50_ms'] / base['list_p50_ms']:.2f}x | {row['show_p50_ms'] / base['show_p50_ms']:.2f}x"
        cells = (
            f"{row['endpoints']} | {row['workspaces']} | {row['list_p50_ms']:.3f} | {row['show_p50_ms']:.3f} | {row['rss_kib'] / 1024:.1f}"
        )
        print(f"| {cells} | {ratios} |")
    for layout in (100, 1):
        empty = next(r for r in rows if r["workspaces"] == layout and r["endpoints"] == min(args.sizes))
        full = next(r for r in rows if r["workspaces"] == layout and r["endpoints"] == max(args.sizes))
        if full["endpoints"] > empty["endpoints"]:
            per = (full["rss_kib"] - empty["rss_kib"]) * 1024 / (full["endpoints"] - empty["endpoints"])
            print(f"\nresident memory per endpoint ({layout} workspaces): {per:.0f} bytes")


if __name__ == "__main__":
    main()
