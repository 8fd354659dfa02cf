"""Wheel build hook: the contracts also ship pre-parsed, as JSON beside their YAML (`mockfabric/contracts/*.json`),
so an installed mockfabric loads them without parsing YAML. Editable installs read the YAML of the checkout."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

CONTRACTS = ("openapi.yaml", "control.openapi.yaml")


class ContractsAsJson(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        import yaml  # a build requirement (pyproject.toml [build-system])

        self._folder = Path(tempfile.mkdtemp(prefix="mockfabric-contracts-"))
        for name in CONTRACTS:
            document = yaml.safe_load((Path(self.root) / "contracts" / name).read_text(encoding="utf-8"))
            target = self._folder / name.replace(".yaml", ".json")
            target.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
            build_data["force_include"][str(target)] = f"mockfabric/contracts/{target.name}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        folder = getattr(self, "_folder", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
