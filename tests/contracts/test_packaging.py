"""A built wheel carries the contracts and the installed package finds them outside the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_contracts_and_loads_them_from_anywhere(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("mockfabric-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {"openapi.yaml", "control.openapi.yaml", "openapi.json", "control.openapi.json"}
    assert {f"mockfabric/contracts/{name}" for name in shipped} | {"mockfabric/data/catalog.yaml"} <= set(names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import mockfabric, mockfabric.contracts as c; "
        f"assert mockfabric.__file__.startswith({str(site)!r}), mockfabric.__file__; "
        f"assert str(c.contracts_dir()).startswith({str(site)!r}); "
        "import sys; print(len(c.public_contract().operations)); "
        "assert 'yaml' not in sys.modules, 'the installed contract was parsed from YAML'; "
        "import yaml; "
        f"assert c.load_document() == yaml.safe_load(open({str(ROOT / 'contracts' / 'openapi.yaml')!r}, encoding='utf-8'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "57"


def test_importing_the_package_and_the_plugin_loads_nothing_heavy() -> None:
    """The pytest plugin is loaded in every pytest run of every project that has mockfabric installed."""
    import subprocess
    import sys

    probe = (
        "import sys, mockfabric, mockfabric.testing.pytest_plugin, mockfabric.cli\n"
        "modules = ('flask', 'werkzeug', 'uvicorn', 'uvloop', 'httptools', 'jsonschema', 'jsonschema_rs', 'yaml', 'orjson')\n"
        "heavy = [m for m in modules if m in sys.modules]\n"
        "print(','.join(heavy))\n"
        "assert mockfabric.MockFabric.__name__ == 'MockFabric' and 'flask' in sys.modules  # loaded on first use\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at once: {done.stdout.strip()}"
