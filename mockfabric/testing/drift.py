"""The drift report: what the contract harness found, per operation, and how it reads as a table or JSON data.

A Finding never holds a credential (its texts pass redaction) and a report holds only plain JSON data (json_ready),
so reports can be written, diffed and published as they are."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..redaction import redact_text

PHASES = ("positive", "negative", "stateful")
JSON_TYPES = (dict, list, str, int, float, bool)


@dataclass
class Finding:
    operation: str
    check: str
    title: str
    message: str
    mode: str
    status: int | None
    request: dict[str, Any]
    expected: Any = None
    actual: Any = None
    schema_path: list[Any] | None = None
    occurrences: int = 1

    def __post_init__(self) -> None:
        # what a check says may quote the request (a curl line, headers): no credential goes into a report
        self.message = redact_text(self.message)
        self.title = redact_text(self.title)

    @property
    def key(self) -> str:
        return f"{self.check}: {self.title}"


@dataclass
class OperationResult:
    operation: str
    method: str
    path: str
    plane: str
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    phases: Counter[str] = field(default_factory=Counter)  # requests per phase: positive, negative, stateful
    findings: dict[str, Finding] = field(default_factory=dict)
    skipped: str | None = None

    def add(self, finding: Finding) -> None:
        known = self.findings.get(finding.key)
        if known is None:
            self.findings[finding.key] = finding
        else:
            known.occurrences += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "plane": self.plane,
            "requests": self.requests,
            "statuses": dict(sorted(self.statuses.items())),
            "phases": {phase: self.phases[phase] for phase in PHASES},
            "skipped": self.skipped,
            "findings": [asdict(f) for f in self.findings.values()],
        }


@dataclass
class Report:
    target: str
    seed: int
    max_examples: int
    read_only: bool
    allow_billable: bool
    operations: dict[str, OperationResult]
    started: float = field(default_factory=time.time)
    seconds: float = 0.0

    @property
    def total_requests(self) -> int:
        return sum(result.requests for result in self.operations.values())

    @property
    def findings(self) -> list[Finding]:
        return [f for result in self.operations.values() for f in result.findings.values()]

    @property
    def passed(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": "mockfabric-drift-report/1",
            "target": self.target,
            "seed": self.seed,
            "max_examples": self.max_examples,
            "read_only": self.read_only,
            "allow_billable": self.allow_billable,
            "started": self.started,
            "seconds": round(self.seconds, 2),
            "generated_requests": self.total_requests,
            "conformed": self.passed,
            "summary": summary_table(self),
            "operations": {k: v.as_dict() for k, v in self.operations.items()},
        }


def summary_table(report: Report) -> str:
    """Per operation: requests in all and per phase (the stateful column counts the operation's calls inside the
    link-driven sequences, so it shows what an operation that only got 400s alone reached there), findings, statuses."""
    head = f"{'operation':<28} {'requests':>8} {'positive':>8} {'negative':>8} {'stateful':>8}  {'findings':>8}  statuses"
    lines = [head, "-" * 110]
    for name, result in report.operations.items():
        statuses = " ".join(f"{code}:{count}" for code, count in sorted(result.statuses.items())) or (result.skipped or "")
        phases = " ".join(f"{result.phases[phase]:>8}" for phase in PHASES)
        lines.append(f"{name:<28} {result.requests:>8} {phases}  {len(result.findings):>8}  {statuses}")
    lines.append("-" * 110)
    verdict = "conforms" if report.passed else f"{len(report.findings)} distinct finding(s)"
    lines.append(f"{'total':<28} {report.total_requests:>8} {'':>26}  {len(report.findings):>8}  {verdict}")
    return "\n".join(lines)


def json_ready(value: Any) -> Any:
    """`value` as plain JSON data: what JSON cannot hold (objects, sets, bytes) becomes None, never a Python repr."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if value is None or isinstance(value, JSON_TYPES):
        return value
    return None
