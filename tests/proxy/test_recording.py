"""Recordings back to answers: what a proxy recorded, turned into fixtures (`mockfabric fixtures from-recording`) and
served (`--fixtures`), answers the same content with the same chunking, and each chunk after its recorded delay."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import yaml

from mockfabric import MockFabric
from mockfabric.testing.streams import parse_sse

from ..serving.flow import deploy
from .running import RunningProxy

ASK = {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "tell me something"}]}


def fragments(reply: requests.Response) -> list[str]:
    stream = parse_sse(reply.text.splitlines(keepends=True))
    return [c["choices"][0]["delta"]["content"] for c in stream.chunks if c.get("choices") and c["choices"][0]["delta"].get("content")]


def test_a_recorded_session_replays_with_its_chunking(tmp_path: Path) -> None:
    folder = tmp_path / "recorded"
    with MockFabric(clock="system", seed=4, stream_chunk_tokens=3, ttft_ms=80, itl_ms=20, lifecycle="instant") as upstream:
        flow = deploy(upstream)
        path = flow.invoke_url.removeprefix(upstream.base_url)
        with RunningProxy(upstream.base_url, record=str(folder)) as proxy:
            streamed = flow.session.post(
                proxy.url + path, json={**ASK, "stream": True, "stream_options": {"include_usage": True}}, timeout=30
            )
            plain = flow.session.post(
                proxy.url + path, json={**ASK, "messages": [{"role": "user", "content": "and plainly?"}], "stream": False}, timeout=30
            )
            assert proxy.findings() == []
    recorded_fragments = fragments(streamed)
    assert len(recorded_fragments) > 3 and any(len(piece.split()) > 1 for piece in recorded_fragments)  # 3 tokens a chunk
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "mockfabric",
            "fixtures",
            "from-recording",
            str(folder),
            "--any-instance",
            "-o",
            str(tmp_path / "replay.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    fixtures = yaml.safe_load((tmp_path / "replay.yaml").read_text(encoding="utf-8"))["fixtures"]
    chunks = fixtures[0]["answer"]["chunks"]
    assert [chunk["text"] for chunk in chunks] == recorded_fragments
    assert chunks[0]["delay_ms"] >= 60 and all(chunk["delay_ms"] >= 10 for chunk in chunks[1:])  # TTFT, then ITL, as recorded
    assert fixtures[0]["answer"]["usage"] == streamed_usage(streamed)
    with MockFabric(fixtures=str(tmp_path / "replay.yaml"), strict_fixtures=True) as replay:  # default chunking: 1 token
        again = deploy(replay)
        replayed = again.session.post(again.invoke_url, json={**ASK, "stream": True, "stream_options": {"include_usage": True}}, timeout=30)
        assert fragments(replayed) == recorded_fragments
        assert parse_sse(replayed.text.splitlines(keepends=True)).usage() == streamed_usage(streamed)
        plain_again = again.session.post(
            again.invoke_url, json={**ASK, "messages": [{"role": "user", "content": "and plainly?"}], "stream": False}, timeout=30
        )
        assert plain_again.json()["choices"][0]["message"] == plain.json()["choices"][0]["message"]


def streamed_usage(reply: requests.Response) -> dict[str, int] | None:
    return parse_sse(reply.text.splitlines(keepends=True)).usage()


def test_a_folder_that_is_not_recordings_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "000001-x.json").write_text(json.dumps({"format": "something else"}), encoding="utf-8")
    for folder, message in [(tmp_path, "not a mockfabric recording"), (tmp_path / "missing", "no such recording folder")]:
        failed = subprocess.run(
            [sys.executable, "-m", "mockfabric", "fixtures", "from-recording", str(folder)], capture_output=True, text=True, timeout=60
        )
        assert failed.returncode == 2 and message in failed.stderr and len(failed.stderr.strip().splitlines()) == 1, failed.stderr


def test_a_stream_passes_chunk_by_chunk_as_it_arrives() -> None:
    with MockFabric(clock="system", itl_ms=150, lifecycle="instant") as upstream:
        flow = deploy(upstream)
        upstream.script_completion(flow.instance, "one two three four five six")
        with RunningProxy(upstream.base_url) as proxy:
            start = time.monotonic()
            arrivals = []
            with flow.session.post(
                proxy.url + flow.invoke_url.removeprefix(upstream.base_url), json={**ASK, "stream": True}, stream=True, timeout=30
            ) as reply:
                for line in reply.iter_lines():
                    if line.startswith(b"data: "):
                        arrivals.append(time.monotonic() - start)
    assert len(arrivals) >= 8 and arrivals[-1] >= 0.7  # 5 gaps of 150 ms between the six words
    assert arrivals[1] < arrivals[-1] - 0.5  # the second event came long before the last: nothing waited for the end


def test_a_client_that_leaves_mid_stream_ends_the_upstream_stream_too() -> None:
    with MockFabric(clock="system", itl_ms=200, lifecycle="instant") as upstream:
        flow = deploy(upstream)
        upstream.script_completion(flow.instance, " ".join(["word"] * 20))  # four seconds of tokens
        with RunningProxy(upstream.base_url) as proxy:
            url = proxy.url + flow.invoke_url.removeprefix(upstream.base_url)
            with flow.session.post(url, json={**ASK, "stream": True}, stream=True, timeout=30) as reply:
                lines = reply.iter_lines()
                assert next(line for line in lines if line.startswith(b"data: "))  # the first event, then gone
            left, outcome = time.monotonic(), None
            while outcome is None and time.monotonic() - left < 3:  # the upstream journals its stream's end
                threading.Event().wait(0.05)
                outcome = flow.fabric.requests(operation="InvokeModelService")[-1]["outcome"]
            assert outcome == "the client left mid-stream" and time.monotonic() - left < 3
            assert proxy.findings() == [] and proxy.report()["operations"]["InvokeModelService"]["requests"] == 1
