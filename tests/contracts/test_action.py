"""The GitHub Action (action.yml, issue 29): a composite action whose steps' commands are run here as a runner would
run them, with its inputs' defaults (and a few overrides) put where the expressions stand. The `uses:` steps
(setup-python, upload-artifact) are GitHub's own; their inputs are checked against what the commands produce."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def steps() -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in ACTION["runs"]["steps"]}


def evaluate(text: str, inputs: dict[str, str], outputs: dict[str, str] | None = None) -> str:
    """The expressions this action uses: inputs.X, github.action_path, steps.verify.outputs.X."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("inputs."):
            return inputs[name.removeprefix("inputs.")]
        if name == "github.action_path":
            return str(ROOT)
        if name.startswith("steps.verify.outputs."):
            return (outputs or {})[name.removeprefix("steps.verify.outputs.")]
        raise AssertionError(f"an expression the test does not know: {name}")

    return EXPRESSION.sub(value, text)


def inputs_with(**overrides: str) -> dict[str, str]:
    declared = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    assert set(overrides) <= set(declared)
    return {**declared, **overrides}


def run_step(name: str, inputs: dict[str, str], folder: Path, outputs: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    step = steps()[name]
    assert step["shell"] == "bash"
    env = {key: evaluate(str(value), inputs, outputs) for key, value in step.get("env", {}).items()}
    env.update(GITHUB_OUTPUT=str(folder / "github_output"), PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    env.update({k: v for k, v in os.environ.items() if k.startswith(("HYPOTHESIS", "HOME", "TMP"))})
    return subprocess.run(
        ["bash", "-c", evaluate(step["run"], inputs, outputs)], env=env, cwd=folder, capture_output=True, text=True, timeout=600
    )


def step_outputs(folder: Path) -> dict[str, str]:
    lines = (folder / "github_output").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_the_action_is_composite_and_names_only_inputs_it_declares() -> None:
    assert ACTION["runs"]["using"] == "composite"
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\binputs\.([a-z-]+)", text))  # in expressions and in `if:` conditions
    assert used <= set(ACTION["inputs"]), used - set(ACTION["inputs"])
    assert set(ACTION["inputs"]) - used == set(), "an input nothing uses"
    for step in ACTION["runs"]["steps"]:
        assert ("run" in step) != ("uses" in step), step["name"]
        if "run" in step:
            assert step["shell"] == "bash" and "${{" not in step["run"], step["name"]  # inputs reach scripts as env only


def test_the_install_step_installs_this_checkout_with_the_verify_extra(tmp_path: Path) -> None:
    step = steps()["Install mockfabric"]
    env = {key: evaluate(str(value), inputs_with()) for key, value in step["env"].items()}
    shown = subprocess.run(
        ["bash", "-c", step["run"].replace("python -m pip install --quiet", "echo")], env=env, capture_output=True, text=True
    )
    assert shown.stdout.strip() == f"{ROOT}[verify]"
    env["MF_PACKAGE"] = "mockfabric[verify]==0.1.0"
    shown = subprocess.run(
        ["bash", "-c", step["run"].replace("python -m pip install --quiet", "echo")], env=env, capture_output=True, text=True
    )
    assert shown.stdout.strip() == "mockfabric[verify]==0.1.0"


@pytest.mark.slow
def test_against_the_emulator_the_verify_step_conforms_and_writes_the_reports_the_upload_names(tmp_path: Path) -> None:
    inputs = inputs_with(**{"max-examples": "1", "output-dir": "reports"})
    result = run_step("Verify", inputs, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert step_outputs(tmp_path) == {"exit-code": "0"}, result.stdout[-2000:]
    upload = steps()["Upload the reports"]
    uploaded = tmp_path / evaluate(upload["with"]["path"], inputs)
    assert {p.name for p in uploaded.iterdir()} >= {"junit.xml", "report.json", "report.html"}
    fail = steps()["Fail on drift"]
    assert fail["if"] == "steps.verify.outputs.exit-code != '0'"  # 0: the step that fails the job is skipped


@pytest.mark.slow
def test_a_target_that_cannot_be_reached_fails_the_job_after_the_reports_step(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    inputs = inputs_with(**{"base-url": dead, "token": "t", "max-examples": "1"})
    verified = run_step("Verify", inputs, tmp_path)
    assert verified.returncode == 0 and step_outputs(tmp_path) == {"exit-code": "2"}, verified.stderr[-2000:]
    failed = run_step("Fail on drift", inputs, tmp_path, step_outputs(tmp_path))
    assert failed.returncode == 2 and "could not test" in failed.stderr


def test_credentials_reach_verify_through_its_environment_not_its_command_line(tmp_path: Path) -> None:
    """A stand-in `mockfabric` first on PATH notes the arguments and environment the step gives it."""
    shim = tmp_path / "bin" / "mockfabric"
    shim.parent.mkdir()
    shim.write_text('#!/bin/sh\necho "$@" > "$NOTE.args"\nenv > "$NOTE.env"\n', encoding="utf-8")
    shim.chmod(0o755)
    for inputs, secret, variable in (
        (inputs_with(**{"base-url": "http://127.0.0.1:9", "token": "s3cret-token"}), "s3cret-token", "MOCKFABRIC_X_AUTH_TOKEN"),
        (inputs_with(**{"base-url": "http://127.0.0.1:9", "ak": "AKX", "sk": "s3cret-sk"}), "s3cret-sk", "HUAWEICLOUD_SDK_SK"),
    ):
        step = steps()["Verify"]
        env = {key: evaluate(str(value), inputs) for key, value in step["env"].items()}
        env.update(GITHUB_OUTPUT=str(tmp_path / "out"), NOTE=str(tmp_path / "note"), PATH=f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
        subprocess.run(["bash", "-c", step["run"]], env=env, cwd=tmp_path, check=True, capture_output=True, timeout=60)
        assert secret not in (tmp_path / "note.args").read_text(encoding="utf-8")
        assert f"{variable}={secret}" in (tmp_path / "note.env").read_text(encoding="utf-8").splitlines()
