"""docker-compose.yml ships no known secret and publishes nothing beyond loopback (checked statically: no Docker
engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_the_control_token_has_no_default_and_compose_refuses_to_start_without_it() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    token = compose()["services"]["mockfabric"]["environment"]["MOCKFABRIC_CONTROL_TOKEN"]
    assert re.fullmatch(r"\$\{MOCKFABRIC_CONTROL_TOKEN:\?[^}]+\}", token), token  # ${VAR:?message}: required
    assert "change-me" not in text and ":-" not in text  # no literal fallback anywhere


def test_every_published_port_is_bound_to_loopback() -> None:
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_every_service_that_uses_the_image_can_build_it() -> None:
    services = compose()["services"]
    assert all("build" in service for service in services.values() if service.get("image") == "mockfabric:local")
