"""--state-file: round trip across restarts, clear errors for unusable files, and no torn file after kill -9."""

from __future__ import annotations

import json
import os
import random
import re
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

from mockfabric.persistence import StateFileError, StateSaver, load_state, write_atomically
from mockfabric.service.store import Store

HEADERS = {"X-Auth-Token": "persisted", "X-Project-Id": "persist-project"}


@contextmanager
def serve(state_file: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--quiet", "--state-file", str(state_file)],
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
        (b"{not json", "is not valid JSON"),
        (b'{"format": 7, "tenants": {}}', "state format 7 is not the format"),
        (b"[1, 2]", "holds a JSON list, not a mockfabric state"),
        (b'{"format": 1, "tenants": {"t": {"workspaces": {"w": {}}}}}', "not a mockfabric state (KeyError"),
        (b'{"format": 1, "seq": Infinity, "tenants": {}}', "is not valid JSON (Infinity is not valid JSON"),
        (b'{"format": 1, "seq": 1e999, "tenants": {}}', "is not valid JSON (number 1e999 is out of range"),
        (b'{"format": 1, "seq": "many", "tenants": {}}', "not a mockfabric state (ValueError"),
        (b'{"format": 1, "tenants": {"t": "\xff\xfe"}}', "is not UTF-8 text (byte 32)"),
        (bytes(range(256)), "is not UTF-8 text (byte 128)"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (rb'{"format": 1, "tenants": {"t\ud800": {"workspaces": {}}}}', r"the text at tenants.'t\ud800' is not valid Unicode"),
    ],
)
def test_unusable_state_files_stop_the_start(tmp_path: Path, content: bytes, needle: str) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--state-file", str(state)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and needle in result.stderr and str(state) in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr  # one line, no traceback
    assert state.read_bytes() == content  # left as it was for the user to inspect
    with pytest.raises(StateFileError, match=re.escape(needle)):
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
    write_atomically(target, b'{"format": 1, "tenants": {}}')
    write_atomically(target, b'{"format": 1, "tenants": {"x": {"workspaces": {}}}}')
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


@pytest.mark.thorough  # ~8 s of crashes at random moments
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


def one_line_refusal(*args: str) -> str:
    """Run `mockfabric serve` expecting it to refuse to start; the refusal's single stderr line."""
    result = subprocess.run([sys.executable, "-m", "mockfabric", "serve", "--port", "0", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "serving on" not in result.stdout, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_state_file_in_a_missing_folder_stops_the_start(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "s.json"
    assert "does not exist or is not a folder" in one_line_refusal("--state-file", str(missing))
    (tmp_path / "a-file").write_text("")
    assert "is not a folder" in one_line_refusal("--state-file", str(tmp_path / "a-file" / "s.json"))


def test_a_symlinked_state_file_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target, link = tmp_path / "real" / "state.json", tmp_path / "state.json"
    link.symlink_to(target)
    store = Store()
    saver = StateSaver(link, store)
    store.tenant("linked")
    saver.close()
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert "linked" in json.loads(target.read_text())["tenants"]
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["state.json"]


def block(path: Path) -> None:
    """Make saving to `path` fail: a non-empty folder where the file must go (works as root, unlike chmod)."""
    path.unlink(missing_ok=True)
    path.mkdir()
    (path / "blocker").write_text("")


def unblock(path: Path) -> None:
    (path / "blocker").unlink()
    path.rmdir()


def test_a_failing_save_is_retried_reported_logged_once_and_recovers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state, store = tmp_path / "s.json", Store()
    saver = StateSaver(state, store)
    try:
        block(state)
        store.tenant("kept-through-failures")
        for _ in range(3):
            with pytest.raises(StateFileError, match="cannot save it"):
                saver.save_now()
        status = saver.status()
        assert status.state == "failing" and status.failures >= 3 and status.last_error
        assert len([r for r in caplog.records if "saving failed" in r.getMessage()]) == 1  # once per streak
        saves = status.saves
        unblock(state)
        assert saver.wait_for_save(saves, timeout=15), "the saver stopped retrying"
        assert saver.status().state == "ok" and saver.status().failures == 0
        assert "kept-through-failures" in json.loads(state.read_text())["tenants"]
        block(state)  # a second streak is logged again
        saver.changed()
        with pytest.raises(StateFileError):
            saver.save_now()
        assert len([r for r in caplog.records if "saving failed" in r.getMessage()]) == 2
        unblock(state)
    finally:
        saver.close()


def test_serve_reports_failing_saves_as_degraded_and_a_failed_final_save_exits_non_zero(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with serve(state) as (process, url):
        assert requests.post(f"{url}/v1/workspaces", json={"name": "before"}, headers=HEADERS, timeout=10).status_code == 200
        health = requests.get(f"{url}/_mockfabric/health", timeout=10).json()
        assert health["status"] == "ready" and health["persistence"]["path"] == str(state)
        block(state)
        assert requests.post(f"{url}/v1/workspaces", json={"name": "during"}, headers=HEADERS, timeout=10).status_code == 200
        deadline = time.monotonic() + 10
        while (health := requests.get(f"{url}/_mockfabric/health", timeout=10).json())["status"] != "degraded":
            assert time.monotonic() < deadline, health
        assert health["persistence"]["state"] == "failing" and health["persistence"]["last_error"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 1
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert "cannot save it" in stderr and "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()  # the streak logged once while serving, then the one-line refusal at exit
    assert len(lines) == 2 and "saving failed" in lines[0] and lines[1].startswith("mockfabric: ") and "are lost" in lines[1], lines


@pytest.mark.thorough  # ~25 s: the benchmark's ten crashes
def test_kill_9_loses_no_acknowledged_write_older_than_the_bound_at_10000_workspaces(tmp_path: Path) -> None:
    """The documented bound, measured by the benchmark itself over ten crashes at random moments."""
    report = tmp_path / "durability.json"
    script = Path(__file__).resolve().parents[2] / "bench" / "durability.py"
    done = subprocess.run(
        [sys.executable, str(script), "--rounds", "10", "--workspaces", "10000", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.exists(), done.stderr
    result = json.loads(report.read_text())
    assert len(result["rounds"]) == 10 and all(r["workspaces_at_start"] == 10_000 for r in result["rounds"])
    assert all(r["acknowledged"] > 100 for r in result["rounds"]), result  # the writers really wrote during each round
    assert result["held"] and result["worst_ms"] <= 500, done.stdout
    assert done.returncode == 0


def test_a_second_server_on_the_same_state_file_refuses_to_start_until_the_first_stops(tmp_path: Path) -> None:
    """Two servers on one file both started and overwrote each other's saves (5 of 10 acknowledged writes lost)."""
    state, link = tmp_path / "state.json", tmp_path / "also-state.json"
    link.symlink_to(state)
    with serve(state) as (first, url):
        assert requests.post(f"{url}/v1/workspaces", json={"name": "first-ws"}, headers=HEADERS, timeout=10).status_code == 200
        for path in (state, link):  # the same file, by its own name or through a symlink
            result = subprocess.run(
                [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--state-file", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 2 and "serving on" not in result.stdout, (result.stdout, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
            assert str(path) in lines[0] and "in use by another mockfabric server" in lines[0], lines
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0
    with serve(link) as (_, url):  # the lock went with the first server: the file is free again, its state intact
        listed = requests.get(f"{url}/v1/workspaces", headers=HEADERS, timeout=10).json()
        assert [w["name"] for w in listed["workspaces"]] == ["first-ws"]


def test_two_handles_in_one_process_cannot_share_a_state_file(tmp_path: Path) -> None:
    from mockfabric import MockFabric

    state = tmp_path / "state.json"
    with MockFabric(state_file=str(state)), pytest.raises(StateFileError, match="in use by another mockfabric server"):
        MockFabric(state_file=str(state)).start()
    with MockFabric(state_file=str(state)) as again:  # stopping the first let the lock go
        assert again.health()["persistence"]["path"] == str(state)
