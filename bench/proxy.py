"""What `mockfabric proxy` adds: the same requests sent to the emulator directly and through the proxy, in
alternating rounds of one run. The emulator and the proxy are each pinned to one core (the emulator to
SERVER_CORE, the proxy to LOAD_CORE; the client shares the proxy's core, so the figures include its contention).

Per request: p50 and p99 of a small GET (ListWorkspaces) over one kept-alive connection. Per streamed chunk: the
time a 2 000-chunk stream (no pacing) takes to read through, divided by its chunks.
Usage: python bench/proxy.py [--rounds 5] [--requests 400]"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from typing import Any

import requests
from common import HEADERS, LOAD_CORE, PY, ROOT, pinned, wait_http

EMULATOR_PORT, PROXY_PORT = 18380, 18381
ANSWER = " ".join(["word"] * 2000)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def small_gets(session: requests.Session, base: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        session.get(f"{base}/v1/workspaces", headers=HEADERS, timeout=30).raise_for_status()
        times.append(time.perf_counter() - start)
    return times


def stream_seconds(session: requests.Session, base: str, path: str) -> tuple[float, int]:
    start = time.perf_counter()
    with session.post(
        base + path, json={"messages": [{"role": "user", "content": "go"}], "stream": True}, headers=HEADERS, stream=True, timeout=60
    ) as reply:
        events = sum(1 for line in reply.iter_lines() if line.startswith(b"data: "))
    return time.perf_counter() - start, events


def deployed(base: str) -> str:
    session = requests.Session()
    session.headers.update(HEADERS)
    ws = session.post(f"{base}/v1/workspaces", json={"name": "bench-proxy"}).json()["id"]
    ep = session.post(f"{base}/v1/workspaces/{ws}/endpoints", json={"name": "ep", "type": "inference"}).json()["id"]
    model = {
        "name": "m1",
        "type": "LLM_MODEL",
        "version": {"name": "v1", "config": {"llm_model_config": {"base_model_type": "", "model_path": ""}}},
    }
    model_id = session.post(f"{base}/v1/workspaces/{ws}/models", json=model).json()["id"]
    instance = session.post(
        f"{base}/v1/workspaces/{ws}/services/instances", json={"source": {"id": model_id}, "name": "i1", "endpoint_id": ep}
    ).json()["id"]
    script = {"tenant": HEADERS["X-Project-Id"], "instance_id": instance, "content": ANSWER, "default": True}
    requests.post(f"{base}/_mockfabric/completions", json=script, timeout=10).raise_for_status()
    return f"/v1/workspaces/{ws}/services/instances/{instance}/invocations"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    emulator = [PY, "-m", "mockfabric", "serve", "--port", str(EMULATOR_PORT), "--lifecycle", "instant", "--seed", "1"]
    direct, proxied = f"http://127.0.0.1:{EMULATOR_PORT}", f"http://127.0.0.1:{PROXY_PORT}"
    with pinned(emulator, f"{direct}/healthcheck"):
        proxy = subprocess.Popen(
            ["taskset", "-c", LOAD_CORE, PY, "-m", "mockfabric", "proxy", "--upstream", direct, "--port", str(PROXY_PORT)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        try:
            wait_http(f"{proxied}/_mockfabric/proxy/report", process=proxy)
            path = deployed(direct)
            figures: dict[str, list[float]] = {"direct": [], "proxied": []}
            streams: dict[str, list[tuple[float, int]]] = {"direct": [], "proxied": []}
            for _ in range(args.rounds):
                for name, base in (("direct", direct), ("proxied", proxied)):
                    session = requests.Session()
                    small_gets(session, base, 20)  # warm the connection and the caches
                    figures[name] += small_gets(session, base, args.requests)
                    streams[name] += [stream_seconds(session, base, path) for _ in range(5)]
        finally:
            proxy.terminate()
            proxy.wait(timeout=30)
    result: dict[str, Any] = {}
    for name in ("direct", "proxied"):
        result[f"{name}_p50_us"] = round(percentile(figures[name], 0.5) * 1e6, 1)
        result[f"{name}_p99_us"] = round(percentile(figures[name], 0.99) * 1e6, 1)
        best, events = min(streams[name])
        result[f"{name}_stream_us_per_chunk"] = round(best / events * 1e6, 2)
        result[f"{name}_stream_median_ms"] = round(statistics.median(s for s, _ in streams[name]) * 1000, 1)
    result["added_p50_us"] = round(result["proxied_p50_us"] - result["direct_p50_us"], 1)
    result["added_p99_us"] = round(result["proxied_p99_us"] - result["direct_p99_us"], 1)
    result["added_us_per_chunk"] = round(result["proxied_stream_us_per_chunk"] - result["direct_stream_us_per_chunk"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
