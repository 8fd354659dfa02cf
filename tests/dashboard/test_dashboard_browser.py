"""The dashboard in a real headless browser (Debian's chromium and chromedriver, driven by selenium) against a live
emulator after a seeded flow: resource -> its journal entries -> a stream's timeline, the clock advanced from the
page moves a status, hostile text stays text. Screenshots are kept in reports/dashboard/ as test artefacts."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockfabric import MockFabric

from ..serving.flow import Deployed, deploy

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTEFACTS = Path(__file__).resolve().parents[2] / "reports" / "dashboard"
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None, reason="needs Debian's chromium and chromium-driver (.ci/run installs them)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    profile = tempfile.mkdtemp(prefix="mockfabric-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def flow() -> Iterator[tuple[Deployed, str]]:
    with MockFabric(seed=11, itl_ms=20, ttft_ms=100) as fabric:
        deployed = deploy(fabric)
        fabric.script_completion(deployed.instance, "one two three four five")
        assert deployed.invoke({"messages": [{"role": "user", "content": "<script>window.hacked=1</script>\u00e9"}]}).status_code == 200
        creating = deployed.session.post(
            f"{fabric.base_url}/v1/workspaces/{deployed.workspace}/endpoints", json={"name": "still-creating", "type": "inference"}
        ).json()["id"]
        yield deployed, creating
        deployed.session.close()


def _by(kind: str) -> str:
    from selenium.webdriver.common.by import By

    return str(getattr(By, kind))


def _shot(driver: object, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTEFACTS / f"{name}.png"))  # type: ignore[attr-defined]


def test_resource_to_journal_entry_to_stream_timeline(browser: object, flow: tuple[Deployed, str]) -> None:
    deployed, _ = flow
    d = browser  # type: ignore[assignment]
    d.get(f"{deployed.fabric.base_url}/_mockfabric/ui/")  # type: ignore[attr-defined]
    d.find_element(_by("LINK_TEXT"), deployed.fabric.tenant).click()  # type: ignore[attr-defined]
    assert "Resources" in d.title  # type: ignore[attr-defined]
    _shot(d, "resources")
    d.find_element(_by("LINK_TEXT"), deployed.instance).click()  # type: ignore[attr-defined]
    rows = d.find_elements(_by("CSS_SELECTOR"), "#journal tbody tr")  # type: ignore[attr-defined]
    invocation = next(row for row in rows if "InvokeModelService" in row.text)
    invocation.find_element(_by("TAG_NAME"), "a").click()
    svg = d.find_element(_by("ID"), "timeline")  # type: ignore[attr-defined]
    ticks = svg.find_elements(_by("CSS_SELECTOR"), "line.chunk")
    assert len(ticks) == 5  # one per token chunk: "one two three four five"
    assert "first token at 100 ms" in svg.text and "stream 180 ms" in svg.text
    positions = [float(tick.get_attribute("x1")) for tick in ticks]
    assert positions == sorted(positions) and positions[0] < positions[-1]
    _shot(d, "stream-timeline")


def test_advancing_the_clock_from_the_page_moves_a_status(browser: object, flow: tuple[Deployed, str]) -> None:
    deployed, creating = flow
    d = browser  # type: ignore[assignment]
    page = f"{deployed.fabric.base_url}/_mockfabric/ui/resources?tenant={deployed.fabric.tenant}"
    d.get(page)  # type: ignore[attr-defined]

    def status_of_creating() -> str:
        row = next(r for r in d.find_elements(_by("CSS_SELECTOR"), "tbody tr") if creating in r.text)  # type: ignore[attr-defined]
        return str(row.find_elements(_by("TAG_NAME"), "td")[3].text)

    assert status_of_creating() == "CREATING"
    before = d.find_element(_by("ID"), "clock").text  # type: ignore[attr-defined]
    d.find_element(_by("CSS_SELECTOR"), "button[data-advance='10']").click()  # type: ignore[attr-defined]
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The page reloads after the control call answers: an element read mid-reload is stale or not there yet.
    reloading = (StaleElementReferenceException, NoSuchElementException, StopIteration)
    WebDriverWait(d, 10, ignored_exceptions=reloading).until(lambda driver: driver.find_element(_by("ID"), "clock").text != before)
    WebDriverWait(d, 10, ignored_exceptions=reloading).until(lambda driver: status_of_creating() == "RUNNING")
    _shot(d, "after-advance")


def test_hostile_text_stays_text(browser: object, flow: tuple[Deployed, str]) -> None:
    deployed, _ = flow
    d = browser  # type: ignore[assignment]
    requests.get(f"{deployed.fabric.base_url}/v1/workspaces?name=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", headers=deployed.fabric.headers)
    d.get(f"{deployed.fabric.base_url}/_mockfabric/ui/journal?tenant={deployed.fabric.tenant}")  # type: ignore[attr-defined]
    for row in d.find_elements(_by("CSS_SELECTOR"), "#journal tbody tr a"):  # type: ignore[attr-defined]
        assert row.get_attribute("href").startswith(f"{deployed.fabric.base_url}/_mockfabric/ui/")
    entry = next(e["seq"] for e in deployed.fabric.requests(operation="InvokeModelService") if "script" in str(e.get("body")))
    d.get(f"{deployed.fabric.base_url}/_mockfabric/ui/journal/{entry}")  # type: ignore[attr-defined]
    assert "<script>window.hacked=1</script>" in d.find_element(_by("TAG_NAME"), "main").text  # type: ignore[attr-defined]
    assert d.execute_script("return window.hacked === undefined")  # type: ignore[attr-defined]
    assert len(d.find_elements(_by("TAG_NAME"), "script")) == 1  # type: ignore[attr-defined]  # the page's own
    assert not d.find_elements(_by("TAG_NAME"), "img")  # type: ignore[attr-defined]


def _drift_report(folder: Path) -> Path:
    """A drift report as verify writes it, one of its findings holding markup a target sent."""
    from mockfabric.testing.drift import Finding, OperationResult, Report
    from mockfabric.testing.reports import write_json

    listing = OperationResult("ListWorkspaces", "GET", "/v1/workspaces", "control", requests=3)
    listing.statuses.update({"200": 2, "500": 1})
    listing.add(
        Finding(
            "ListWorkspaces",
            "status_code_conformance",
            "<img src=x onerror=alert(1)>",
            "undeclared 500",
            "positive",
            500,
            {"method": "GET"},
        )
    )
    created = OperationResult("CreateWorkspace", "POST", "/v1/workspaces", "control", requests=2)
    created.statuses.update({"200": 2})
    path = folder / "drift.json"
    write_json(Report("http://target", 1, 5, False, False, {"ListWorkspaces": listing, "CreateWorkspace": created}), path)
    return path


def test_an_uploaded_drift_report_is_shown_as_the_html_report(browser: object, flow: tuple[Deployed, str], tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    deployed, _ = flow
    d = browser  # type: ignore[assignment]
    d.get(f"{deployed.fabric.base_url}/_mockfabric/ui/drift")  # type: ignore[attr-defined]
    d.find_element(_by("ID"), "report-file").send_keys(str(_drift_report(tmp_path)))  # type: ignore[attr-defined]
    d.find_element(_by("ID"), "show-report").click()  # type: ignore[attr-defined]
    frame = d.find_element(_by("ID"), "drift-report")  # type: ignore[attr-defined]
    WebDriverWait(d, 10).until(lambda driver: frame.is_displayed())
    d.switch_to.frame(frame)  # type: ignore[attr-defined]
    try:
        WebDriverWait(d, 10).until(lambda driver: "does NOT conform" in driver.find_element(_by("TAG_NAME"), "h1").text)
        bars = {e.get_attribute("data-operation") for e in d.find_elements(_by("CSS_SELECTOR"), "g.op-bar")}  # type: ignore[attr-defined]
        assert bars == {"ListWorkspaces", "CreateWorkspace"}
        assert "<img src=x onerror=alert(1)>" in d.find_element(_by("TAG_NAME"), "body").text  # type: ignore[attr-defined]
        assert not d.find_elements(_by("TAG_NAME"), "img")  # type: ignore[attr-defined]
    finally:
        d.switch_to.default_content()  # type: ignore[attr-defined]
    _shot(d, "drift")
    (tmp_path / "not-a-report.json").write_text('{"format": "something else"}', encoding="utf-8")
    d.find_element(_by("ID"), "report-file").send_keys(str(tmp_path / "not-a-report.json"))  # type: ignore[attr-defined]
    d.find_element(_by("ID"), "show-report").click()  # type: ignore[attr-defined]
    WebDriverWait(d, 10).until(lambda driver: "is not a mockfabric drift report" in driver.find_element(_by("ID"), "drift-error").text)


def test_the_journal_page_shows_new_requests_live(browser: object, flow: tuple[Deployed, str]) -> None:
    """The newest journal page refreshes its table while "live" is ticked: a request made after the page loaded
    appears in it without a reload."""
    from selenium.webdriver.support.ui import WebDriverWait

    deployed, _ = flow
    d = browser  # type: ignore[assignment]
    d.get(f"{deployed.fabric.base_url}/_mockfabric/ui/journal?tenant={deployed.fabric.tenant}")  # type: ignore[attr-defined]
    assert d.find_element(_by("ID"), "live").is_selected()  # type: ignore[attr-defined]
    marker = "live-marker-workspace"  # a workspace that does not exist: the request is journaled with its path
    assert deployed.session.get(f"{deployed.fabric.base_url}/v1/workspaces/{marker}/endpoints", timeout=10).status_code == 400
    WebDriverWait(d, 10).until(lambda driver: marker in driver.find_element(_by("ID"), "journal").text)
    _shot(d, "journal-live")
