"""The emulator's image as a testcontainers container (extra: testcontainers): for test suites that run their
dependencies in Docker rather than in-process.

    from mockfabric.testing.container import MockFabricContainer

    with MockFabricContainer("mockfabric:latest") as emulator:
        client = MyClient(emulator.base_url, headers=emulator.fabric.headers)
        emulator.fabric.advance(5)

What must hold:
- The container is the image as built from this repository's Dockerfile (`mockfabric serve` on all the container's
  interfaces, its HEALTHCHECK on /healthcheck); `start()` returns once Docker reports the container healthy, and
  fails (with the container's logs) when it does not become healthy within `startup_timeout` seconds.
- A control token is always passed (MOCKFABRIC_CONTROL_TOKEN): the image would otherwise generate one and only print
  it; the handle (`fabric`, `MockFabric.connect`) carries it, so resets, clock moves and faults work at once.
- Only testcontainers' public API is used (DockerContainer, HealthcheckWaitStrategy); importing this module loads
  neither Flask nor the server (the handle's module is imported when `fabric` is first asked for).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HealthcheckWaitStrategy

if TYPE_CHECKING:
    from .fabric import MockFabric

DEFAULT_IMAGE = "mockfabric:latest"  # `docker build -t mockfabric .` in a checkout
CONTAINER_PORT = 8080


class MockFabricContainer(DockerContainer):
    """`mockfabric serve` in a container, reachable on a port Docker maps on the host."""

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        *,
        port: int = CONTAINER_PORT,
        control_token: str | None = None,
        startup_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(image, **kwargs)
        self.port = port
        self.control_token = control_token or secrets.token_hex(16)
        self.with_env("MOCKFABRIC_PORT", str(port))  # the image's healthcheck follows it
        self.with_env("MOCKFABRIC_CONTROL_TOKEN", self.control_token)
        self.with_exposed_ports(port)
        self.waiting_for(HealthcheckWaitStrategy().with_startup_timeout(int(startup_timeout)))
        self._fabric: MockFabric | None = None

    def with_settings(self, **settings: str | int | float | bool) -> MockFabricContainer:
        """Serve's settings as MOCKFABRIC_* variables: `with_settings(seed=7, completion_mode="echo")`."""
        for name, value in settings.items():
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            self.with_env(f"MOCKFABRIC_{name.upper()}", text)
        return self

    @property
    def base_url(self) -> str:
        """Where the started container's emulator answers from the host: `http://HOST:MAPPED_PORT`."""
        return f"http://{self.get_container_host_ip()}:{self.get_exposed_port(self.port)}"

    @property
    def fabric(self) -> MockFabric:
        """A handle on the started container's emulator (one per container), with the control token."""
        if self._fabric is None:
            from .fabric import MockFabric

            self._fabric = MockFabric.connect(self.base_url, control_token=self.control_token)
        return self._fabric

    def stop(self, force: bool = True, delete_volume: bool = True) -> None:
        self._fabric = None
        super().stop(force=force, delete_volume=delete_volume)
