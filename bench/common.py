"""Shared benchmark plumbing: pinned server processes, wrk runs parsed into numbers, resident memory."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVER_CORE, LOAD_CORE = "0", "1"
PY = os.environ.get("PYTHON", sys.executable)
ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"X-Auth-Token": "bench", "X-Project-Id": "bench"}


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is missing: sudo apt-get install -y wrk (bench/run_all.sh does it)")
    return path


def wait_http(url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers; fail at once if `process` (the server) exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with code {process.returncode}: {process.args}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def pinned(
    command: list[str], health_url: str, env: dict[str, str] | None = None, cwd: Path = ROOT, core: str = SERVER_CORE
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process on `core` (SERVER_CORE unless told), ready when this yields, terminated after."""
    process = subprocess.Popen(
        ["taskset", "-c", core, *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    try:
        wait_http(health_url, process=process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wrk(
    url: str,
    *,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    connections: int = 16,
    seconds: int = 6,
    lua: str | None = None,
) -> dict[str, float]:
    """Run wrk on LOAD_CORE; requests/s and latency p50/p99 in ms (plus non-2xx count)."""
    script = lua
    if script is None and (method != "GET" or body):
        script = f'wrk.method = "{method}"\nwrk.body = {json.dumps(body or "")}\n'
    args = ["taskset", "-c", LOAD_CORE, require_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in {**HEADERS, "Content-Type": "application/json", **(headers or {})}.items():
        args += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script or "")
    try:
        out = subprocess.run([*args, "-s", handle.name, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(handle.name)
    return {
        "rps": _number(r"Requests/sec:\s+([\d.]+)", out),
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "non_2xx": _number(r"Non-2xx or 3xx responses:\s+(\d+)", out, default=0.0),
    }


def _number(pattern: str, text: str, default: float | None = None) -> float:
    match = re.search(pattern, text)
    if match is None:
        if default is not None:
            return default
        raise RuntimeError(f"wrk output without {pattern!r}:\n{text}")
    return float(match.group(1))


def _latency(text: str, label: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if match is None:
        raise RuntimeError(f"wrk output without the {label} latency:\n{text}")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def call(base: str, method: str, path: str, body: object | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers={**HEADERS, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        raw = reply.read()
    return json.loads(raw) if raw else {}
