"""What `--metrics` costs an invocation, and what a scrape costs (issue 32, item 2).

Two apps in this process, one without metrics and one with them, answer the same invocations of the catalog's preset
Qwen service (a stream of --tokens tokens read to its end, and a plain answer); the best of ROUNDS interleaved rounds
of CALLS invocations each, per kind. Then the app with metrics holds --series tenant series and one GET /metrics is
timed (the best of ROUNDS), beside prometheus_client's own writer (`generate_latest`) given the same figures as its
metric families: the measure that chose to write the text format by hand.

Usage: taskset -c 0 python bench/metrics.py [--rounds 7] [--calls 200] [--tokens 64] [--series 256]
"""

from __future__ import annotations

import argparse
import time
from itertools import accumulate
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from mockfabric import create_app
from mockfabric.config import Settings
from mockfabric.web.prometheus import HISTOGRAMS, SCALARS

PRESET = "6f1d2c3b-4a59-4e87-b1c0-9d8e7f6a5b01"  # mockfabric/data/catalog.yaml: the QWEN_2_72B preset service


def headers(tenant: str) -> dict[str, str]:
    return {"X-Auth-Token": "bench", "X-Project-Id": tenant}


def invocation_url(client: Any, tenant: str) -> str:
    created = client.post("/v1/workspaces", json={"name": "bench-metrics"}, headers=headers(tenant))
    assert created.status_code == 200, created.get_data(as_text=True)
    return f"/v1/workspaces/{created.json['id']}/services/instances/{PRESET}/invocations"


def cost(client: Any, url: str, body: dict[str, Any], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        answer = client.post(url, json=body, headers=headers("bench"))
        assert answer.status_code == 200 and answer.get_data()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--series", type=int, default=256)
    args = parser.parse_args()
    apps = [create_app(Settings(seed=1, quiet=True, metrics=on)) for on in (False, True)]
    clients = [app.test_client() for app in apps]
    urls = [invocation_url(client, "bench") for client in clients]
    ask = {"messages": [{"role": "user", "content": "tell me"}], "max_tokens": args.tokens}
    for kind, body in (("stream", {**ask, "stream": True}), ("plain", {**ask, "stream": False})):
        for client, url in zip(clients, urls, strict=True):
            cost(client, url, body, args.calls // 4)  # warm up
        rounds = [[cost(client, url, body, args.calls) for client, url in zip(clients, urls, strict=True)] for _ in range(args.rounds)]
        off, on = (min(r[i] for r in rounds) / args.calls * 1e6 for i in (0, 1))
        print(f"{kind}: tokens={args.tokens} off_us={off:.0f} on_us={on:.0f} ratio={on / off:.3f}")
    measured = clients[1]
    for number in range(args.series):
        tenant = f"bench{number:04d}"
        assert measured.post(invocation_url(measured, tenant), json=ask, headers=headers(tenant)).status_code == 200
    scrapes = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        scraped = measured.get("/metrics")
        scrapes.append(time.perf_counter() - started)
        assert scraped.status_code == 200
    size = len(scraped.get_data())
    print(f"scrape: series={args.series} bytes={size} best_ms={min(scrapes) * 1000:.1f}")
    telemetry = apps[1].extensions["mockfabric"].service.telemetry
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AsLibraryFamilies(telemetry))
    written = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        generate_latest(registry)
        written.append(time.perf_counter() - started)
    print(f"prometheus_client generate_latest, same figures: best_ms={min(written) * 1000:.1f} ratio={min(written) / min(scrapes):.1f}")


class AsLibraryFamilies:
    """The telemetry's figures as prometheus_client's metric families (the histograms, which are most of the text)."""

    def __init__(self, telemetry: Any) -> None:
        self.telemetry = telemetry

    def collect(self) -> list[Any]:
        snapshot = self.telemetry.snapshot(0.0)
        families = []
        for name, text, histogram_of in HISTOGRAMS:
            family = HistogramMetricFamily(name, text, labels=["tenant", "model_name"])
            for series, figures in snapshot.items():
                histogram = histogram_of(figures)
                bounds = [*(repr(bound) for bound in histogram.bounds), "+Inf"]
                family.add_metric(list(series), list(zip(bounds, accumulate(histogram.counts), strict=True)), histogram.total)
            families.append(family)
        for name, kind, text, value_of in SCALARS:
            scalar = (GaugeMetricFamily if kind == "gauge" else CounterMetricFamily)(name, text, labels=["tenant", "model_name"])
            for series, figures in snapshot.items():
                scalar.add_metric(list(series), value_of(figures))
            families.append(scalar)
        return families


if __name__ == "__main__":
    main()
