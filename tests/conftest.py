"""Shared fixtures: an app on a ManualClock with the response self-check on, and an API helper per tenant."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from mockfabric import create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Progression, Settings

from .helpers import Api

# Seeded profiles: `dev` is quick, `ci` (HYPOTHESIS_PROFILE=ci, set by .ci/run) is thorough. derandomize=True makes
# every run draw the same examples, so a failure reproduces from the test id alone.
settings.register_profile("dev", max_examples=30, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

PROGRESSION_SECONDS = 3.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_700_000_000.0)


@pytest.fixture
def app_settings() -> Settings:
    timed = Progression("time", seconds=PROGRESSION_SECONDS)
    return Settings(seed=7, validate_responses=True, lifecycle={"endpoint": timed, "service_instance": timed})


@pytest.fixture
def app(app_settings: Settings, clock: ManualClock) -> Any:
    return create_app(app_settings, clock=clock)


@pytest.fixture
def api(app: Any, clock: ManualClock) -> Iterator[Api]:
    yield Api(app.test_client(), {"X-Auth-Token": "token-of-tenant-a"}, clock)


@pytest.fixture
def other_api(app: Any, clock: ManualClock) -> Api:
    """A second credential: another tenant of the same emulator."""
    return Api(app.test_client(), {"X-Auth-Token": "token-of-tenant-b"}, clock)
