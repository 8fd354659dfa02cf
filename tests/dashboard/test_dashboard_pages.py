"""The dashboard's pages over HTTP: who may look, what `/` answers, escaping, and the cost with 10 000 workspaces."""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

import requests

from mockfabric import MockFabric, create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Settings
from mockfabric.dashboard import pages

UI = "/_mockfabric/ui"
PAGES = ("/", "/resources", "/journal", "/fixtures")


def test_with_a_control_token_pages_need_it_and_the_cookie_carries_it() -> None:
    with MockFabric(control_token="s3cret") as fabric:
        for page in PAGES:
            refused = requests.get(f"{fabric.base_url}{UI}{page}")
            assert refused.status_code == 401 and 'id="token"' not in refused.text and "id=token" in refused.text
            assert "s3cret" not in refused.text
        wrong = requests.get(f"{fabric.base_url}{UI}/", cookies={"mockfabric-control-token": "guess"})
        assert wrong.status_code == 401
        assert requests.get(f"{fabric.base_url}{UI}/", cookies={"mockfabric-control-token": "s3cret"}).status_code == 200
        assert requests.get(f"{fabric.base_url}{UI}/", headers={"X-Mockfabric-Control-Token": "s3cret"}).status_code == 200


def test_strict_auth_without_a_control_token_closes_the_dashboard(tmp_path: Any) -> None:
    credentials = tmp_path / "ids.yaml"
    credentials.write_text("credentials:\n  - {token: tok-a, project_id: project-a}\n", encoding="utf-8")
    app = create_app(Settings(auth="strict", credentials=str(credentials)), clock=ManualClock())
    client = app.test_client()
    for page in PAGES:
        answer = client.get(UI + page, headers={"X-Auth-Token": "tok-a"})
        assert answer.status_code == 403 and b"control token" in answer.data


def test_guard_rules_apply() -> None:
    app = create_app(Settings(), clock=ManualClock())
    client = app.test_client()
    assert client.get(UI + "/", headers={"Host": "evil.example"}).status_code == 403  # DNS rebinding
    assert client.get(UI + "/", headers={"Origin": "http://evil.example"}).status_code == 403  # another site's page
    assert client.get(UI + "/").status_code == 200


def test_root_links_a_browser_to_the_dashboard_and_stays_404_for_api_clients() -> None:
    client = create_app(Settings(), clock=ManualClock()).test_client()
    browser = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 200 and f'href="{UI}/"'.encode() in browser.data
    api = client.get("/", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.get_json()["error_code"] == "APIG.0101"


def test_a_lone_surrogate_and_markup_from_a_client_are_shown_escaped() -> None:
    client = create_app(Settings(), clock=ManualClock()).test_client()
    headers = {"X-Auth-Token": "t", "Content-Type": "application/json"}
    client.post("/v1/workspaces", data=b'{"name": "\\ud800<b>x</b>"}', headers=headers)  # refused; journaled as sent
    client.get("/v1/workspaces?name=%ED%A0%80%3Cscript%3E", headers=headers)
    journal = client.get(UI + "/journal")
    assert journal.status_code == 200 and b"<script>" not in journal.data.split(b"</script>", 1)[1]
    journal.data.decode("utf-8")  # the page itself is valid UTF-8
    for seq in (1, 2):
        entry = client.get(f"{UI}/journal/{seq}")
        assert entry.status_code == 200 and b"<b>x</b>" not in entry.data
        entry.data.decode("utf-8")


def _timed(client: Any, path: str, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_pages_answer_within_100_ms_with_10000_workspaces() -> None:
    app = create_app(Settings(seed=1), clock=ManualClock())
    client = app.test_client()
    headers = {"X-Auth-Token": "t", "X-Project-Id": "big-tenant"}
    for index in range(10_000):
        assert client.post("/v1/workspaces", json={"name": f"workspace-{index:05d}"}, headers=headers).status_code == 200
    reference = _timed(client, "/healthcheck")
    for page in (f"{UI}/", f"{UI}/resources?tenant=big-tenant", f"{UI}/resources?tenant=big-tenant&q=workspace-0999", f"{UI}/journal"):
        took = _timed(client, page)
        assert took < 0.1, (page, took, reference)


def test_the_drift_page_renders_a_report_and_refuses_what_is_not_one() -> None:
    with MockFabric() as fabric:
        page = requests.get(f"{fabric.base_url}/_mockfabric/ui/drift", timeout=10)
        assert page.status_code == 200 and "id=report-file type=file" in page.text
        report = {
            "format": "mockfabric-drift-report/1",
            "target": "<b>t</b>",
            "operations": {
                "ListWorkspaces": {"statuses": {"200": 1}, "findings": [{"check": "<script>x</script>", "title": "t", "message": "\ud800"}]}
            },
        }
        shown = requests.post(f"{fabric.base_url}/_mockfabric/ui/drift", json=report, timeout=10)
        assert shown.status_code == 200 and shown.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert "<script>x</script>" not in shown.text and "&lt;script&gt;x&lt;/script&gt;" in shown.text
        for body, reason in (
            (b"{", "not a JSON drift report"),
            (b'{"format": 1}', "is not a mockfabric drift report"),
            (b'{"format": "mockfabric-drift-report/1", "operations": {"A": 1}}', "operation A is not an object"),
            (b"[" * 100_000, "not a JSON drift report"),
            (b"\xff", "not a JSON drift report"),
        ):
            refused = requests.post(
                f"{fabric.base_url}/_mockfabric/ui/drift", data=body, headers={"Content-Type": "application/json"}, timeout=10
            )
            assert refused.status_code == 400 and reason in refused.json()["error_msg"], (body[:20], refused.text[:200])
        assert requests.get(f"{fabric.base_url}/healthcheck", timeout=10).status_code == 200


def test_a_strict_miss_is_journaled_with_its_error_and_listed_with_its_closest_fixtures(tmp_path: Any) -> None:
    from ..serving.flow import deploy

    path = tmp_path / "answers.yaml"
    path.write_text("fixtures:\n  - match: {user: {contains: weather}}\n    answer: {content: Sunny.}\n", encoding="utf-8")
    with MockFabric(fixtures=str(path), strict_fixtures=True) as fabric:
        flow = deploy(fabric)
        said = {"messages": [{"role": "user", "content": "<b>hello</b> there"}], "stream": False}
        assert flow.invoke(said).status_code == 501
        (miss,) = fabric.requests(status=501)
        assert miss["error"]["error_code"] == "mockfabric.00000501" and "answers.yaml#0 (0 of 1 conditions)" in miss["error"]["error_msg"]
        page = requests.get(f"{fabric.base_url}{UI}/fixtures", timeout=10).text
        row = page[page.index('id="misses"') :]
        assert "answers.yaml#0 (0 of 1 conditions)" in row and "&lt;b&gt;hello&lt;/b&gt; there" in row and "<b>hello" not in row
        entry = requests.get(f"{fabric.base_url}{UI}/journal/{miss['seq']}", timeout=10).text
        assert "Error answered" in entry and "mockfabric.00000501" in entry
        flow.session.close()


def test_past_1000_journaled_requests_the_overview_counts_them_all_and_the_journal_starts_at_the_newest() -> None:
    """A new user's find: with 1 600 entries the overview said "1 journaled request(s)" and the journal page began at
    seq 1000, its newest 600 unreachable."""
    client = create_app(Settings(), clock=ManualClock()).test_client()
    headers = {"X-Auth-Token": "t", "X-Project-Id": "many"}
    for _ in range(1600):
        client.get("/v1/workspaces", headers=headers)
    overview = client.get(UI + "/").get_data(as_text=True)
    assert "1600 journaled request(s)" in overview, overview[:2000]
    journal = client.get(UI + "/journal").get_data(as_text=True)
    seqs = [int(seq) for seq in re.findall(r'href="/_mockfabric/ui/journal/(\d+)"', journal)]
    assert seqs[:3] == [1600, 1599, 1598] and len(seqs) == 50, seqs[:5]
    older = re.search(r'href="(/_mockfabric/ui/journal\?[^"]*before=1551[^"]*)"', journal)
    assert older is not None, journal[-1500:]
    limited = client.get("/_mockfabric/requests?limit=2").get_json()
    assert limited["total"] == 1600 and [e["seq"] for e in limited["requests"]] == [1599, 1600]


def test_an_unpaced_stream_is_shown_as_0_ms_long() -> None:
    drawn = pages.timeline(0.0, {"stream": 0.0, "first_token": 0.0, "chunks": [0.0, 0.0]})
    assert "stream 0 ms" in drawn and "e-09" not in drawn
