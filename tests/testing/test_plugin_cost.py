"""What the installed pytest plugin costs a pytest run that never uses it: its own three modules, nothing else, and
an import time far below pytest's own. The plugin is loaded in every pytest run of every project (and every
pre-commit hook running pytest) where mockfabric is installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PLUGIN_MODULES = {"mockfabric", "mockfabric.testing", "mockfabric.testing.pytest_plugin"}
HEAVY = ("flask", "werkzeug", "jsonschema", "jsonschema_rs", "uvicorn", "uvloop", "httptools", "yaml", "orjson", "requests")

# In a new process: import pytest (timed: the reference, paid by every pytest run anyway), then the plugin (timed),
# and print what the plugin's import added to sys.modules.
IMPORT_PROBE = """
import json, sys, time
started = time.perf_counter()
import pytest
pytest_seconds = time.perf_counter() - started
before = set(sys.modules)
started = time.perf_counter()
import mockfabric.testing.pytest_plugin
plugin_seconds = time.perf_counter() - started
print(json.dumps({"added": sorted(set(sys.modules) - before), "pytest": pytest_seconds, "plugin": plugin_seconds}))
"""

# A conftest-less plugin passed with -p: at the end of the session, the modules the run had imported.
RECORDER = """
import json, os, sys

def pytest_sessionfinish(session):
    with open(os.environ["MODULES_OUT"], "w") as out:
        json.dump(sorted(sys.modules), out)
"""


def test_importing_the_plugin_adds_only_its_own_modules_and_costs_little_next_to_pytest() -> None:
    probes = []
    for _ in range(5):
        done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        probes.append(json.loads(done.stdout))
    assert all(set(probe["added"]) == PLUGIN_MODULES for probe in probes), probes[0]["added"]
    plugin = sorted(probe["plugin"] for probe in probes)[2]
    reference = sorted(probe["pytest"] for probe in probes)[2]
    # ~1 ms against pytest's ~90 ms on a quiet machine; the bound scales with pytest's import, measured alongside
    assert plugin < max(0.030, 0.3 * reference), f"the plugin's import took {plugin * 1000:.1f} ms, pytest's {reference * 1000:.1f} ms"


def test_a_pytest_run_that_does_not_use_the_plugin_imports_nothing_else_for_it(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_nothing():\n    pass\n")
    (tmp_path / "module_recorder.py").write_text(RECORDER)
    loaded: dict[bool, set[str]] = {}
    for with_plugin in (True, False):
        out = tmp_path / f"modules-{with_plugin}.json"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "module_recorder"]
        command += [] if with_plugin else ["-p", "no:mockfabric"]
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "MODULES_OUT": str(out)}
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        loaded[with_plugin] = set(json.loads(out.read_text()))
    assert "mockfabric.testing.pytest_plugin" in loaded[True]  # the entry point was loaded: the comparison means something
    added = loaded[True] - loaded[False]
    assert added <= PLUGIN_MODULES, sorted(added - PLUGIN_MODULES)
    assert not [name for name in HEAVY if name in added]
