from __future__ import annotations

from pathlib import Path

from mockfabric.operations import operations_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_operations_table_is_generated_from_the_contract() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- operations:", 1)[1].split("<!-- /operations -->", 1)[0]
    table = section.split("-->\n", 1)[1].strip()
    assert table == operations_table()
