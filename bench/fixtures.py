"""What answer fixtures add to an invocation: the same non-streamed invocation in-process (Flask's test client, one
core), with no fixtures and with N fixtures loaded that do not match (the worst case: every one is looked at), in
alternating rounds; best of each round's mean.
Usage: taskset -c 0 python bench/fixtures.py [--fixtures 1000] [--rounds 5] [--calls 500] [--kind equals|contains|regex]"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from mockfabric import create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Settings

HEADERS = {"X-Auth-Token": "bench-fixtures"}
BODY = {"messages": [{"role": "user", "content": "hello there"}], "stream": False}


def deployed(fixtures: int, kind: str = "equals") -> tuple[Any, str]:
    clock = ManualClock()
    app = create_app(Settings(seed=1, lifecycle=Settings.of(lifecycle="instant").lifecycle), clock=clock)
    client = app.test_client()
    ws = client.post("/v1/workspaces", json={"name": "bench-ws"}, headers=HEADERS).get_json()["id"]
    ep = client.post(f"/v1/workspaces/{ws}/endpoints", json={"name": "ep", "type": "inference"}, headers=HEADERS).get_json()["id"]
    model_body = {
        "name": "m1",
        "type": "LLM_MODEL",
        "version": {"name": "v1", "config": {"llm_model_config": {"base_model_type": "", "model_path": ""}}},
    }
    model = client.post(f"/v1/workspaces/{ws}/models", json=model_body, headers=HEADERS).get_json()["id"]
    instance = client.post(
        f"/v1/workspaces/{ws}/services/instances", json={"source": {"id": model}, "name": "i1", "endpoint_id": ep}, headers=HEADERS
    ).get_json()["id"]
    if fixtures:
        specs = [{"match": {"user": {kind: f"never-{i}"}}, "answer": {"content": "x"}} for i in range(fixtures)]
        assert client.post("/_mockfabric/fixtures", json={"fixtures": specs}).status_code == 200
    return client, f"/v1/workspaces/{ws}/services/instances/{instance}/invocations"


def mean_seconds(client: Any, url: str, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        reply = client.post(url, json=BODY, headers=HEADERS)
        assert reply.status_code == 200
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--kind", choices=("equals", "contains", "regex"), default="equals", help="how the fixtures match user")
    args = parser.parse_args()
    plain, loaded = deployed(0), deployed(args.fixtures, args.kind)
    times: dict[str, list[float]] = {"none": [], "loaded": []}
    for _ in range(args.rounds):
        times["none"].append(mean_seconds(*plain, args.calls))
        times["loaded"].append(mean_seconds(*loaded, args.calls))
    best = {name: min(values) for name, values in times.items()}
    print(
        json.dumps(
            {
                "fixtures": args.fixtures,
                "kind": args.kind,
                "invocation_us_without": round(best["none"] * 1e6, 1),
                "invocation_us_with": round(best["loaded"] * 1e6, 1),
                "ratio": round(best["loaded"] / best["none"], 3),
                "median_ratio": round(statistics.median(times["loaded"]) / statistics.median(times["none"]), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
