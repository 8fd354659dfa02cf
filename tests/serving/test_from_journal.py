"""From traffic to fixtures: `mockfabric fixtures from-journal` writes a served emulator's invocations (read over
HTTP, or from a saved journal) as a fixture file, and that file replays the session exactly under strict mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests
import yaml

from mockfabric import MockFabric

from .flow import Deployed, deploy

QUESTIONS = ["what is 2+2?", "and the weather?", "what is 2+2?"]


def ask(flow: Deployed, text: str, system: str | None = None, stream: bool = False) -> requests.Response:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    return flow.invoke({"messages": messages, "stream": stream})


def answered(reply: requests.Response) -> str:
    text: str = reply.json()["choices"][0]["message"]["content"]
    return text


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockfabric", "fixtures", *args], capture_output=True, text=True, timeout=60)


def test_a_recorded_session_replays_exactly(tmp_path: Path) -> None:
    with MockFabric(seed=7) as fabric:
        flow = deploy(fabric)
        fabric.script_completion(flow.instance, "four")
        fabric.script_completion(flow.instance, "sunny", reasoning_content="it looked outside")
        fabric.script_completion(flow.instance, "still four")
        recorded = [answered(ask(flow, text)) for text in QUESTIONS]
        pirate = answered(ask(flow, "what is 2+2?", system="talk like a pirate"))  # generated: another question
        fabric.fault(operation="InvokeModelService", status=503, times=1)
        assert ask(flow, "refused").status_code == 503
        made = cli(
            "from-journal", "--url", fabric.base_url, "--tenant", fabric.tenant, "--any-instance", "-o", str(tmp_path / "replay.yaml")
        )
        exact_instance = yaml.safe_load(cli("from-journal", "--url", fabric.base_url).stdout)["fixtures"][0]["match"]["instance"]
        assert exact_instance == {"equals": flow.instance}
        saved = tmp_path / "journal.json"
        saved.write_text(json.dumps({"requests": fabric.requests(operation="InvokeModelService")}), encoding="utf-8")
    assert made.returncode == 0, made.stderr
    assert "request" in made.stderr and "skipped, answered 503" in made.stderr
    assert "4 fixture(s) written, 1 invocation(s) skipped" in made.stderr
    fixtures = yaml.safe_load((tmp_path / "replay.yaml").read_text(encoding="utf-8"))["fixtures"]
    assert [f.get("times") for f in fixtures] == [1, None, None, None]  # 2+2 twice: once "four", then "still four" for good
    assert fixtures[1]["answer"] == {"content": "sunny", "reasoning_content": "it looked outside", "finish_reason": "stop"}
    assert cli("check", str(tmp_path / "replay.yaml")).returncode == 0
    from_file = cli("from-journal", "--file", str(saved), "--any-instance")
    assert from_file.returncode == 0 and yaml.safe_load(from_file.stdout)["fixtures"] == fixtures

    with MockFabric(fixtures=str(tmp_path / "replay.yaml"), strict_fixtures=True) as replay:
        flow = deploy(replay)  # another emulator: another instance id
        assert [answered(ask(flow, text)) for text in QUESTIONS] == recorded
        assert answered(ask(flow, "what is 2+2?", system="talk like a pirate")) == pirate
        assert answered(ask(flow, "what is 2+2?", stream=False)) == "still four"  # the last answer stays
        assert ask(flow, "never asked").status_code == 501


def test_an_unreadable_journal_is_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "journal.json"
    garbage.write_text("{not json", encoding="utf-8")
    for args, message in [
        (["--file", str(garbage)], "not JSON"),
        (["--file", str(tmp_path / "missing.json")], "cannot read it"),
        (["--url", "http://127.0.0.1:9"], "cannot connect"),
        (["--url", "ftp://x"], "is not an http(s)://host[:port] URL"),
    ]:
        failed = cli("from-journal", *args)
        assert failed.returncode == 2 and message in failed.stderr and len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    (tmp_path / "list.json").write_text('{"entries": []}', encoding="utf-8")
    assert "expected a GET /_mockfabric/requests answer" in cli("from-journal", "--file", str(tmp_path / "list.json")).stderr
