"""Contract-harness tests. Example counts follow the hypothesis profile: `dev` is quick, `ci` (HYPOTHESIS_PROFILE=ci,
set by .ci/run) sends several thousand requests. The number of generated requests is printed at the end of the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from mockfabric import create_app
from mockfabric.config import Progression, Settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
EXAMPLES = {"dev": 6, "ci": 25}[PROFILE]
LIVE_EXAMPLES = {"dev": 3, "ci": 10}[PROFILE]
GENERATED: dict[str, int] = {}  # test id -> generated requests, reported in the terminal summary


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if GENERATED:
        terminalreporter.section("contract harness")
        for name, count in GENERATED.items():
            terminalreporter.write_line(f"{name}: {count} generated requests")
        terminalreporter.write_line(f"total: {sum(GENERATED.values())} generated requests (profile {PROFILE})")


@pytest.fixture
def instant_app() -> Iterator[Any]:
    instant = Progression("instant")
    yield create_app(Settings(seed=1, validate_responses=True, lifecycle={"endpoint": instant, "service_instance": instant}))
