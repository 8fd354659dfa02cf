"""The drift report: what the contract harness found, per operation, how it reads as a table or JSON data, and
how two reports' JSON forms differ (a finding's identity across reports, the differences per operation).

A Finding never holds a credential (its texts pass redaction) and a report holds only plain JSON data (json_ready),
so reports can be written, diffed and published as they are."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..redaction import redact_text

PHASES = ("positive", "negative", "stateful")
JSON_TYPES = (dict, list, str, int, float, bool)


ANSWER_CLASSES = {
    "service": "the service's own answer: a success, or an error in its body ({error_code, error_msg}) that is not one below",
    "no-such-api": "a 404 that is the gateway's 'no such API' (APIG.0101) or not the service's error body",
    "refused": "401 or 403: the credential refused",
    "throttled": "429: the target throttled the run",
    "server-error": "a 5xx",
    "other": "any other answer that is not the service's: not its error body, or a success that is not JSON or a stream",
    "no-response": "no answer: the connection failed or was dropped",
}


def _own_success(body: bytes, content_type: str | None, documented: tuple[str, ...]) -> bool:
    """Whether a 2xx is one the service could have sent: JSON that parses, an event stream, a documented media type,
    or nothing at all where the operation documents no body."""
    if content_type is None:
        return True  # not known (the in-process app): the checks judge it
    media = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return not documented or media in documented
    if media == "application/json":
        try:
            json.loads(body)
        except (ValueError, RecursionError):
            return False
        return True
    return media == "text/event-stream" or media in documented


def answer_class(status: int, body: bytes, content_type: str | None = None, documented: tuple[str, ...] = ()) -> str:
    """Which of ANSWER_CLASSES an answer with `status`, `body` and (when known) `content_type` is; a success whose
    media type is neither JSON, an event stream nor one of the operation's `documented` ones is not the service's."""
    if status in (401, 403):
        return "refused"
    if status == 429:
        return "throttled"
    if status >= 500:
        return "server-error"
    if 300 <= status < 400:
        return "other"  # the service redirects nowhere; verify follows no redirect (it would carry the credential)
    if status < 400:
        return "service" if _own_success(body, content_type, documented) else "other"
    try:
        error = json.loads(body) if body else None
    except (ValueError, RecursionError):
        error = None
    own = isinstance(error, dict) and isinstance(error.get("error_code"), str) and isinstance(error.get("error_msg"), str)
    if status == 404 and (not own or error["error_code"] == "APIG.0101"):  # type: ignore[index]
        return "no-such-api"
    return "service" if own else "other"


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
    answers: Counter[str] = field(default_factory=Counter)  # answers per ANSWER_CLASSES: did the run reach the service?

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
            "answers": dict(sorted(self.answers.items())),
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
    unreached: str | None = None  # why the run did not reach the service (verify's verdict), so tested nothing

    @property
    def total_requests(self) -> int:
        return sum(result.requests for result in self.operations.values())

    @property
    def findings(self) -> list[Finding]:
        return [f for result in self.operations.values() for f in result.findings.values()]

    @property
    def passed(self) -> bool:
        return not self.findings and self.unreached is None

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
            "unreached": self.unreached,
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
    verdict = (
        "conforms"
        if report.passed
        else ("did not reach the service" if report.unreached else f"{len(report.findings)} distinct finding(s)")
    )
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


def differences(first: dict[str, Any], second: dict[str, Any]) -> dict[str, list[str]]:
    """reports.diff per operation: {operation: what differs}, in the reports' order, operations that agree left out."""
    found: dict[str, list[str]] = {}
    for name in dict.fromkeys([*first["operations"], *second["operations"]]):
        lines = operation_differences(first["operations"].get(name), second["operations"].get(name))
        if lines:
            found[name] = lines
    return found


def finding_key(finding: dict[str, Any]) -> str:
    """A finding's identity across reports (Finding.key of the JSON form)."""
    return f"{finding.get('check')}: {finding.get('title')}"


def operation_differences(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    """What differs between one operation's results in two reports (None: not in that report)."""
    if a is None or b is None:
        return [] if a is None and b is None else [f"only in {'the first' if b is None else 'the second'} report"]
    if bool(a.get("skipped")) != bool(b.get("skipped")):
        return [f"skipped in {'the first' if a.get('skipped') else 'the second'} report only"]
    keys_a = {finding_key(f) for f in a["findings"]}
    keys_b = {finding_key(f) for f in b["findings"]}
    lines = [f"first only: {key}" for key in sorted(keys_a - keys_b)]
    lines += [f"second only: {key}" for key in sorted(keys_b - keys_a)]
    statuses_a, statuses_b = set(a["statuses"]), set(b["statuses"])
    if statuses_a != statuses_b:
        lines.append(f"statuses {sorted(statuses_a)} vs {sorted(statuses_b)}")
    return lines
