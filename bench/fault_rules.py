"""The cost of a request under many fault rules that have a path but no operation or tenant (issue 28, item 5).

Such rules are candidates for every request. Two apps in this process, one without rules and one with RULES of them
(none matching), answer the same GET /v1/workspaces; the best of ROUNDS interleaved rounds of CALLS requests each.

Usage: taskset -c 0 python bench/fault_rules.py [--rules 10000] [--rounds 7] [--calls 200]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from mockfabric import create_app
from mockfabric.config import Settings

HEADERS = {"X-Auth-Token": "t", "X-Project-Id": "bench"}


def cost(app: Any, calls: int) -> float:
    client = app.test_client()
    started = time.perf_counter()
    for _ in range(calls):
        assert client.get("/v1/workspaces", headers=HEADERS).status_code == 200
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    bare, ruled = create_app(Settings(seed=1)), create_app(Settings(seed=1))
    started = time.perf_counter()
    for index in range(args.rules):
        ruled.extensions["mockfabric"].controls.add_fault(path=f"/nothing/{index}/x+", status=500)
    added = time.perf_counter() - started
    cost(bare, args.calls), cost(ruled, args.calls)
    rounds = [(cost(bare, args.calls), cost(ruled, args.calls)) for _ in range(args.rounds)]
    none, many = (min(r[i] for r in rounds) / args.calls * 1e6 for i in (0, 1))
    print(f"rules={args.rules} added_s={added:.2f} none_us={none:.0f} with_rules_us={many:.0f} ratio={many / none:.2f}")


if __name__ == "__main__":
    main()
