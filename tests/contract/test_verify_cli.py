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

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built and installed (pip --target) where nothing of the source tree is on the path."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(folder), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = folder / "site"
    wheel = next(folder.glob("mockfabric-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return site


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


def run(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run([sys.executable, "-m", "mockfabric", *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


@pytest.mark.slow
def test_verify_from_the_wheel_writes_junit_and_drift_report(installed: Path, emulator: str, tmp_path: Path) -> None:
    where = run(installed, tmp_path, "operations")
    assert where.returncode == 0
    probe = subprocess.run(
        [sys.executable, "-c", "import mockfabric; print(mockfabric.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
    )
    assert probe.stdout.startswith(str(installed))
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
    assert report["conformed"] is True and report["generated_requests"] > 100 and len(report["operations"]) == 27
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("name") == "mockfabric-verify" and suite.get("failures") == "0" and len(suite.findall("testcase")) == 27

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
