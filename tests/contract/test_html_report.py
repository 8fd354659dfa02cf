"""The HTML report as a reader gets it: drawn from real harness runs and a real proxy's report, opened in headless
chromium, and read from the DOM the browser built: the summary, a bar group per exercised operation in the SVG
chart, each finding with its request, text a client or a service sent shown as text (never an element), lone
surrogates and long values written without error, and nothing fetched from anywhere."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mockfabric import create_app
from mockfabric.cli import main
from mockfabric.config import Progression, Settings
from mockfabric.testing.drift import Report
from mockfabric.testing.harness import Harness
from mockfabric.testing.reports import load, write_html, write_json, write_junit
from mockfabric.testing.server import ThreadedServer
from mockfabric.testing.targets import in_process

from .browser import Dom, needs_chromium, rendered
from .test_broken_emulator import Broken, Rewrite, only_for, server_error

HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
LONG = 5000
OPERATIONS = {"ListBaseModels", "ListSpecs", "ListFeatures"}
URL_ATTRIBUTES = ("src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href", "background")


def hostile_total(m: str, p: str, status: int, headers: dict[str, str], request: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """`total` becomes markup with a long tail (schemathesis itself refuses an answer with a lone surrogate)."""
    if status != 200:
        return status, headers, body
    return status, headers, json.dumps({**json.loads(body), "total": HOSTILE + "x" * LONG}).encode()


def both(*rewrites: Rewrite) -> Rewrite:
    def rewrite(m: str, p: str, status: int, headers: dict[str, str], request: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
        for each in rewrites:
            status, headers, body = each(m, p, status, headers, request, body)
        return status, headers, body

    return rewrite


def run(rewrite: Rewrite | None) -> Report:
    instant = Progression("instant")
    app = create_app(Settings(seed=1, validate_responses=True, lifecycle={"endpoint": instant, "service_instance": instant}))
    target = in_process(app if rewrite is None else Broken(app, rewrite))
    return Harness(target, max_examples=3, seed=3, stateful=False, only=OPERATIONS).run()


@pytest.fixture(scope="module")
def broken() -> Report:
    """A real run against an emulator whose ListBaseModels answers hostile text and whose ListSpecs fails with 500."""
    return run(both(only_for("GET", "/v1/base-models", hostile_total), only_for("GET", "/v1/specs", server_error)))


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    return tmp_path / "chromium-profile"


def with_surrogates(report: Report, folder: Path) -> dict[str, Any]:
    """The run's JSON report as written, with a lone surrogate escape put into a finding's texts (as a hand-edited
    file or another writer may hold them: JSON can spell one), read back with load."""
    write_json(report, folder / "written.json")
    text = (folder / "written.json").read_text(encoding="utf-8")
    text = text.replace('"title": "Server error"', '"title": "Server error \\ud800"').replace(HOSTILE, HOSTILE + "\\udfff")
    (folder / "surrogates.json").write_text(text, encoding="utf-8")
    return load(folder / "surrogates.json")


def test_lone_surrogates_are_written_as_escapes_and_read_back(broken: Report, tmp_path: Path) -> None:
    data = with_surrogates(broken, tmp_path)
    titles = [f["title"] for f in data["operations"]["ListSpecs"]["findings"]]
    assert "Server error \ud800" in titles
    write_json(data, tmp_path / "again.json")  # raised UnicodeEncodeError before: ensure_ascii=False, then strict UTF-8
    assert load(tmp_path / "again.json") == data
    write_html(data, tmp_path / "report.html")
    assert "Server error \\ud800" in (tmp_path / "report.html").read_text(encoding="utf-8")
    finding = next(iter(broken.operations["ListSpecs"].findings.values()))
    finding.message += "\ud800"
    try:
        write_junit(broken, tmp_path / "junit.xml")
    finally:
        finding.message = finding.message[:-1]
    failures = ET.parse(tmp_path / "junit.xml").getroot().iter("failure")  # well-formed: no reference to a surrogate
    assert any("\\ud800" in (f.text or "") for f in failures)


def test_the_page_is_self_contained(broken: Report, tmp_path: Path) -> None:
    write_html(broken, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    dom = Dom(page)
    assert not dom.find("script") and not dom.find("link") and not dom.find("img") and not dom.find("iframe")
    for element in dom.elements:
        for name in URL_ATTRIBUTES:
            assert element.attrs.get(name, "#").startswith("#"), (element.tag, name, element.attrs[name])
    assert "url(" not in dom.text_of("style") and "@import" not in dom.text_of("style")
    policy = [e.attrs["content"] for e in dom.find("meta") if e.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert policy and policy[0].startswith("default-src 'none'")
    assert f"[truncated: {len(HOSTILE) + LONG - 2000} more characters" in page


@needs_chromium
def test_the_report_page_in_a_browser(broken: Report, tmp_path: Path, profile: Path) -> None:
    write_html(broken, tmp_path / "report.html")
    dom = rendered(tmp_path / "report.html", profile)

    assert "does NOT conform" in dom.text_of("span") and "pwned" not in dom.text_of("title")
    summary = {"".join(e.text) for e in dom.find("td")}
    assert broken.target in summary and str(broken.seed) in summary
    bars = {e.attrs["data-operation"]: e for e in dom.find("g", "op-bar")}
    assert set(bars) == OPERATIONS  # one group per operation that got requests; the skipped ones are in the table
    rects = [e for e in dom.find("rect") if "op-bar" in e.ancestors or e.attrs.get("data-status")]
    assert {e.attrs["data-status"] for e in rects} >= {"200", "500"}
    assert {e.attrs.get("class") for e in rects if e.attrs["data-status"] == "500"} == {"s5xx"}

    assert not dom.find("script") and not [e for e in dom.find("img") if e.attrs.get("src") == "x"]  # the markup stayed text
    shown = dom.text_of("pre")
    assert HOSTILE in shown
    request_lines = {e.content for e in dom.find("pre", "request-line")}
    assert {"GET /v1/specs", "GET /v1/base-models"} <= request_lines
    checks = {e.attrs["data-check"] for e in dom.find("div", "finding")}
    assert {"not_a_server_error", "response_schema_conformance"} <= checks
    assert any("truncated" in e.classes for e in dom.elements)
    skipped = [e for e in dom.find("details", "op") if e.attrs["data-operation"] == "DeleteWorkspace"]
    assert len(skipped) == 1 and "skipped: not selected" in skipped[0].content


@needs_chromium
def test_diff_html_shows_what_differs_with_both_reports(broken: Report, tmp_path: Path, profile: Path, capsys: Any) -> None:
    write_json(broken, tmp_path / "broken.json")
    write_json(run(None), tmp_path / "intact.json")
    page = tmp_path / "diff.html"
    assert main(["diff", str(tmp_path / "broken.json"), str(tmp_path / "intact.json"), "--html", str(page)]) == 1
    printed = capsys.readouterr().out
    assert "ListSpecs: first only: not_a_server_error" in printed
    dom = rendered(page, profile)

    differing = {e.attrs["data-operation"] for e in dom.find("details", "op")}
    assert differing == {"ListBaseModels", "ListSpecs"}
    assert "first only: not_a_server_error" in dom.text_of("li")
    assert {e.attrs["data-check"] for e in dom.find("div", "finding")} >= {"not_a_server_error", "response_schema_conformance"}
    bars = dom.find("g", "op-bar")
    assert {e.attrs["data-operation"] for e in bars} == OPERATIONS
    assert [t for e in dom.find("text", "series") for t in e.text].count("A") == len(OPERATIONS)  # a bar for each report
    assert not dom.find("script") and HOSTILE in dom.text_of("pre")
    assert len(dom.find("tr", "differs")) == 2


def test_diff_of_agreeing_reports_writes_a_page_that_says_so(broken: Report, tmp_path: Path, capsys: Any) -> None:
    write_json(broken, tmp_path / "a.json")
    assert main(["diff", str(tmp_path / "a.json"), str(tmp_path / "a.json"), "--html", str(tmp_path / "d.html")]) == 0
    assert "the reports agree" in capsys.readouterr().out
    assert "the reports agree" in (tmp_path / "d.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("report", "reason"),
    [
        ({"format": "mockfabric-drift-report/1"}, "no operations object"),
        ({"format": "mockfabric-drift-report/1", "operations": {"X": {"findings": []}}}, "operation X has no statuses object"),
        ({"format": "mockfabric-drift-report/1", "operations": {"X": {"statuses": {}, "findings": [1]}}}, "no list of findings"),
    ],
)
def test_diff_of_a_malformed_report_is_one_line(report: dict[str, Any], reason: str, tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "bad.json").write_text(json.dumps(report), encoding="utf-8")
    assert main(["diff", str(tmp_path / "bad.json"), str(tmp_path / "bad.json"), "--html", str(tmp_path / "d.html")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and reason in error  # was a KeyError traceback
    assert not (tmp_path / "d.html").exists()


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with ThreadedServer(create_app(Settings(seed=1))) as server:
        yield server.base_url


@needs_chromium
def test_verify_html_flag_writes_the_page(emulator: str, tmp_path: Path, profile: Path) -> None:
    page, report = tmp_path / "verify.html", tmp_path / "verify.json"
    flags = ["--read-only", "--max-examples", "1", "--no-stateful", "--seed", "7"]
    assert main(["verify", "--base-url", emulator, "--token", "t", *flags, "--html", str(page), "--report", str(report)]) == 0
    dom = rendered(page, profile)
    exercised = {name for name, op in load(report)["operations"].items() if op["requests"]}
    assert exercised and {e.attrs["data-operation"] for e in dom.find("g", "op-bar")} == exercised
    assert "conforms" in dom.text_of("span") and "7" in {"".join(e.text) for e in dom.find("td")}


def test_verify_refuses_an_unwritable_html_path_before_the_run(emulator: str, tmp_path: Path, capsys: Any) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "v.html"
    assert main(["verify", "--base-url", emulator, "--token", "t", "--read-only", "--html", str(missing)]) == 2
    assert "cannot write" in capsys.readouterr().err


@needs_chromium
def test_the_proxys_html_report_shows_what_a_client_sent_as_text(emulator: str, tmp_path: Path, profile: Path) -> None:
    from tests.proxy.running import RunningProxy

    page = tmp_path / "proxy.html"
    with RunningProxy(emulator, report=str(page)) as proxy:
        headers = {"X-Auth-Token": "t", "Content-Type": "application/json"}
        answer = requests.post(f"{proxy.url}/v1/workspaces", data=HOSTILE.encode(), headers=headers, timeout=10)
        assert answer.status_code == 400
        requests.get(f"{proxy.url}/v1/workspaces", headers={"X-Auth-Token": "t"}, timeout=10)
    proxy.server.write_report()
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    dom = rendered(page, profile)
    assert {e.attrs["data-operation"] for e in dom.find("g", "op-bar")} == {"CreateWorkspace", "ListWorkspaces"}
    assert not dom.find("script") and HOSTILE in dom.text_of("pre")
    assert "request_conformance" in {e.attrs["data-check"] for e in dom.find("div", "finding")}


def test_a_report_with_odd_values_still_renders_escaped(broken: Report, tmp_path: Path) -> None:
    """A loaded report is checked for its shape only: what its findings hold may be any JSON, and still renders."""
    data = json.loads(json.dumps(broken.as_dict()))
    operation = data["operations"].pop("ListSpecs")
    operation["statuses"] = {"200": "many", "500": 2, "<b>": 1}
    operation["phases"] = ["positive"]
    first = operation["findings"][0]
    first.update(request="GET /x", status="<i>", occurrences=None, schema_path={"a": [1]}, expected=[HOSTILE], actual={"k": HOSTILE})
    operation["findings"].append({"check": HOSTILE, "request": {"query": [1, 2], "headers": {"X-A": HOSTILE}}})
    data["operations"]["<b>ListSpecs</b>"] = operation
    (tmp_path / "odd.json").write_text(json.dumps(data), encoding="utf-8")
    write_html(load(tmp_path / "odd.json"), tmp_path / "odd.html")
    dom = Dom((tmp_path / "odd.html").read_text(encoding="utf-8"))
    assert not dom.find("b") and not dom.find("i") and not dom.find("script")
    assert "<b>ListSpecs</b>" in {e.attrs.get("data-operation") for e in dom.find("g", "op-bar")}
    assert HOSTILE in {e.attrs.get("data-check") for e in dom.find("div", "finding")}
