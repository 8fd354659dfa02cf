"""`mockfabric serve` calms the cyclic collector in its own process only: an embedded app leaves it alone."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
from mockfabric.serving import FULL_COLLECTION_EVERY, _calm_the_collector
from mockfabric import MockFabric
with MockFabric():
    pass
untouched = gc.get_threshold()[2] == 10 and gc.get_freeze_count() == 0
_calm_the_collector()
print(untouched, gc.get_threshold()[2] == FULL_COLLECTION_EVERY, gc.get_freeze_count() > 10_000)
"""


def test_only_the_serve_process_changes_the_collector() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split() == ["True", "True", "True"], out
