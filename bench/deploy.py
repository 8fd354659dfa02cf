"""Create the seed flow on a running emulator and print the invocation URL (used by the streaming benchmark).

Usage: python bench/deploy.py http://127.0.0.1:PORT   (the server should run with instant lifecycles)
"""

from __future__ import annotations

import json
import sys
import urllib.request

HEADERS = {"X-Auth-Token": "bench", "Content-Type": "application/json"}


def call(method: str, url: str, body: object | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=HEADERS), timeout=30) as reply:
        return json.loads(reply.read())


def main(base: str) -> None:
    ws = call("POST", f"{base}/v1/workspaces", {"name": "bench-ws"})["id"]
    endpoint = {"name": "bench", "type": "inference", "reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 0, "max": 1}}}
    ep = call("POST", f"{base}/v1/workspaces/{ws}/endpoints", endpoint)["id"]
    call("GET", f"{base}/v1/workspaces/{ws}/endpoints/{ep}")  # instant policy: RUNNING on this read
    model = call("POST", f"{base}/v1/workspaces/{ws}/models", {"name": "m", "type": "LLM_MODEL", "version": {"name": "v1"}})["id"]
    instance = call("POST", f"{base}/v1/workspaces/{ws}/services/instances", {"source": {"id": model}, "name": "i", "endpoint_id": ep})[
        "id"
    ]
    assert call("GET", f"{base}/v1/workspaces/{ws}/services/instances/{instance}")["status"] == "RUNNING"
    print(f"{base}/v1/workspaces/{ws}/services/instances/{instance}/invocations")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
