"""mockfabric: an offline twin of Huawei Cloud DataArts Fabric's inference API."""

from __future__ import annotations

from .config import Settings
from .testing.fabric import MockFabric
from .web.app import create_app

__version__ = "0.1.0"
__all__ = ["MockFabric", "Settings", "__version__", "create_app"]
