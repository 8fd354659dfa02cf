"""MockFabricContainer's own code and testcontainers' code run as they would against Docker; only the Docker client
(`docker.from_env`, the boundary testcontainers talks through) is a fake. The fake "runs" the image the way Docker
would run the one the Dockerfile builds — `mockfabric serve` with the container's environment, the container port
NAT-ed to a host port on 127.0.0.1 — and reports its health the way the image's HEALTHCHECK does (GET /healthcheck)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import urllib.request
from typing import Any

import docker  # comes with the testcontainers extra, which the test extra installs
import pytest
import requests
from testcontainers.core.config import testcontainers_config

from mockfabric.testing.container import MockFabricContainer

IDS = itertools.count(1)


class FakeContainer:
    """A created container: `start()` runs the image's command as a process; `reload()` refreshes state and health."""

    def __init__(self, image: str, command: Any, environment: dict[str, str], ports: dict[str, Any]) -> None:
        self.id = f"{next(IDS):064x}"
        self.short_id = self.id[:12]
        self.image, self.command, self.environment, self.ports = image, command, environment, ports
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.status = "created"
        self.attrs: dict[str, Any] = {"State": {"Status": "created"}}
        self.removed = False

    def start(self) -> None:
        arguments = self.command.split() if isinstance(self.command, str) else list(self.command or ["serve"])
        # Docker's port mapping stands in for the image's MOCKFABRIC_HOST=0.0.0.0: the process listens on loopback
        env = {**os.environ, **self.environment}
        command = [sys.executable, "-m", "mockfabric", *arguments, "--host", "127.0.0.1", "--port", "0"]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        banner = self.process.stdout.readline()  # "... serving on http://127.0.0.1:PORT ..." or nothing when it failed
        self.url = banner.split("serving on ", 1)[1].split()[0] if "serving on " in banner else ""
        self.reload()

    def reload(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            self.status = "exited"
            self.attrs = {"State": {"Status": "exited", "Health": {"Status": "unhealthy", "Log": [{"ExitCode": 1, "Output": ""}]}}}
            return
        self.status = "running"
        self.attrs = {"State": {"Status": "running", "Health": {"Status": "healthy" if self.healthy() else "starting"}}}

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthcheck", timeout=2) as reply:
                return bool(reply.read() == b"OK")
        except (OSError, ValueError):
            return False

    def host_port(self) -> str:
        return self.url.rsplit(":", 1)[1]

    def logs(self, stdout: bool = True, stderr: bool = True) -> bytes:
        return b""

    def remove(self, force: bool = False, v: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
        if self.process is not None:
            self.process.communicate(timeout=15)
        self.removed = True


class FakeApi:
    def __init__(self, docker_client: FakeDocker) -> None:
        self.docker_client = docker_client
        self.headers: dict[str, str] = {}
        self.base_url = "http+docker://localhost"

    def port(self, container_id: str, port: int) -> list[dict[str, str]]:
        container = self.docker_client.by_id[container_id]
        exposed = {str(name).split("/")[0] for name in container.ports}
        return [{"HostIp": "0.0.0.0", "HostPort": container.host_port()}] if str(port) in exposed else []

    def containers(self, all: bool = False, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        wanted = (filters or {}).get("id")
        networks = {"bridge": {"Gateway": "127.0.0.1", "IPAddress": "127.0.0.1"}}
        return [
            {"Id": cid, "HostConfig": {"NetworkMode": "bridge"}, "NetworkSettings": {"Networks": networks}}
            for cid in self.docker_client.by_id
            if cid == wanted
        ]


class FakeCollection:
    def __init__(self, docker_client: FakeDocker) -> None:
        self.docker_client = docker_client

    def get(self, image: str) -> object:  # images.get: the image is there
        return object()

    def create(self, image: str, command: Any = None, environment: Any = None, ports: Any = None, **kwargs: Any) -> FakeContainer:
        container = FakeContainer(image, command, dict(environment or {}), dict(ports or {}))
        self.docker_client.by_id[container.id] = container
        return container

    def list(self, filters: dict[str, str] | None = None) -> list[object]:  # networks.list: no custom networks
        return []


class FakeDocker:
    def __init__(self) -> None:
        self.by_id: dict[str, FakeContainer] = {}
        self.api = FakeApi(self)
        self.images = self.containers = self.networks = FakeCollection(self)
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_docker(monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    fake = FakeDocker()
    monkeypatch.setattr(docker, "from_env", lambda **kwargs: fake)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)  # the reaper is a container of its own
    return fake


def test_the_container_starts_healthy_and_hands_over_a_handle_with_its_control_token(fake_docker: FakeDocker) -> None:
    with MockFabricContainer(startup_timeout=30).with_settings(seed=7, completion_mode="echo") as emulator:
        [container] = fake_docker.by_id.values()
        assert container.image == "mockfabric:latest" and "8080" in {str(port).split("/")[0] for port in container.ports}
        assert container.environment["MOCKFABRIC_CONTROL_TOKEN"] == emulator.control_token
        assert container.environment["MOCKFABRIC_PORT"] == "8080" and container.environment["MOCKFABRIC_SEED"] == "7"
        assert container.attrs["State"]["Health"]["Status"] == "healthy"
        assert emulator.base_url == container.url  # the host's address and the mapped port, not the container's 8080
        assert requests.get(f"{emulator.base_url}/healthcheck", timeout=5).text == "OK"

        # without the token the control API is closed (the container listens for other hosts); the handle has it
        refused = requests.post(f"{emulator.base_url}/_mockfabric/reset", json={}, timeout=5)
        assert refused.status_code in (401, 403), refused.text
        fabric = emulator.fabric
        workspace = requests.post(f"{emulator.base_url}/v1/workspaces", json={"name": "container-ws"}, headers=fabric.headers, timeout=5)
        assert workspace.status_code == 200, workspace.text
        now = fabric.advance(0)
        assert fabric.advance(5) >= now + 5
        fabric.reset()
        listed = requests.get(f"{emulator.base_url}/v1/workspaces", headers=fabric.headers, timeout=5).json()
        assert listed["workspaces"] == [], listed
    assert container.removed and container.process is not None and container.process.returncode is not None
    assert fake_docker.closed


def test_a_container_that_never_becomes_healthy_fails_the_start(fake_docker: FakeDocker) -> None:
    emulator = MockFabricContainer(startup_timeout=30).with_settings(workers=2)  # serve refuses to start: exit 2
    with pytest.raises(RuntimeError, match="unhealthy"):
        emulator.start()
    emulator.stop()
    [container] = fake_docker.by_id.values()
    assert container.removed and container.process is not None and container.process.returncode == 2


def test_importing_the_module_loads_no_flask_and_no_server() -> None:
    probe = "import sys, mockfabric.testing.container; print([m for m in ('flask', 'werkzeug', 'uvicorn') if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
