"""`mockfabric verify` and `mockfabric diff` as a CI job runs them: from an installed wheel, outside the repository."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

# Every test here runs an installed wheel in a fresh virtualenv (~65 s in all, and the package index): .ci/run runs them
pytestmark = pytest.mark.thorough

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(folder), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(folder.glob("mockfabric-*.whl"))


def fresh_venv(folder: Path, requirement: str) -> Path:
    """A new virtualenv with `requirement` installed by pip as a user would (dependencies from the index); its bin/."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True, timeout=120)
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement]
    done = subprocess.run(pip, capture_output=True, text=True, timeout=900, env=user_env())
    assert done.returncode == 0, done.stderr[-2000:]
    return folder / "bin"


def user_env() -> dict[str, str]:
    """The environment without anything that would lend the test environment's packages to the venv."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


@pytest.fixture(scope="module")
def plain(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install mockfabric`: no extra."""
    return fresh_venv(tmp_path_factory.mktemp("plain") / "venv", str(wheel))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install 'mockfabric[verify]'`."""
    return fresh_venv(tmp_path_factory.mktemp("verify") / "venv", f"{wheel}[verify]")


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--lifecycle", "endpoint=instant,service_instance=instant"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    yield server.stdout.readline().split("serving on ", 1)[1].split()[0]
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=15) == 0
    server.communicate(timeout=5)


def run(venv_bin: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `mockfabric` command of a venv, run as a user would: from its own bin/, in a folder of its own."""
    return subprocess.run([str(venv_bin / "mockfabric"), *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=user_env())


@pytest.mark.slow
def test_verify_from_the_wheel_writes_junit_and_drift_report(installed: Path, emulator: str, tmp_path: Path) -> None:
    where = run(installed, tmp_path, "operations")
    assert where.returncode == 0
    probe = subprocess.run(
        [str(installed / "python"), "-c", "import mockfabric; print(mockfabric.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=user_env(),
    )
    assert probe.stdout.startswith(str(installed.parent)), probe.stdout + probe.stderr
    result = run(
        installed,
        tmp_path,
        "verify",
        "--base-url",
        emulator,
        "--token",
        "ci",
        "--allow-billable",
        "--max-examples",
        "2",
        "--seed",
        "5",
        "--junit-xml",
        "junit.xml",
        "--report",
        "drift.json",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "CreateWorkspace" in result.stdout and "conforms" in result.stdout  # progress lines and the summary table
    report = json.loads((tmp_path / "drift.json").read_text())
    assert report["conformed"] is True and report["generated_requests"] > 100 and len(report["operations"]) == 58  # 57 and the sequences
    assert "object at 0x" not in (tmp_path / "drift.json").read_text() + (tmp_path / "junit.xml").read_text()
    operations = report["operations"]
    assert operations["ListWorkspaces"]["phases"]["positive"] > 0 and operations["CreateWorkspace"]["phases"]["stateful"] > 0
    head = next(line for line in result.stdout.splitlines() if line.startswith("operation"))
    assert head.split()[:5] == ["operation", "requests", "positive", "negative", "stateful"]
    assert not (tmp_path / ".hypothesis").exists()  # hypothesis's caches stay out of the working directory
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("name") == "mockfabric-verify" and suite.get("failures") == "0" and len(suite.findall("testcase")) == 59
    reached = next(case for case in suite.findall("testcase") if case.get("name") == "the run reached the service")
    assert reached.find("error") is None  # the 58 operations and the verdict that the run reached the service

    same = run(installed, tmp_path, "diff", "drift.json", "drift.json")
    assert same.returncode == 0 and "agree" in same.stdout
    drifted = json.loads((tmp_path / "drift.json").read_text())
    drifted["operations"]["ListWorkspaces"]["findings"].append(
        {"check": "response_schema_conformance", "title": "Response violates schema"}
    )
    drifted["operations"]["ListSpecs"]["statuses"]["500"] = 1
    (tmp_path / "real.json").write_text(json.dumps(drifted))
    differs = run(installed, tmp_path, "diff", "drift.json", "real.json")
    assert differs.returncode == 1
    assert "ListWorkspaces: second only: response_schema_conformance: Response violates schema" in differs.stdout
    assert "ListSpecs: statuses" in differs.stdout


def test_verify_fails_with_findings_and_checks_its_arguments(installed: Path, emulator: str, tmp_path: Path) -> None:
    missing = run(installed, tmp_path, "verify", "--base-url", emulator)
    assert missing.returncode == 2 and "--token" in missing.stderr
    half = run(installed, tmp_path, "verify", "--base-url", emulator, "--ak", "AK")
    assert half.returncode == 2 and "--ak and --sk" in half.stderr
    from mockfabric import MockFabric

    handle = MockFabric.connect(emulator, tenant="mfv-broken")
    handle.fail("ListFeatures", status=500, times=None)
    try:
        broken = run(
            installed,
            tmp_path,
            "verify",
            "--base-url",
            emulator,
            "--token",
            "ci",
            "--project-id",
            "mfv-broken",
            "--read-only",
            "--max-examples",
            "2",
            "--report",
            "broken.json",
        )
    finally:
        handle.clear_faults()
    assert broken.returncode == 1 and "does NOT conform" in broken.stdout
    findings = json.loads((tmp_path / "broken.json").read_text())["operations"]["ListFeatures"]["findings"]
    assert {f["check"] for f in findings} >= {"not_a_server_error"}
    assert findings[0]["request"]["method"] == "GET" and findings[0]["request"]["path"] == "/v1/features"


@pytest.mark.slow
def test_a_plain_install_serves_diffs_and_refuses_verify_in_one_line(plain: Path, tmp_path: Path) -> None:
    refused = run(plain, tmp_path, "verify", "--base-url", "http://127.0.0.1:1", "--token", "t")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "pip install 'mockfabric[verify]'" in refused.stderr and "hypothesis" in refused.stderr
    report = {"format": "mockfabric-drift-report/1", "operations": {}}
    (tmp_path / "a.json").write_text(json.dumps(report))
    same = run(plain, tmp_path, "diff", "a.json", "a.json")
    assert same.returncode == 0 and "agree" in same.stdout
    version = run(plain, tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("mockfabric ")
    proxy = run(plain, tmp_path, "proxy", "--upstream", "http://127.0.0.1:1")
    assert proxy.returncode == 2 and proxy.stderr.count("\n") == 1 and "pip install 'mockfabric[proxy]'" in proxy.stderr
    (tmp_path / "answers.yaml").write_text("fixtures:\n  - match: {user: {contains: weather}}\n    answer: {content: Sunny.}\n")
    server = subprocess.Popen(  # fixtures matched by `contains` need pyahocorasick: installed from the index
        [str(plain / "mockfabric"), "serve", "--port", "0", "--fixtures", "answers.yaml"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=user_env(),
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert "seed " in banner  # the seed it picked, so the run can be repeated
        url = banner.split("serving on ", 1)[1].split()[0]
        answer = subprocess.run(
            [str(plain / "python"), "-c", f"import urllib.request; print(urllib.request.urlopen('{url}/healthcheck').read().decode())"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert answer.stdout.strip() == "OK"
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0
        server.communicate(timeout=5)


@pytest.mark.slow
def test_the_fixture_works_in_another_project_from_the_readme_install_line(plain: Path, tmp_path: Path) -> None:
    """`pip install mockfabric pytest requests`, then the README's plugin example as a project's own test file."""
    extra = subprocess.run(
        [str(plain / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "pytest", "requests"],
        capture_output=True,
        text=True,
        timeout=600,
        env=user_env(),
    )
    assert extra.returncode == 0, extra.stderr[-2000:]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (tmp_path / "test_client.py").write_text(readme.split("<!-- plugin-example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0])
    result = subprocess.run(
        [str(plain / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=user_env(),
    )
    assert result.returncode == 0 and "5 passed" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.mark.slow
def test_verify_with_rejected_credentials_fails_instead_of_passing(installed: Path, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"credentials": [{"token": "the-right-token", "project_id": "p1"}]}))
    server = subprocess.Popen(
        [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--auth", "strict", "--credentials", str(credentials)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("serving on ", 1)[1].split()[0]
        result = run(installed, tmp_path, "verify", "--base-url", url, "--token", "a-wrong-token", "--max-examples", "2", "--no-stateful")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
        server.communicate(timeout=5)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "credentials rejected" in result.stderr and "conforms" not in result.stdout and "Traceback" not in result.stderr


def test_verify_against_a_closed_port_is_one_cannot_reach_line(installed: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        result = run(installed, tmp_path, "verify", "--base-url", f"http://127.0.0.1:{port}", "--token", "t")
    assert result.returncode == 2 and result.stderr.startswith(f"mockfabric: cannot reach http://127.0.0.1:{port}")
    assert result.stderr.count("\n") == 1 and "not_a_server_error" not in result.stdout


@pytest.mark.slow
def test_the_proxy_extra_installs_what_the_proxy_needs(wheel: Path, emulator: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`pip install 'mockfabric[proxy]'` in a fresh virtualenv: the proxy forwards, checks and writes its report."""
    venv = fresh_venv(tmp_path_factory.mktemp("proxy") / "venv", f"{wheel}[proxy]")
    folder = tmp_path_factory.mktemp("proxy-run")
    proxy = subprocess.Popen(
        [str(venv / "mockfabric"), "proxy", "--upstream", emulator, "--port", "0", "--report", "report.json", "--record", "recorded"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder,
        env=user_env(),
    )
    assert proxy.stdout is not None
    url = proxy.stdout.readline().split()[3]
    listed = subprocess.run(
        [
            str(venv / "python"),
            "-c",
            f"import httpx2; print(httpx2.get('{url}/v1/workspaces', headers={{'X-Auth-Token': 't'}}).status_code)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=user_env(),
    )
    assert listed.stdout.strip() == "200", listed.stderr
    proxy.send_signal(signal.SIGTERM)
    out, err = proxy.communicate(timeout=30)
    assert proxy.returncode == 0, out + err
    report = json.loads((folder / "report.json").read_text())
    assert report["conformed"] is True and report["operations"]["ListWorkspaces"]["requests"] == 1
    assert [path.name for path in (folder / "recorded").iterdir()] == ["000001-ListWorkspaces.json"]
