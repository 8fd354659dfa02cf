"""The README's curl walk-through and its Python example run as written."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def block_after(marker: str, language: str) -> str:
    tail = README.split(marker, 1)[1]
    match = re.search(rf"```{language}\n(.*?)```", tail, re.S)
    assert match, marker
    return match.group(1)


@contextlib.contextmanager
def walkthrough_server(lifecycle: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`mockfabric serve --port 0` with MOCKFABRIC_LIFECYCLE=`lifecycle`, and the README's walkthrough saved as a
    script: (base URL, script); the server is stopped, and must exit 0, when the block ends."""
    env = {**os.environ, "MOCKFABRIC_LIFECYCLE": lifecycle}
    server = subprocess.Popen([sys.executable, "-m", "mockfabric", "serve", "--port", "0"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("serving on ", 1)[1].split()[0]
        script = tmp_path / "walkthrough.sh"
        script.write_text("set -euo pipefail\n" + block_after("<!-- walkthrough", "bash"))
        yield url, script
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0
        server.communicate(timeout=5)


@pytest.mark.slow
def test_curl_walkthrough_runs_against_mockfabric_serve(tmp_path: Path) -> None:
    with walkthrough_server("endpoint=instant,service_instance=instant", tmp_path) as (url, script):
        for _ in range(2):  # twice on one server: the second run must not meet the first one's names (issue 29)
            result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120, env={**os.environ, "MF": url})
            assert result.returncode == 0, result.stderr
            assert re.search(r"instance [0-9a-f-]{36} is RUNNING", result.stdout)
            assert '"object":"chat.completion.chunk"' in result.stdout and result.stdout.rstrip().endswith("data: [DONE]")  # step 5


def test_python_example_runs() -> None:
    code = block_after("## Using it from tests", "python")
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    test = namespace["test_my_client_waits_for_the_deployment"]
    assert callable(test)
    test()


def test_openai_example_runs() -> None:
    from mockfabric import MockFabric

    from .flow import deploy

    code = block_after("<!-- openai", "python")
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    ask = namespace["ask"]
    assert callable(ask)
    with MockFabric(completion_mode="echo") as fabric:
        deployed = deploy(fabric)
        deployed.session.close()
        credentials = {"token": fabric.headers["X-Auth-Token"], "project_id": fabric.tenant}
        whole, streamed = ask(fabric.base_url, deployed.workspace, deployed.instance, "echo me back", **credentials)
    assert whole == streamed == "echo me back"


def test_fixture_file_and_example_run(tmp_path: Path) -> None:
    """The fixtures file checks clean, and the example beside it passes under pytest in an empty folder, as printed."""
    path = tmp_path / "answers.yaml"
    path.write_text(block_after("<!-- fixtures-file", "yaml"), encoding="utf-8")
    checked = subprocess.run(
        [sys.executable, "-m", "mockfabric", "fixtures", "check", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0 and "5 fixture(s) fine, 0 problem(s)" in checked.stdout, checked.stderr
    (tmp_path / "test_answers.py").write_text(block_after("<!-- fixtures-example", "python"), encoding="utf-8")
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_answers.py"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert ran.returncode == 0 and "1 passed" in ran.stdout, ran.stdout[-3000:] + ran.stderr[-1000:]


@pytest.mark.slow
def test_the_plain_schemathesis_recipe_passes_as_written(tmp_path: Path) -> None:
    """The README's schemathesis block, run by bash in an empty folder: schemathesis's own CLI finds nothing."""
    import socket

    pytest.importorskip("schemathesis")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "recipe.sh"
    script.write_text("set -euo pipefail\n" + block_after("<!-- schemathesis-recipe", "bash"), encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)  # mockfabric and schemathesis of this environment, as installed
    env = {**os.environ, "PORT": str(port), "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert summary and summary.group(1) == summary.group(2) and int(summary.group(1)) > 1000, result.stdout[-1500:]


@pytest.mark.slow
def test_the_curl_walkthrough_gives_up_on_a_wait_with_a_clear_message(tmp_path: Path) -> None:
    """An endpoint that never becomes RUNNING (a manual lifecycle) ends the walkthrough after WAIT seconds, saying so."""
    with walkthrough_server("manual", tmp_path) as (url, script):
        env = {**os.environ, "MF": url, "WAIT": "2"}
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1 and "is not RUNNING after 2 s" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
