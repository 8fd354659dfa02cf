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
GENERATED = "generated_requests"  # the user property a harness test records, summed in the terminal summary


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Read from the reports' user properties, which pytest-xdist brings back from its workers."""
    counts = {
        report.nodeid: value
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", [])
        if name == GENERATED and report.when == "call"
    }
    if counts:
        terminalreporter.section("contract harness")
        for nodeid, count in counts.items():
            terminalreporter.write_line(f"{nodeid.rsplit('::', 1)[-1]}: {count} generated requests")
        terminalreporter.write_line(f"total: {sum(counts.values())} generated requests (profile {PROFILE})")


@pytest.fixture
def instant_app() -> Iterator[Any]:
    instant = Progression("instant")
    yield create_app(Settings(seed=1, validate_responses=True, lifecycle={"endpoint": instant, "service_instance": instant}))
