"""What a verification run leaves behind: a JSON drift report, an HTML page, JUnit XML for CI, and a diff of two.

What must hold: writing a report never raises on its text (a lone surrogate an answer carried is written as its JSON
escape `\\ud800`, which reads back as the same string); `load` accepts only a drift report's shape, so `diff`
and the HTML pages get what they read or a one-line reason."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .drift import differences

if TYPE_CHECKING:  # diff and load need no extra: the harness (hypothesis, schemathesis) is imported only to run
    from .drift import Report

HTML_SUFFIXES = (".html", ".htm")
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def report_data(report: Report | Mapping[str, Any]) -> Mapping[str, Any]:
    """A report's JSON form: a Report's as_dict(), or the mapping itself (a loaded report, the proxy's)."""
    return report if isinstance(report, Mapping) else report.as_dict()


def _write_text(path: str | Path, text: str) -> None:
    # backslashreplace turns a lone surrogate into `\udXXX`: in JSON the same string, in HTML a visible escape
    Path(path).write_bytes(text.encode("utf-8", "backslashreplace"))


def write_json(report: Report | Mapping[str, Any], path: str | Path) -> None:
    _write_text(path, json.dumps(report_data(report), indent=2, ensure_ascii=False) + "\n")


def write_html(report: Report | Mapping[str, Any], path: str | Path) -> None:
    """The report as one self-contained HTML page (html_report.render_report)."""
    from .html_report import render_report

    _write_text(path, render_report(report_data(report)))


def write_comparison_html(first: Mapping[str, Any], second: Mapping[str, Any], names: tuple[str, str], path: str | Path) -> None:
    """`mockfabric diff --html`: the differences of two loaded reports, then both side by side, as one page."""
    from .html_report import render_comparison

    _write_text(path, render_comparison(first, second, names))


def is_html_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in HTML_SUFFIXES


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
            failure = ET.SubElement(case, "failure", type=finding.check, message=_xml_text(f"{finding.title} ({finding.occurrences}x)"))
            failure.text = _xml_text(f"{finding.message}\n\nrequest: {json.dumps(finding.request, ensure_ascii=False)}")
        ET.SubElement(case, "system-out").text = f"{result.requests} requests; statuses {dict(result.statuses)}"
    reached = ET.SubElement(suite, "testcase", classname="mockfabric.verify", name="the run reached the service")
    if report.unreached is not None:  # a run that tested nothing is an error in CI, not a pass
        ET.SubElement(reached, "error", type="unreached", message=_xml_text(report.unreached))
        suite.set("errors", "1")
    suite.set("tests", str(len(report.operations) + 1))
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def _xml_text(text: str) -> str:
    """`text` as XML can hold it: a lone surrogate as its `\\udXXX` escape (ElementTree would write `&#55296;`,
    which no XML parser accepts), other characters XML 1.0 forbids (NUL, most C0 controls) as `\\xNN`."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _XML_FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def load(path: str | Path) -> dict[str, Any]:
    """A drift report written by `write_json`; ValueError with a one-line reason when `path` is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{path} is not a JSON drift report") from None
    return checked_report(data, str(path))


def checked_report(data: Any, source: str) -> dict[str, Any]:
    """`data` (parsed JSON from `source`) if it is a drift report `write_json` writes; ValueError with a one-line
    reason naming `source` when it is not."""
    if not isinstance(data, dict) or data.get("format") != "mockfabric-drift-report/1":
        raise ValueError(f"{source} is not a mockfabric drift report")
    problem = _shape_problem(data)
    if problem is not None:
        raise ValueError(f"{source} is not a mockfabric drift report: {problem}")
    return data


LARGEST_NUMBER = 10**15  # no count or figure of a run comes near it; a sum of many larger ones is a page's undoing


def _number_problem(data: Any) -> str | None:
    """The first number beyond ±LARGEST_NUMBER (or not finite) anywhere in `data`, named; None when there is none."""
    pending: list[tuple[str, Any]] = [("the report", data)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, dict):
            pending.extend((f"{where}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, int | float) and not isinstance(value, bool) and not -LARGEST_NUMBER <= value <= LARGEST_NUMBER:
            return f"{where[:200]} is {'a number beyond ±10^15' if value == value else 'not a number'}"
    return None


def _shape_problem(data: dict[str, Any]) -> str | None:
    """What `diff` and the pages rely on, checked: operations, each with a statuses object and a list of findings,
    and no number beyond what a run could count (their sums are drawn as text and as bars)."""
    operations = data.get("operations")
    if not isinstance(operations, dict):
        return "no operations object"
    problem = _number_problem(data)
    if problem is not None:
        return problem
    for name, result in operations.items():
        if not isinstance(result, dict):
            return f"operation {name} is not an object"
        if not isinstance(result.get("statuses"), dict):
            return f"operation {name} has no statuses object"
        findings = result.get("findings")
        if not isinstance(findings, list) or not all(isinstance(f, dict) for f in findings):
            return f"operation {name} has no list of findings"
    return None


def diff(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """Where two reports (e.g. emulator and real service) disagree: per operation, the findings one has and the
    other has not, and the HTTP statuses seen by one only. Empty when they agree."""
    return [f"{name}: {line}" for name, lines in differences(first, second).items() for line in lines]
