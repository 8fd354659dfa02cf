"""Every proxied exchange checked against the contract, as it ends; findings gathered into a drift report.

What must hold: a finding names the check (schemathesis's names where the check is the same), the exchange (method,
path, query, at most 500 characters of body, the upstream's X-Request-Id, the recording's file), and expected vs
actual; it holds no credential. Checks: the request (declared route, required body, JSON, body and query against
their schemas: reported, the request was still forwarded), the status (declared?), the content type (declared for
that status?), the body against its schema or, for an error without one, the service's error shape, each stream
event against ChatCompletionChunk and the cross-event stream rules. The report is `mockfabric verify --report`'s
format (`mockfabric-drift-report/1`), so `mockfabric diff` compares the two.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import orjson

from ..contracts import Contract, Operation
from ..redaction import redact_parameters
from ..testing.drift import Finding, OperationResult, Report, json_ready
from ..testing.streams import DONE, Stream, chunk_rule_problems
from ..text import strict_json
from .exchange import Exchange

log = logging.getLogger("mockfabric.proxy")
UNDECLARED = "(undeclared)"
MODE = "proxied"


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class Inspector:
    """Checks exchanges and keeps the report: one per proxy, used from its event loop only."""

    def __init__(self, contract: Contract, target: str) -> None:
        self.contract = contract
        operations = {name: OperationResult(name, op.method, op.path, op.plane) for name, op in sorted(contract.operations.items())}
        operations[UNDECLARED] = OperationResult(UNDECLARED, "*", "*", "*")
        self.report = Report(target=target, seed=0, max_examples=0, read_only=False, allow_billable=True, operations=operations)

    def inspect(self, exchange: Exchange, recording: str | None = None) -> list[Finding]:
        name = exchange.operation.operation_id if exchange.operation is not None else UNDECLARED
        result = self.report.operations[name]
        result.requests += 1
        result.statuses[str(exchange.status)] += 1
        if exchange.client_cut is not None:
            return []  # what the client did not take says nothing about the service
        request = self._request_of(exchange, recording)
        findings = [
            Finding(name, check, title, message, MODE, exchange.status, request, expected=json_ready(expected), actual=json_ready(actual))
            for check, title, message, expected, actual in self._problems(exchange)
        ]
        for finding in findings:
            result.add(finding)
            log.warning(
                "drift: %s %s %s -> %s: %s (%s)",
                name,
                exchange.method,
                exchange.path,
                exchange.status,
                finding.title,
                finding.message[:300],
            )
        return findings

    def report_dict(self) -> dict[str, Any]:
        self.report.seconds = time.time() - self.report.started
        return self.report.as_dict()

    @staticmethod
    def _request_of(exchange: Exchange, recording: str | None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "method": exchange.method,
            "path": exchange.path,
            "query": redact_parameters(dict(parse_qsl(exchange.query))),
        }
        if exchange.request_body:
            request["body"] = exchange.request_body[:500].decode("utf-8", errors="replace")
        request_id = exchange.header("x-request-id")
        if request_id:
            request["request_id"] = request_id
        if recording is not None:
            request["recording"] = recording
        return request

    def _problems(self, exchange: Exchange) -> Iterator[tuple[str, str, str, Any, Any]]:
        operation = exchange.operation
        if operation is None:
            yield "undeclared_operation", "Request to a route the contract lacks", f"{exchange.method} {exchange.path}", None, None
            return
        yield from _request_problems(operation, exchange)
        if exchange.status is None:
            return
        declared = operation.spec.get("responses", {})
        code = str(exchange.status)
        status_key = next((key for key in (code, f"{code[0]}XX", "default") if key in declared), None)
        if status_key is None:
            yield "status_code_conformance", "Undocumented HTTP status code", f"{code} is not declared", sorted(declared), exchange.status
            yield from self._error_shape(exchange)
            return
        media = _media(exchange.header("content-type"))
        content = self.contract.resolve(declared[status_key]).get("content", {})
        if content and media not in content and (exchange.body or exchange.events):
            yield (
                "content_type_conformance",
                "Undocumented Content-Type",
                f"{media or 'none'} is not declared for {code}",
                sorted(content),
                media,
            )
            return
        if exchange.cut_short is not None:
            yield "response_not_checked", "Answer not checked whole", exchange.cut_short, None, None
        if exchange.is_stream:
            yield from _stream_problems(self.contract, exchange)
            return
        check = operation.response_checks.get((exchange.status, media))
        if check is None:
            if exchange.status >= 400:
                yield from self._error_shape(exchange)
            return
        try:
            body = strict_json(bytes(exchange.body), "response") if exchange.body else None
        except ValueError as exc:
            yield "response_schema_conformance", "Response is not JSON", f"{exc}: {_shown(exchange.body)}", media, None
            return
        problem = check.problem(body)
        if problem is not None:
            yield "response_schema_conformance", "Response violates schema", str(problem), None, body if len(exchange.body) < 4000 else None

    @staticmethod
    def _error_shape(exchange: Exchange) -> Iterator[tuple[str, str, str, Any, Any]]:
        if exchange.status is None or exchange.status < 400:
            return
        try:
            body = strict_json(bytes(exchange.body), "response")
        except ValueError:
            body = None
        if not (isinstance(body, dict) and isinstance(body.get("error_code"), str) and isinstance(body.get("error_msg"), str)):
            text = _shown(exchange.body, 300)
            yield "error_body_shape", "Error answer is not {error_code, error_msg}", text, "{error_code, error_msg}", text


def _shown(raw: bytes | bytearray, limit: int = 200) -> str:
    """The start of a body for a finding's message, as valid text (escapes stay as written)."""
    return bytes(raw[:limit]).decode("utf-8", "replace")


def _request_problems(operation: Operation, exchange: Exchange) -> Iterator[tuple[str, str, str, Any, Any]]:
    body: Any = None
    if exchange.request_body:
        try:
            body = strict_json(exchange.request_body)
        except ValueError as exc:
            yield "request_conformance", "Request body is not JSON", f"{exc}: {_shown(exchange.request_body)}", None, None
            return
    elif operation.body_required:
        yield "request_conformance", "Request without its required body", "the contract requires a JSON body", None, None
        return
    if body is not None and operation.body_check is not None:
        problem = operation.body_check.problem(body)
        if problem is not None:
            yield "request_conformance", "Request body violates schema", str(problem), None, None
    query = dict(parse_qsl(exchange.query))
    required = [p.name for p in operation.parameters if p.location == "query" and p.required and p.name not in query]
    unknown = sorted(set(query) - {p.name for p in operation.parameters if p.location == "query"})
    if required:
        yield "request_conformance", "Request without a required query parameter", ", ".join(required), None, None
    if unknown:
        yield "request_conformance", "Request with an undeclared query parameter", ", ".join(unknown), None, None


def _stream_problems(contract: Contract, exchange: Exchange) -> Iterator[tuple[str, str, str, Any, Any]]:
    stream = Stream(problems=list(exchange.framing))
    for event in exchange.events:
        if event.data == DONE:
            stream.events.append(DONE)
            continue
        try:
            stream.events.append(orjson.loads(event.data))  # strict JSON, ~3x json's speed: a stream has thousands
        except ValueError:
            stream.problems.append(f"event is not JSON: {event.data[:80]!r}")
    check = contract.component_check("ChatCompletionChunk")
    for index, chunk in enumerate(stream.chunks):
        problem = check.problem(chunk)
        if problem is not None:
            yield "sse_event_conformance", "Stream event violates ChatCompletionChunk", f"event {index}: {problem}", None, chunk
            break
    try:
        asked = strict_json(exchange.request_body) if exchange.request_body else {}
    except ValueError:
        asked = {}
    options = asked.get("stream_options") if isinstance(asked, dict) else None
    include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
    problems = chunk_rule_problems(stream, include_usage=include_usage)
    if problems:
        yield "sse_chunk_rules", "Stream breaks the chunk rules", "; ".join(problems)[:1000], None, None
