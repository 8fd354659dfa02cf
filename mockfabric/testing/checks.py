"""What the contract harness checks beyond schemathesis's own checks, and how a check's failure becomes a Finding.

Ours: a schema-valid request must not be refused as a schema violation (400 with dataartsfabric.00010001 /
common.01000001; other 400s are the service's documented business answers, e.g. not-found is 400), and every SSE
answer is checked event by event against ChatCompletionChunk and across events (mockfabric.testing.streams).
A schemathesis failure becomes a Finding by what its check compares (`_particulars`), worked out from the contract."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..contracts import public_contract
from .drift import JSON_TYPES, Finding, json_ready
from .streams import chunk_rule_problems, parse_sse

SCHEMA_REJECTION_CODES = frozenset({"dataartsfabric.00010001", "common.01000001"})
MAX_STREAM_EVENTS = 100_000  # read whole streams (schemathesis stops at 20 events by default): the rules span all events
POSITIVE_STATUSES = ["2XX", "400", "401", "404"]  # documented: not-found and business rules are 400
NEGATIVE_STATUSES = ["400", "401", "404", "405", "413"]


def request_of(case: Any, response: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"method": case.method.upper(), "path": case.formatted_path, "query": json_ready(case.query or {})}
    if isinstance(case.body, bytes | bytearray):
        request["body"] = case.body[:500].decode("utf-8", errors="replace")
    elif isinstance(case.body, JSON_TYPES):  # no body at all (schemathesis' NotSet) is left out, not rendered
        request["body"] = json_ready(case.body)
    url = getattr(getattr(response, "request", None), "url", None) if response is not None else None
    if isinstance(url, str):
        request["url"] = url
    return request


def finding_of(operation: str, check: str, failure: Any, mode: str, response: Any, case: Any) -> Finding:
    """A failure of schemathesis's built-in `check` as a Finding: its title and message, and what was expected
    and seen, worked out here from the check, the contract and the answer."""
    expected, actual, schema_path = _particulars(check, case, response)
    return Finding(
        operation,
        check,
        failure.title,
        str(failure.message)[:1000],
        mode,
        response.status_code,
        request_of(case, response),
        expected=json_ready(expected),
        actual=json_ready(actual),
        schema_path=list(schema_path) if schema_path is not None else None,
    )


def _particulars(check: str, case: Any, response: Any) -> tuple[Any, Any, Any]:
    """(expected, actual, schema path) of a built-in check's failure; None where the check says nothing more.

    Worked out here rather than read off schemathesis's failure classes, which live in modules it does not make
    public: the statuses the contract declares or the checks were configured with, and the part of the answer
    that violates its schema (jsonschema's verdict on the contract's response schema)."""
    status = response.status_code
    if check == "status_code_conformance":
        return [str(code) for code in case.operation.definition.raw.get("responses") or {}], status, None
    if check == "positive_data_acceptance":
        return list(POSITIVE_STATUSES), status, None
    if check == "negative_data_rejection":
        return list(NEGATIVE_STATUSES), status, None
    if check == "response_schema_conformance":
        violation = _schema_violation(case, response)
        if violation is not None:
            return None, violation[0], violation[1]
    return None, None, None


def _schema_violation(case: Any, response: Any) -> tuple[Any, list[Any]] | None:
    """(the violating part, its schema path) of a JSON answer the contract's response schema rejects."""
    operation = public_contract().operations.get(str(case.operation.definition.raw.get("operationId")))
    media = _header(response, "Content-Type").split(";", 1)[0].strip().lower()
    check = operation.response_checks.get((response.status_code, media)) if operation is not None else None
    if check is None:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return check.violation(body)


def _header(response: Any, name: str) -> str:
    """A response header whatever shape the transport gives (schemathesis keeps lower-cased names and lists of values)."""
    for key, value in response.headers.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) and value else value)
    return ""


def own_checks(operation: str, case: Any, response: Any, mode: str) -> Iterator[Finding]:
    content_type = _header(response, "Content-Type")
    if mode == "positive" and response.status_code == 400:
        try:
            code = response.json().get("error_code")
        except (ValueError, AttributeError):
            code = None
        if code in SCHEMA_REJECTION_CODES:
            yield Finding(
                operation,
                "positive_data_acceptance",
                "Schema-valid request refused as a schema violation",
                response.text[:500],
                mode,
                400,
                request_of(case, response),
                expected="2xx or a business 400",
                actual=code,
            )
    if content_type.startswith("text/event-stream") and response.status_code == 200:
        yield from _stream_findings(operation, case, response, mode)


def _stream_findings(operation: str, case: Any, response: Any, mode: str) -> Iterator[Finding]:
    if getattr(response, "stream_cut_short", False):
        yield Finding(
            operation,
            "sse_chunk_rules",
            "Stream not read to its end",
            f"more than {MAX_STREAM_EVENTS} events or a read timeout",
            mode,
            200,
            request_of(case, response),
        )
        return
    text = response.content.decode("utf-8", errors="replace")
    stream = parse_sse(text.splitlines(keepends=True))
    check = public_contract().component_check("ChatCompletionChunk")
    for index, chunk in enumerate(stream.chunks):
        problem = check.problem(chunk)
        if problem is not None:
            yield Finding(
                operation,
                "sse_event_conformance",
                "Stream event violates ChatCompletionChunk",
                f"event {index}: {problem}",
                mode,
                200,
                request_of(case, response),
                actual=chunk,
            )
            break
    body = case.body if isinstance(case.body, dict) else {}
    include_usage = bool((body.get("stream_options") or {}).get("include_usage")) if isinstance(body.get("stream_options"), dict) else False
    problems = chunk_rule_problems(stream, include_usage=include_usage)
    if problems:
        yield Finding(
            operation,
            "sse_chunk_rules",
            "Stream breaks the chunk rules",
            "; ".join(problems)[:1000],
            mode,
            200,
            request_of(case, response),
        )
