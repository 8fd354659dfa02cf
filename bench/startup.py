"""Start-up: `MockFabric()` context manager to the first 200 (median of 20 in one process, the first one included),
`mockfabric serve` (a new process) to the first 200 against the hello-world app on the same server started the same
way (`ceiling_server.py`; alternating, median of 5 each), and what the installed pytest plugin adds to every pytest
run (an empty test file, default vs `-p no:mockfabric`, alternating, median of 10; and the median of the pairs'
differences) with the plugin's own import time.
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


def plugin_overhead() -> tuple[float, float, float]:
    """Median seconds of `pytest` on an empty test file with the plugin loaded and without it (pairs in alternating
    order), and the median of the pairs' differences (each pair ran back to back, so it varies less)."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "test_empty.py").write_text("def test_nothing():\n    pass\n")
        runs: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(10):
            for loaded in (True, False) if round_ % 2 == 0 else (False, True):
                started = time.perf_counter()
                extra = [] if loaded else ["-p", "no:mockfabric"]
                subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra], cwd=folder, capture_output=True, check=True)
                runs[loaded].append(time.perf_counter() - started)
    differences = [with_ - without for with_, without in zip(runs[True], runs[False], strict=True)]
    return statistics.median(runs[True]), statistics.median(runs[False]), statistics.median(differences)


def plugin_import() -> float:
    """Median seconds the plugin's import itself takes in a process that has pytest imported (10 new processes)."""
    probe = (
        "import time, pytest; started = time.perf_counter(); import mockfabric.testing.pytest_plugin; print(time.perf_counter() - started)"
    )
    times = [float(subprocess.run([PY, "-c", probe], capture_output=True, text=True, check=True).stdout) for _ in range(10)]
    return statistics.median(times)


def main() -> None:
    fixture, (serve, hello) = fixture_start(), serve_start()
    with_plugin, without_plugin, paired = plugin_overhead()
    result = {
        "fixture_median_ms": round(statistics.median(fixture) * 1000, 1),
        "fixture_first_ms": round(fixture[0] * 1000, 1),
        "serve_median_ms": round(statistics.median(serve) * 1000, 1),
        "hello_same_server_median_ms": round(statistics.median(hello) * 1000, 1),
        "serve_vs_hello": round(statistics.median(serve) / statistics.median(hello), 2),
        "pytest_with_plugin_ms": round(with_plugin * 1000, 1),
        "pytest_without_plugin_ms": round(without_plugin * 1000, 1),
        "plugin_adds_ms": round((with_plugin - without_plugin) * 1000, 1),
        "plugin_adds_paired_median_ms": round(paired * 1000, 1),
        "plugin_import_ms": round(plugin_import() * 1000, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
