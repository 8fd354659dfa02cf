"""The harness can fail: an emulator broken on purpose (a WSGI wrapper that corrupts one answer) is caught, once per
check class. Each run covers one operation, so this stays quick."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from mockfabric.testing.harness import Harness
from mockfabric.testing.targets import in_process

Rewrite = Callable[[str, str, int, dict[str, str], bytes, bytes], tuple[int, dict[str, str], bytes]]


class Broken:
    """Wraps the emulator; `rewrite(method, path, status, headers, request_body, response_body)` may change the answer."""

    def __init__(self, app: Any, rewrite: Rewrite) -> None:
        self.app, self.rewrite = app, rewrite
        self.test_client = app.test_client  # the harness creates its known resources through this

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request_body = environ["wsgi.input"].read(length) if length else b""
        import io

        environ["wsgi.input"] = io.BytesIO(request_body)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = int(status.split()[0]), dict(headers)

        body = b"".join(self.app(environ, capture))
        status, headers, body = self.rewrite(
            environ["REQUEST_METHOD"], environ["PATH_INFO"], captured["status"], captured["headers"], request_body, body
        )
        headers["Content-Length"] = str(len(body))
        start_response(f"{status} X", list(headers.items()))
        return [body]


def only_for(method: str, suffix: str, change: Rewrite) -> Rewrite:
    def rewrite(m: str, path: str, status: int, headers: dict[str, str], request: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if m == method and path.endswith(suffix):
            return change(m, path, status, headers, request, body)
        return status, headers, body

    return rewrite


def server_error(*_: Any) -> tuple[int, dict[str, str], bytes]:
    return 500, {"Content-Type": "application/json"}, b'{"error_code": "common.00000500", "error_msg": "internal error"}'


def undeclared_status(
    m: str, p: str, status: int, headers: dict[str, str], request: bytes, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    return 206, headers, body


def wrong_content_type(
    m: str, p: str, status: int, headers: dict[str, str], request: bytes, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    return status, {**headers, "Content-Type": "text/html"}, body


def corrupt_field(m: str, p: str, status: int, headers: dict[str, str], request: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
    if status != 200:
        return status, headers, body
    data = json.loads(body)
    data["total"] = "many"
    return status, headers, json.dumps(data).encode()


def accept_anything(m: str, p: str, status: int, headers: dict[str, str], request: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
    answer = {"id": "e935d0ef-f4eb-4b95-aff1-9d33ae9f57a6", "name": "abcd"}
    return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


def reject_everything(
    m: str, p: str, status: int, headers: dict[str, str], request: bytes, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    refusal = {"error_code": "dataartsfabric.00010001", "error_msg": "body: rejected"}
    return 400, {"Content-Type": "application/json"}, json.dumps(refusal).encode()


def in_streams(old: bytes, new: bytes) -> Rewrite:
    """A rewrite replacing `old` by `new` in SSE answers only."""

    def rewrite(m: str, p: str, status: int, headers: dict[str, str], request: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if not headers.get("Content-Type", "").startswith("text/event-stream"):
            return status, headers, body
        return status, headers, body.replace(old, new)

    return rewrite


break_chunk_rules = in_streams(b"data: [DONE]\n\n", b"")  # a stream without its terminator
break_chunk_schema = in_streams(b'"object":"chat.completion.chunk"', b'"object":"chunk"')


@pytest.mark.parametrize(
    ("operation", "rewrite", "check"),
    [
        ("ListWorkspaces", only_for("GET", "/v1/workspaces", server_error), "not_a_server_error"),
        ("ListSpecs", only_for("GET", "/v1/specs", undeclared_status), "status_code_conformance"),
        ("ListFeatures", only_for("GET", "/v1/features", wrong_content_type), "content_type_conformance"),
        ("ListBaseModels", only_for("GET", "/v1/base-models", corrupt_field), "response_schema_conformance"),
        ("CreateWorkspace", only_for("POST", "/v1/workspaces", accept_anything), "negative_data_rejection"),
        ("CreateWorkspace", only_for("POST", "/v1/workspaces", reject_everything), "positive_data_acceptance"),
        ("InvokeModelService", only_for("POST", "/invocations", break_chunk_rules), "sse_chunk_rules"),
        ("InvokeModelService", only_for("POST", "/invocations", break_chunk_schema), "response_schema_conformance"),
    ],
    ids=["server-error", "status-code", "content-type", "response-schema", "negative-data", "positive-data", "sse-rules", "sse-schema"],
)
def test_each_check_class_catches_its_breakage(instant_app: Any, operation: str, rewrite: Rewrite, check: str) -> None:
    target = in_process(Broken(instant_app, rewrite))
    report = Harness(target, max_examples=8, seed=3, allow_billable=True, stateful=False, only={operation}).run()
    checks = {f.check for f in report.operations[operation].findings.values()}
    assert check in checks, (checks, [f.message[:200] for f in report.findings])
    assert not report.passed


def test_an_intact_emulator_passes_the_same_runs(instant_app: Any) -> None:
    report = Harness(
        in_process(instant_app),
        max_examples=8,
        seed=3,
        allow_billable=True,
        stateful=False,
        only={"ListWorkspaces", "ListSpecs", "ListFeatures", "ListBaseModels", "CreateWorkspace", "InvokeModelService"},
    ).run()
    assert report.passed, [(f.operation, f.check, f.message[:200]) for f in report.findings]


@pytest.mark.parametrize(
    ("operation", "rewrite", "check", "expected", "actual", "schema_path_end"),
    [
        ("ListSpecs", only_for("GET", "/v1/specs", undeclared_status), "status_code_conformance", "200", 206, None),
        ("ListBaseModels", only_for("GET", "/v1/base-models", corrupt_field), "response_schema_conformance", None, "many", "type"),
        ("CreateWorkspace", only_for("POST", "/v1/workspaces", accept_anything), "negative_data_rejection", "400", 200, None),
    ],
    ids=["status-code", "response-schema", "negative-data"],
)
def test_a_finding_says_what_was_expected_and_what_came(
    instant_app: Any, operation: str, rewrite: Rewrite, check: str, expected: str | None, actual: Any, schema_path_end: str | None
) -> None:
    """A built-in check's finding carries the particulars: the statuses allowed and the one answered, or the part of
    the answer that violates its schema and the schema keyword it fails."""
    target = in_process(Broken(instant_app, rewrite))
    report = Harness(target, max_examples=8, seed=3, allow_billable=True, stateful=False, only={operation}).run()
    finding = next(f for f in report.operations[operation].findings.values() if f.check == check)
    if expected is None:
        assert finding.expected is None
    else:
        assert expected in finding.expected, finding
    assert finding.actual == actual, finding
    if schema_path_end is None:
        assert finding.schema_path is None
    else:
        assert finding.schema_path and finding.schema_path[-1] == schema_path_end, finding
