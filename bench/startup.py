"""Start-up: `MockFabric()` context manager to the first 200 (median of 20 in one process, the first one included),
and `mockfabric serve` (a new process) to the first 200 (median of 5). Usage: python bench/startup.py"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
import urllib.request

from common import PY, wait_http

PORT = 18760


def fixture_start() -> list[float]:
    from mockfabric import MockFabric

    times = []
    for _ in range(20):
        started = time.perf_counter()
        with MockFabric() as fabric:
            urllib.request.urlopen(f"{fabric.base_url}/healthcheck", timeout=10).read()
            times.append(time.perf_counter() - started)
    return times


def serve_start() -> list[float]:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        process = subprocess.Popen(
            [PY, "-m", "mockfabric", "serve", "--port", str(PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_http(f"http://127.0.0.1:{PORT}/healthcheck")
            times.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait(timeout=15)
    return times


def main() -> None:
    fixture, serve = fixture_start(), serve_start()
    result = {
        "fixture_median_ms": round(statistics.median(fixture) * 1000, 1),
        "fixture_first_ms": round(fixture[0] * 1000, 1),
        "serve_median_ms": round(statistics.median(serve) * 1000, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
