"""The harness signs with huaweicloudsdkcore's Signer: a strict-mode emulator (which verifies every signature) is
verified read-only through SdkSignerAuth, queries and repeated parameters included."""

from __future__ import annotations

import json
from pathlib import Path

from mockfabric import MockFabric
from mockfabric.testing.harness import Harness
from mockfabric.testing.targets import Target


def test_strict_emulator_verifies_with_signed_requests(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"credentials": [{"ak": "AKHARNESS1", "sk": "harness-secret", "project_id": "project-harness"}]}))
    with MockFabric(clock="system", auth="strict", credentials=str(credentials)) as fabric:
        target = Target(
            kind="emulator",
            admin_url=fabric.base_url,
            ep_url=fabric.base_url,
            ak="AKHARNESS1",
            sk="harness-secret",
            project_id="project-harness",
        )
        report = Harness(target, max_examples=4, seed=2, read_only=True).run()
        statuses = {code for result in report.operations.values() for code in result.statuses}
        assert report.passed and "401" not in statuses, [(f.operation, f.message[:200]) for f in report.findings]
        assert report.operations["ListSpecs"].requests > 0
        wrong = Target(kind="emulator", admin_url=fabric.base_url, ak="AKHARNESS1", sk="not-the-secret", project_id="project-harness")
        refused = Harness(wrong, max_examples=2, seed=2, read_only=True, only={"ListFeatures"}).run()
        assert set(refused.operations["ListFeatures"].statuses) == {"401"}
