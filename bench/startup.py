"""Start-up: `MockFabric()` context manager to the first 200 (median of 20 in one process, the first one included),
`mockfabric serve` (a new process) to the first 200 against the hello-world app on the same server started the same
way (`ceiling_server.py`; alternating, median of 5 each), and what the installed pytest plugin adds to every pytest
run (an empty test file, default vs `-p no:mockfabric`, alternating, median of 10).
Usage: python bench/startup.py"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

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


def first_200(command: list[str]) -> float:
    """Seconds from starting `command` (a new process) to its first 200 on /healthcheck."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=Path(__file__).parent)
    try:
        wait_http(f"http://127.0.0.1:{PORT}/healthcheck", process=process)
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=15)


def serve_start() -> tuple[list[float], list[float]]:
    """`mockfabric serve` and the hello-world app on the same server, alternating, five times each."""
    serve, hello = [], []
    for _ in range(5):
        serve.append(first_200([PY, "-m", "mockfabric", "serve", "--port", str(PORT)]))
        hello.append(first_200([PY, "ceiling_server.py", str(PORT)]))
    return serve, hello


def plugin_overhead() -> tuple[float, float]:
    """Median seconds of `pytest` on an empty test file with the plugin loaded and without it."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "test_empty.py").write_text("def test_nothing():\n    pass\n")
        runs: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(10):
            for loaded in (True, False):
                started = time.perf_counter()
                extra = [] if loaded else ["-p", "no:mockfabric"]
                subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra], cwd=folder, capture_output=True, check=True)
                runs[loaded].append(time.perf_counter() - started)
    return statistics.median(runs[True]), statistics.median(runs[False])


def main() -> None:
    fixture, (serve, hello) = fixture_start(), serve_start()
    with_plugin, without_plugin = plugin_overhead()
    result = {
        "fixture_median_ms": round(statistics.median(fixture) * 1000, 1),
        "fixture_first_ms": round(fixture[0] * 1000, 1),
        "serve_median_ms": round(statistics.median(serve) * 1000, 1),
        "hello_same_server_median_ms": round(statistics.median(hello) * 1000, 1),
        "serve_vs_hello": round(statistics.median(serve) / statistics.median(hello), 2),
        "pytest_with_plugin_ms": round(with_plugin * 1000, 1),
        "pytest_without_plugin_ms": round(without_plugin * 1000, 1),
        "plugin_adds_ms": round((with_plugin - without_plugin) * 1000, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
