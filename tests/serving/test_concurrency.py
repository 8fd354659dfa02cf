"""16 threads x 300 mixed calls on shared workspaces over a real socket: no 5xx, unique names, consistent totals."""

from __future__ import annotations

import logging
import random
import threading

import pytest
import requests

from mockfabric import MockFabric

THREADS, CALLS = 16, 300


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def worker(url: str, headers: dict[str, str], seed: int, statuses: list[int], start: threading.Barrier) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    session.headers.update(headers)
    start.wait()
    for _ in range(CALLS):
        listed = session.get(f"{url}/v1/workspaces", params={"limit": 100}).json()["workspaces"]
        choice = rng.random()
        if choice < 0.35 or not listed:
            reply = session.post(f"{url}/v1/workspaces", json={"name": f"ws-{rng.randrange(40):02d}"})
        elif choice < 0.55:
            ws = rng.choice(listed)["id"]
            reply = session.put(f"{url}/v1/workspaces/{ws}", json={"name": f"ws-{rng.randrange(40):02d}", "description": str(seed)})
        elif choice < 0.70:
            reply = session.delete(f"{url}/v1/workspaces/{rng.choice(listed)['id']}")
        elif choice < 0.90:
            ws = rng.choice(listed)["id"]
            reply = session.post(
                f"{url}/v1/workspaces/{ws}/models", json={"name": f"m-{rng.randrange(5)}", "type": "LLM_MODEL", "version": {"name": "v1"}}
            )
        else:
            ws = rng.choice(listed)["id"]
            reply = session.get(f"{url}/v1/workspaces/{ws}/models")
        statuses.append(reply.status_code)


@pytest.mark.thorough  # ~15 s of mixed load from many threads
def test_mixed_load_keeps_state_consistent() -> None:
    collect = Collect()
    logging.getLogger("mockfabric").addHandler(collect)
    try:
        with MockFabric(validate_responses=True) as fabric:
            statuses: list[int] = []
            start = threading.Barrier(THREADS)
            threads = [
                threading.Thread(target=worker, args=(fabric.base_url, fabric.headers, seed, statuses, start)) for seed in range(THREADS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            assert len(statuses) == THREADS * CALLS
            assert not [s for s in statuses if s >= 500]
            assert {s for s in statuses} <= {200, 400}
            workspaces = requests.get(f"{fabric.base_url}/v1/workspaces", params={"limit": 100}, headers=fabric.headers).json()
            names = [w["name"] for w in workspaces["workspaces"]]
            assert len(names) == len(set(names)) == workspaces["total"]
            for ws in workspaces["workspaces"]:
                models = requests.get(
                    f"{fabric.base_url}/v1/workspaces/{ws['id']}/models", params={"limit": 100}, headers=fabric.headers
                ).json()
                model_names = [m["name"] for m in models["models"]]
                assert len(model_names) == len(set(model_names)) == models["total"]
    finally:
        logging.getLogger("mockfabric").removeHandler(collect)
    assert not [r for r in collect.records if r.levelno >= logging.ERROR]
