"""The journal is bounded in bytes, pages its answers, and redacts every credential by rule, not by spelling."""

from __future__ import annotations

import gc
import tracemalloc
import uuid
from typing import Any

import pytest
import requests

from mockfabric import MockFabric, create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Settings
from mockfabric.fixture.journal import BODY_LIMIT, PAGE_ENTRIES, VALUE_LIMIT, Journal, JournalEntry
from mockfabric.redaction import REDACTED, redact_text, redacted_value

SIGNATURE = "a" * 64
HEADERS = {"X-Auth-Token": "journal-token", "X-Project-Id": "journal-project"}


def huge_request(client: Any, index: int) -> int:
    """The reported case: a 404 path, a 250 KB header and a 64 KB body, about 320 KB a request."""
    reply = client.post(
        f"/v1/no-such-route/{index}/" + "p" * 4000,
        data=b"b" * 70_000,
        headers={**HEADERS, "X-Filler": "h" * 250_000, "Content-Type": "application/json"},
    )
    return int(reply.status_code)


def test_memory_stays_within_the_byte_budget_under_huge_requests() -> None:
    budget = 2 * 1024 * 1024
    app = create_app(Settings(journal_bytes=budget), clock=ManualClock())
    client, journal = app.test_client(), app.extensions["mockfabric"].controls.journal
    for index in range(20):  # warm up: Flask, werkzeug and the app allocate their caches once
        huge_request(client, index)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(400):  # ~125 MB sent
            assert huge_request(client, index) == 404
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert journal.bytes_kept <= budget
    assert grown < 2 * budget, f"the journal grew memory by {grown} bytes with a budget of {budget}"


def test_each_entry_is_cut_to_its_limits_with_a_marker() -> None:
    app = create_app(Settings(), clock=ManualClock())
    client = app.test_client()
    huge_request(client, 1)
    entry = client.get("/_mockfabric/requests").get_json()["requests"][-1]
    assert entry["status"] == 404
    assert len(entry["path"]) < VALUE_LIMIT + 100 and entry["path"].endswith("characters in all]")
    assert entry["headers"]["X-Filler"].endswith("[truncated: 250000 characters in all]")
    assert len(entry["body"]) < BODY_LIMIT + 100 and entry["body"].endswith("[truncated: 70000 bytes in all]")


def test_the_oldest_entries_go_first_past_the_budget() -> None:
    journal = Journal(budget_bytes=100_000)
    for index in range(100):
        journal.record(entry(index, body=b"x" * 10_000))
    page = journal.page({})
    assert journal.bytes_kept <= 100_000 and 5 <= page["total"] < 10
    assert page["requests"][-1]["path"] == "/p/99" and page["next_since_seq"] is None


def test_answers_are_paged_and_the_handle_reads_every_page() -> None:
    count = PAGE_ENTRIES + 250
    with MockFabric() as fabric, requests.Session() as session:
        session.headers.update(fabric.headers)
        for index in range(count):
            assert session.get(f"{fabric.base_url}/v1/workspaces/{uuid.UUID(int=index)}/models").status_code == 400  # workspace not found
        first = requests.get(f"{fabric.base_url}/_mockfabric/requests", params={"tenant": fabric.tenant}, timeout=10).json()
        assert first["total"] == count and len(first["requests"]) == PAGE_ENTRIES
        assert first["next_since_seq"] == first["requests"][-1]["seq"]
        everything = fabric.requests()
        assert [e["path"] for e in everything] == [f"/v1/workspaces/{uuid.UUID(int=i)}/models" for i in range(count)]


def entry(index: int, *, tenant: str | None = "t", body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> JournalEntry:
    return JournalEntry.capture(
        at=1_700_000_000.0,
        request_id=f"r{index}",
        tenant=tenant,
        operation="ListWorkspaces",
        method="GET",
        path=f"/p/{index}",
        query="",
        status=200,
        fault=None,
        headers=headers or [],
        body=body,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("authorization", f"SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature={SIGNATURE}"),
        ("authorization", f"SDK-HMAC-SHA256 Access=AK1,SignedHeaders=host;x-sdk-date,Signature={SIGNATURE}"),
        ("authorization", f"sdk-hmac-sha256   Access = AK1 ,SignedHeaders= host;x-sdk-date ,  Signature ={SIGNATURE}"),
        ("authorization", f"Bearer {SIGNATURE}"),
        ("authorization", f"SDK-HMAC-SHA256 Signature={SIGNATURE}"),
        ("proxy-authorization", f"Basic {SIGNATURE}"),
        ("x-auth-token", SIGNATURE),
        ("x-subject-token", SIGNATURE),
        ("x-security-token", SIGNATURE),
        ("x-mockfabric-control-token", SIGNATURE),
        ("cookie", f"session={SIGNATURE}"),
        ("x-api-key", SIGNATURE),
        ("x-client-secret", SIGNATURE),
    ],
)
def test_every_credential_header_is_redacted_in_the_journal(name: str, value: str) -> None:
    journal = Journal()
    journal.record(entry(1, headers=[(name, value), ("user-agent", "kept")]))
    shown = journal.page({})["requests"][0]["headers"]
    assert SIGNATURE not in str(shown), shown
    assert shown["User-Agent"] == "kept"
    assert REDACTED in next(v for k, v in shown.items() if k.lower() == name)


def test_a_signature_keeps_its_ak_and_signed_headers_only() -> None:
    value = f"SDK-HMAC-SHA256 Access=AK1,SignedHeaders=host;x-sdk-date,Signature={SIGNATURE}"
    assert redacted_value("Authorization", value) == "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=***"


def test_free_text_loses_credential_values() -> None:
    line = f"curl -H 'X-Auth-Token: {SIGNATURE}' -H 'Authorization: Bearer {SIGNATURE}' -H 'X-Project-Id: p1' http://x/"
    cleaned = redact_text(line)
    assert SIGNATURE not in cleaned and "X-Project-Id: p1" in cleaned and "X-Auth-Token: ***" in cleaned


def test_the_control_token_never_reaches_the_journal_through_public_requests() -> None:
    app = create_app(Settings(control_token="control-secret-123"), clock=ManualClock())
    client = app.test_client()
    client.get("/v1/workspaces", headers={**HEADERS, "X-Mockfabric-Control-Token": "control-secret-123"})
    answer = client.get("/_mockfabric/requests", headers={"X-Mockfabric-Control-Token": "control-secret-123"})
    assert answer.status_code == 200 and "control-secret-123" not in answer.get_data(as_text=True)


def test_report_findings_lose_credentials_quoted_by_a_check() -> None:
    from mockfabric.testing.drift import Finding

    message = f"Reproduce with: curl -X GET -H 'X-Auth-Token: {SIGNATURE}' -H 'X-Project-Id: p1' http://127.0.0.1/v1/workspaces"
    finding = Finding("ListWorkspaces", "status_code_conformance", "Undocumented status", message, "positive", 418, {})
    assert SIGNATURE not in finding.message and "X-Project-Id: p1" in finding.message
