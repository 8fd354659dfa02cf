"""Dockerfile and docker-compose.yml, checked statically (no Docker engine runs here): no known secret, loopback
publishing, every command and variable known to the CLI, a healthcheck that follows MOCKFABRIC_PORT (run for real
against a live server), a report folder the container can write."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockfabric.cli import _build_parser
from mockfabric.config import ENV_PREFIX, PARSERS, serve_settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_VARIABLES = {ENV_PREFIX + name.upper() for name in PARSERS}
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
HAPROXY_VARIABLES = set(re.findall(r'"\$\{(\w+?)(?:-[^}]*)?\}"', HAPROXY_CFG.read_text()))


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def dockerfile() -> dict[str, list[str]]:
    """Instructions of the final stage: name -> the (continuation-joined) argument lines, in order."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stage = text.split("\nFROM ")[-1]
    instructions: dict[str, list[str]] = {}
    for line in stage.splitlines()[1:]:
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, argument = line.strip().partition(" ")
            instructions.setdefault(name, []).append(argument)
    return instructions


def dockerfile_env() -> dict[str, str]:
    return dict(pair.split("=", 1) for argument in dockerfile()["ENV"] for pair in shlex.split(argument))


def emulators() -> dict[str, dict[str, Any]]:
    """The services that run `mockfabric serve` (the image with its default command): the emulator and the shards."""
    services = compose()["services"].items()
    return {name: service for name, service in services if service.get("image") == "mockfabric:local" and "command" not in service}


def test_the_control_token_has_no_default_and_compose_refuses_to_start_without_it() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert set(emulators()) == {"mockfabric", "shard-1", "shard-2"}
    for service in emulators().values():
        token = service["environment"]["MOCKFABRIC_CONTROL_TOKEN"]
        assert re.fullmatch(r"\$\{MOCKFABRIC_CONTROL_TOKEN:\?[^}]+\}", token), token  # ${VAR:?message}: required
    assert "change-me" not in text and ":-" not in text  # no literal fallback anywhere


def test_every_published_port_is_bound_to_loopback() -> None:
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_every_service_that_uses_the_image_can_build_it() -> None:
    services = compose()["services"]
    assert all("build" in service for service in services.values() if service.get("image") == "mockfabric:local")


def test_every_variable_is_a_setting_the_cli_knows() -> None:
    assert set(dockerfile_env()) - {"PYTHONUNBUFFERED"} <= SETTINGS_VARIABLES
    for name, service in compose()["services"].items():
        known = HAPROXY_VARIABLES if name == "haproxy" else SETTINGS_VARIABLES
        assert set(service.get("environment", {})) <= known, name


def test_every_command_parses_with_the_cli() -> None:
    entrypoint = json.loads(dockerfile()["ENTRYPOINT"][-1])
    assert entrypoint == ["mockfabric"]
    _build_parser().parse_args(json.loads(dockerfile()["CMD"][-1]))
    contract_tests = compose()["services"]["contract-tests"]
    assert contract_tests["entrypoint"] == ["mockfabric"]
    parsed = _build_parser().parse_args(contract_tests["command"])
    assert parsed.command == "verify" and parsed.base_url == "http://mockfabric:8080"
    mounted = {volume.split(":")[1] for volume in contract_tests["volumes"]}
    assert {str(Path(parsed.report).parent), str(Path(parsed.junit_xml).parent)} <= mounted


def test_the_image_installs_the_verify_extra_and_copies_what_exists() -> None:
    assert any("[verify]" in argument for argument in dockerfile()["RUN"])
    text = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for name in source.split():
            assert (ROOT / name).exists(), name


def test_the_report_folder_is_the_container_users() -> None:
    runs = " ".join(dockerfile()["RUN"])
    assert "mkdir /reports" in runs and "chown mockfabric /reports" in runs
    assert dockerfile()["USER"] == ["mockfabric"]


def test_a_plain_docker_run_starts_with_a_generated_control_token() -> None:
    """The image listens on all interfaces with no token given: serve generates one instead of refusing."""
    settings, generated = serve_settings({}, dockerfile_env())
    assert generated and settings.control_token == generated and settings.host == "0.0.0.0"
    given, none = serve_settings({}, {**dockerfile_env(), "MOCKFABRIC_CONTROL_TOKEN": "mine"})
    assert none is None and given.control_token == "mine"


@pytest.mark.parametrize("source", ["Dockerfile", "docker-compose.yml"])
def test_the_healthcheck_follows_mockfabric_port(source: str) -> None:
    if source == "Dockerfile":
        command = dockerfile()["HEALTHCHECK"][-1].split(" CMD ", 1)[1]
        argv = shlex.split(command)
    else:
        argv = compose()["services"]["mockfabric"]["healthcheck"]["test"][1:]
    assert argv[:2] == ["python", "-c"] and "8080/" not in argv[2]
    server = subprocess.Popen([sys.executable, "-m", "mockfabric", "serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = server.stdout.readline().split("serving on ", 1)[1].split()[0].rsplit(":", 1)[1]
        env = {**os.environ, "MOCKFABRIC_PORT": port}
        assert subprocess.run([sys.executable, "-c", argv[2]], env=env, timeout=30).returncode == 0
        assert subprocess.run([sys.executable, "-c", argv[2]], env={**env, "MOCKFABRIC_PORT": "1"}, timeout=30).returncode != 0
    finally:
        server.terminate()
        server.communicate(timeout=15)


def build_stage_copies() -> list[tuple[list[str], str]]:
    """The build stage's COPY instructions: (sources, destination relative to its WORKDIR)."""
    text = (ROOT / "Dockerfile").read_text()
    stage = text.split("\nFROM ")[1]  # [0] is the comments above the first FROM
    copies = []
    for sources_and_destination in re.findall(r"^COPY (?!--from)(.+)$", stage, re.M):
        *sources, destination = sources_and_destination.split()
        copies.append((sources, destination))
    return copies


@pytest.mark.slow
def test_the_wheel_builds_from_exactly_what_the_image_build_stage_copies(tmp_path: Path) -> None:
    """The image's build stage makes the wheel from the files it COPYs and nothing else (issue 29: it left out
    hatch_build.py, and every `docker build` failed with "Build script does not exist")."""
    context = tmp_path / "src"
    context.mkdir()
    for sources, destination in build_stage_copies():
        for source in sources:
            target = context / destination / (Path(source).name if destination.endswith("/") else "")
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / source, target)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(context)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    assert list((tmp_path / "dist").glob("mockfabric-*.whl"))


def sharded() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose()["services"].items() if "sharded" in service.get("profiles", [])}


def shard_addresses() -> dict[str, str]:
    """What the haproxy service's environment gives each MOCKFABRIC_SHARD_<n> of deploy/haproxy.cfg."""
    environment: dict[str, str] = compose()["services"]["haproxy"]["environment"]
    return {name: value for name, value in environment.items() if name.startswith("MOCKFABRIC_SHARD_")}


def test_the_sharded_profile_is_haproxy_in_front_of_every_shard() -> None:
    """Every shard of the profile is one server line of deploy/haproxy.cfg, at the port the image serves on, and
    HAProxy starts once every shard is healthy; nothing of the profile starts with a plain `docker compose up`."""
    services = sharded()
    shards = sorted(name for name in services if name != "haproxy")
    assert shards == ["shard-1", "shard-2"] and "haproxy" in services
    assert all(services[name]["profiles"] == ["sharded"] for name in services)
    assert sorted(shard_addresses().values()) == [f"{name}:{dockerfile_env()['MOCKFABRIC_PORT']}" for name in shards]
    servers = re.findall(r'^\s*server \S+ "\$\{(MOCKFABRIC_SHARD_\d+)\}"', HAPROXY_CFG.read_text(), re.M)
    assert sorted(servers) == sorted(shard_addresses())
    depends = services["haproxy"]["depends_on"]
    assert {name: depends[name]["condition"] for name in shards} == dict.fromkeys(shards, "service_healthy")
    assert all(services[name]["healthcheck"] == compose()["services"]["mockfabric"]["healthcheck"] for name in shards)
    seeds = [services[name]["environment"]["MOCKFABRIC_SEED"] for name in shards]
    assert len(set(seeds)) == len(seeds)  # one id sequence per shard, not the same ids on each


def haproxy_dockerfile() -> str:
    return (ROOT / "deploy" / "haproxy.Dockerfile").read_text()


def test_the_haproxy_image_is_debians_package_with_the_shipped_configuration() -> None:
    build = compose()["services"]["haproxy"]["build"]
    assert (ROOT / build["context"] / build["dockerfile"]) == ROOT / "deploy" / "haproxy.Dockerfile"
    text = haproxy_dockerfile()
    assert re.search(r"^FROM debian:\S+$", text, re.M) and "apt-get install" in text and " haproxy" in text
    copied = re.findall(r"^COPY (\S+) (\S+)$", text, re.M)
    assert copied == [("deploy/haproxy.cfg", "/etc/haproxy/haproxy.cfg")]
    entrypoint = json.loads(re.findall(r"^ENTRYPOINT (.+)$", text, re.M)[-1])
    assert entrypoint[0] == "haproxy" and entrypoint[entrypoint.index("-f") + 1] == "/etc/haproxy/haproxy.cfg"
    assert "MOCKFABRIC_HAPROXY_BIND=:8080" in text and "EXPOSE 8080" in text
    assert compose()["services"]["haproxy"]["ports"] == ["127.0.0.1:8090:8080"]


HAPROXY = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.access(p, os.X_OK)), None)


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is neither on PATH nor /usr/sbin/haproxy: apt-get install haproxy (.ci/run does)")
def test_haproxy_accepts_the_configuration_with_the_profiles_variables_and_refuses_it_without_them() -> None:
    """`haproxy -c`: the shard names resolve only inside compose's network, so they stand in as loopback here."""
    loopback = {name: "127.0.0.1:" + value.rsplit(":", 1)[1] for name, value in shard_addresses().items()}
    assert HAPROXY is not None
    check = [HAPROXY, "-c", "-f", str(HAPROXY_CFG)]
    environment = {key: value for key, value in os.environ.items() if key not in HAPROXY_VARIABLES}
    accepted = subprocess.run(check, env={**environment, **loopback}, capture_output=True, text=True, timeout=30)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    refused = subprocess.run(check, env=environment, capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "server" in refused.stdout + refused.stderr
