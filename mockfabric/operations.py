"""The table of covered operations, generated from the contract (`mockfabric operations`)."""

from __future__ import annotations

from .contracts import public_contract


def operations_table() -> str:
    """A Markdown table: operationId, plane, method, path, success status (inferred ones marked *)."""
    rows = ["| operation | plane | method | path | success |", "|---|---|---|---|---|"]
    for op in sorted(public_contract().operations.values(), key=lambda o: (o.path, o.method)):
        inferred = "*" if op.spec["responses"][str(op.success_status)].get("x-inferred") else ""
        rows.append(f"| {op.operation_id} | {op.plane} | {op.method} | `{op.path}` | {op.success_status}{inferred} |")
    return "\n".join(rows)
