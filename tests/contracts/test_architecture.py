"""ARCHITECTURE.md names every module of the package: a module added without a line there fails here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_is_named_in_architecture_md() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = sorted(path.relative_to(ROOT / "mockfabric") for path in (ROOT / "mockfabric").rglob("*.py"))
    needed = Counter(path.name for path in modules)  # names shared by several packages must appear as often
    missing = [f"{name} (x{count})" for name, count in sorted(needed.items()) if text.count(name) < count]
    assert not missing, f"ARCHITECTURE.md does not name: {', '.join(missing)}"
