"""--state-file: round trip across restarts, clear errors for unusable files, and no torn file after kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from mockfabric.domain.store import Store
from mockfabric.persistence import StateFileError, StateSaver, load_state, write_atomically

HEADERS = {"X-Auth-Token": "persisted", "X-Project-Id": "persist-project"}


@contextmanager
def serve(state_file: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--state-file", str(state_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "serving on" in line, process.stderr.read() if process.stderr else ""
        yield process, line.split("serving on ", 1)[1].split()[0]
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=15)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with serve(state) as (process, url):
        created = requests.post(f"{url}/v1/workspaces", json={"name": "kept-ws"}, headers=HEADERS, timeout=10).json()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0  # the final save happens on the way out
    saved = json.loads(state.read_text())
    assert saved["format"] == 1 and "persist-project" in saved["tenants"]
    with serve(state) as (_, url):
        listed = requests.get(f"{url}/v1/workspaces", headers=HEADERS, timeout=10).json()
        assert listed["workspaces"][0]["id"] == created["id"]
        duplicate = requests.post(f"{url}/v1/workspaces", json={"name": "kept-ws"}, headers=HEADERS, timeout=10)
        assert duplicate.status_code == 400  # the rules see the loaded state


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "is not valid JSON"),
        ('{"format": 7, "tenants": {}}', "has format 7"),
        ("[1, 2]", "has format 'list'"),
        ('{"format": 1, "tenants": {"t": {"workspaces": {"w": {}}}}}', "does not hold a mockfabric state"),
    ],
)
def test_unusable_state_files_stop_the_start(tmp_path: Path, content: str, needle: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--state-file", str(state)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and needle in result.stderr and str(state) in result.stderr
    assert state.read_text() == content  # left as it was for the user to inspect
    with pytest.raises(StateFileError, match=needle):
        load_state(state, Store())


def test_saver_debounces_and_writes_on_close(tmp_path: Path) -> None:
    state, store = tmp_path / "s.json", Store()
    saver = StateSaver(state, store)
    store.tenant("t")
    saver.changed()
    saver.close()
    assert json.loads(state.read_text())["tenants"] == {"t": {"workspaces": {}}}
    assert not [t for t in threading.enumerate() if t.name == "mockfabric-state-saver"]


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    write_atomically(target, {"format": 1, "tenants": {}})
    write_atomically(target, {"format": 1, "tenants": {"x": {"workspaces": {}}}})
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


@pytest.mark.slow
def test_kill_9_at_any_moment_never_leaves_a_torn_file(tmp_path: Path) -> None:
    """Kill the server with SIGKILL at random moments while clients keep changing state; the file always loads."""
    state = tmp_path / "state.json"
    rng = random.Random(1234)
    for round_ in range(6):
        with serve(state) as (process, url):
            stop = threading.Event()

            def churn(prefix: str = f"r{round_}", stop: threading.Event = stop, url: str = url) -> None:
                session = requests.Session()
                session.headers.update(HEADERS)
                index = 0
                while not stop.is_set():
                    index += 1
                    try:
                        session.post(f"{url}/v1/workspaces", json={"name": f"{prefix}-{index:05d}", "description": "x" * 250}, timeout=5)
                    except requests.RequestException:
                        return

            workers = [threading.Thread(target=churn) for _ in range(3)]
            for worker in workers:
                worker.start()
            time.sleep(rng.uniform(0.3, 1.2))  # the crash moment is random: that is the point of this test
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
            stop.set()
            for worker in workers:
                worker.join(timeout=15)
        if state.exists():  # a kill before the first save leaves no file; any file there must load whole
            assert load_state(state, Store())
    assert state.exists() and json.loads(state.read_text())["tenants"]["persist-project"]["workspaces"]
