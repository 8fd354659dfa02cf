"""What a verification run leaves behind: a JSON drift report, JUnit XML for CI, and a diff of two reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # diff and load need no extra: the harness (hypothesis, schemathesis) is imported only to run
    from .drift import Report


def write_json(report: Report, path: str | Path) -> None:
    Path(path).write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_junit(report: Report, path: str | Path) -> None:
    """One test case per operation (and one for the stateful phase); each distinct finding is a <failure>."""
    suite = ET.Element(
        "testsuite",
        name="mockfabric-verify",
        tests=str(len(report.operations)),
        failures=str(sum(1 for r in report.operations.values() if r.findings)),
        skipped=str(sum(1 for r in report.operations.values() if r.skipped)),
        time=f"{report.seconds:.2f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (("target", report.target), ("seed", report.seed), ("generated_requests", report.total_requests)):
        ET.SubElement(properties, "property", name=name, value=str(value))
    for name, result in report.operations.items():
        case = ET.SubElement(suite, "testcase", classname="mockfabric.verify", name=name)
        if result.skipped:
            ET.SubElement(case, "skipped", message=result.skipped)
        for finding in result.findings.values():
            failure = ET.SubElement(case, "failure", type=finding.check, message=f"{finding.title} ({finding.occurrences}x)")
            failure.text = f"{finding.message}\n\nrequest: {json.dumps(finding.request, ensure_ascii=False)}"
        ET.SubElement(case, "system-out").text = f"{result.requests} requests; statuses {dict(result.statuses)}"
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def load(path: str | Path) -> dict[str, Any]:
    """A drift report written by `write_json`; ValueError with a one-line reason when `path` is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{path} is not a JSON drift report") from None
    if not isinstance(data, dict) or data.get("format") != "mockfabric-drift-report/1":
        raise ValueError(f"{path} is not a mockfabric drift report")
    return data


def diff(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """Where two reports (e.g. emulator and real service) disagree: per operation, the findings one has and the
    other has not, and the HTTP statuses seen by one only. Empty when they agree."""
    lines: list[str] = []
    names = list(dict.fromkeys([*first["operations"], *second["operations"]]))
    for name in names:
        a, b = first["operations"].get(name), second["operations"].get(name)
        if a is None or b is None:
            lines.append(f"{name}: only in {'the first' if b is None else 'the second'} report")
            continue
        if bool(a.get("skipped")) != bool(b.get("skipped")):
            lines.append(f"{name}: skipped in {'the first' if a.get('skipped') else 'the second'} report only")
            continue
        keys_a = {f"{f['check']}: {f['title']}" for f in a["findings"]}
        keys_b = {f"{f['check']}: {f['title']}" for f in b["findings"]}
        lines += [f"{name}: first only: {key}" for key in sorted(keys_a - keys_b)]
        lines += [f"{name}: second only: {key}" for key in sorted(keys_b - keys_a)]
        statuses_a, statuses_b = set(a["statuses"]), set(b["statuses"])
        if statuses_a != statuses_b:
            lines.append(f"{name}: statuses {sorted(statuses_a)} vs {sorted(statuses_b)}")
    return lines
