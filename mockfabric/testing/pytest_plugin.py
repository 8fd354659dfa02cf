"""pytest plugin (entry point `mockfabric`): a session-scoped emulator and a per-test `mockfabric` handle.

    def test_deploy(mockfabric):
        client = MyClient(mockfabric.base_url, headers=mockfabric.headers)
        ...
        mockfabric.advance(5)   # finish CREATING without waiting

Override `mockfabric_settings` (session scope) to change the emulator's settings; the clock is manual by default.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported when a fixture is used: the plugin loads in every pytest run of every project
    from .fabric import MockFabric


@pytest.fixture(scope="session")
def mockfabric_settings() -> dict[str, Any]:
    """Keyword arguments for the session's MockFabric (Settings fields, plus `clock="manual"|"system"`)."""
    return {}


@pytest.fixture(scope="session")
def mockfabric_server(mockfabric_settings: dict[str, Any]) -> Iterator[MockFabric]:
    """One emulator per test session (per xdist worker), stopped at the end."""
    from .fabric import MockFabric

    with MockFabric(**mockfabric_settings) as fabric:
        yield fabric


@pytest.fixture
def mockfabric(mockfabric_server: MockFabric) -> Iterator[MockFabric]:
    """A handle on the session's emulator with a tenant of its own: a clean slate for each test."""
    handle = mockfabric_server.for_tenant()
    yield handle
    handle.reset()
