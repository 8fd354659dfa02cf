"""Credentials in a query string or in headers such as X-Access-Key never reach the journal, a recording or the
drift report in the clear (issue 28, item 8). Over real sockets, through the proxy to a served emulator."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from mockfabric import MockFabric

from .running import RunningProxy

SECRETS = ("qs-token-1", "qs-sig-2", "qs-key-3", "hdr-access-4", "hdr-secret-5")
QUERY = f"limit=5&access_token={SECRETS[0]}&sig={SECRETS[1]}&ak={SECRETS[2]}"
HEADERS = {"X-Auth-Token": "t0k3n", "X-Access-Key": SECRETS[3], "X-Secret-Key": SECRETS[4]}


def test_query_and_header_credentials_are_redacted_everywhere(tmp_path: Path) -> None:
    with MockFabric() as upstream, RunningProxy(upstream.base_url, record=str(tmp_path / "rec")) as proxy:
        for base in (upstream.base_url, proxy.url):
            reply = requests.get(f"{base}/v1/workspaces?{QUERY}", headers=HEADERS, timeout=10)
            assert reply.status_code == 200, reply.text
        journal = requests.get(f"{upstream.base_url}/_mockfabric/requests", timeout=10).text
        report = json.dumps(proxy.report())
    recordings = "".join(path.read_text(encoding="utf-8") for path in (tmp_path / "rec").glob("*.json"))
    assert recordings and "limit=5" in journal and "limit=5" in recordings  # the rest of the query is kept
    for where, text in (("journal", journal), ("recording", recordings), ("report", report)):
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, f"{where} holds {leaked}"


def test_more_secret_names_and_separators_are_redacted() -> None:
    from mockfabric.redaction import redact_query

    query = "api_key=1&auth=2&private_key=3&pass=4&jwt=5&bearer=6&code=7&t%00oken=8&a=1;token=9&name=kept"
    assert (
        redact_query(query)
        == "api_key=***&auth=***&private_key=***&pass=***&jwt=***&bearer=***&code=***&t%00oken=***&a=1;token=***&name=kept"
    )
