"""mockfabric: an offline twin of Huawei Cloud DataArts Fabric's inference API.

Importing the package (as the pytest plugin does in every pytest run of a project that has mockfabric installed)
imports nothing heavy: `MockFabric`, `Settings` and `create_app` load Flask, waitress and the contracts on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["MockFabric", "Settings", "__version__", "create_app"]

if TYPE_CHECKING:
    from .config import Settings
    from .testing.fabric import MockFabric
    from .version import __version__
    from .web.app import create_app


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from .version import __version__

        return __version__
    if name == "MockFabric":
        from .testing.fabric import MockFabric

        return MockFabric
    if name == "Settings":
        from .config import Settings

        return Settings
    if name == "create_app":
        from .web.app import create_app

        return create_app
    raise AttributeError(f"module 'mockfabric' has no attribute {name!r}")
