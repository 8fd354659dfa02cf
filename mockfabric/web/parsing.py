"""Turn an HTTP request into a validated `Call`: typed parameters and a JSON body, or a Huawei 400 naming the field."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from ..contracts import Operation, Parameter, Problem
from ..errors import SCHEMA_ERROR_CODES, ApiError, MalformedRequest, ValidationFailed
from ..service.core import Actor
from ..text import decode_json, invalid_text_in
from .front import request_body, request_headers


@dataclass(slots=True)
class Call:
    """One request, validated: who sends it, the base URL it was sent to, its typed path and query parameters, its
    JSON body, and what the operation's preparation worked out before the store lock."""

    actor: Actor
    base_url: str
    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    prepared: Any = None


INTEGER = re.compile(r"^-?\d{1,18}$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def _coerce(parameter: Parameter, text: str, kind: str) -> Any:
    if kind == "integer":
        if not INTEGER.match(text):
            raise MalformedRequest(f"{parameter.location}.{parameter.name}: {text!r} is not an integer (type mismatch)")
        return int(text)
    if kind == "number":
        if not NUMBER.match(text):
            raise MalformedRequest(f"{parameter.location}.{parameter.name}: {text!r} is not a number (type mismatch)")
        return float(text)
    if kind == "boolean":
        if text not in ("true", "false"):
            raise MalformedRequest(f"{parameter.location}.{parameter.name}: {text!r} is not true or false (type mismatch)")
        return text == "true"
    return text


QueryArgs = Callable[[], MultiDict[str, str]]


def _parameters(
    operation: Operation, environ: dict[str, Any], query_args: QueryArgs, path_values: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    path: dict[str, Any] = {}
    query: dict[str, Any] = {}
    args: MultiDict[str, str] | None = None  # request.args parses on first use: not asked for when there is no query
    for parameter in operation.parameters:
        if parameter.location == "path":
            path[parameter.name] = path_values[parameter.name]
        elif parameter.location == "query" and environ.get("QUERY_STRING"):
            args = args if args is not None else query_args()
            if parameter.name not in args:
                continue
            if parameter.kind == "array":
                query[parameter.name] = [_coerce(parameter, v, parameter.item_kind) for v in args.getlist(parameter.name)]
            else:
                query[parameter.name] = _coerce(parameter, args[parameter.name], parameter.kind)
    present = dict(request_headers(environ))  # read once per request, shared with auth and the journal
    headers = {p.name: present[p.name.lower()] for p in operation.parameters if p.location == "header" and p.name.lower() in present}
    for check, values in ((operation.path_check, path), (operation.query_check, query), (operation.header_check, headers)):
        problem = check.problem(values) if check is not None else None
        if problem is not None:
            raise _refusal(problem)
    return path, query


def _body(operation: Operation, environ: dict[str, Any]) -> Any:
    raw = request_body(environ)  # read even when unused: auth and the journal share it
    if operation.body_check is None:
        return None  # the SDK sends Content-Type: application/json with an empty body on GET/DELETE: not an error
    if not raw.strip():
        if operation.body_required:
            raise ValidationFailed("body: a JSON request body is required")
        return None
    mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if mimetype != "application/json":
        raise MalformedRequest(f"Content-Type must be application/json, not {mimetype or 'absent'!r}")
    try:
        body = decode_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedRequest(f"failed to read http request, please check your input: body is not valid JSON ({exc})"[:300]) from None
    invalid = invalid_text_in(raw, body, "body")
    if invalid is not None:
        raise ValidationFailed(f"{invalid}: not valid Unicode (a lone UTF-16 surrogate escape such as \\ud800)")
    problem = operation.body_check.problem(body)
    if problem is not None:
        raise _refusal(problem)
    if operation.nulls_absent and isinstance(body, dict) and None in body.values():
        return {name: value for name, value in body.items() if value is not None}  # what openai sends for a None
    return body


def _refusal(problem: Problem) -> ApiError:
    """A value of the wrong type is the service's documented type mismatch (common.01000001); a missing or empty
    value whose schema names the service's code for it (`x-empty-error-code`) gets that code; a value outside a
    constraint gets the emulator's validation code (dataartsfabric.00010001, inferred: none is documented)."""
    if problem.type_mismatch:
        return MalformedRequest(str(problem))
    return SCHEMA_ERROR_CODES.get(problem.error_code or "", ValidationFailed)(str(problem))


def parse_call(
    operation: Operation, environ: dict[str, Any], query_args: QueryArgs, path_values: dict[str, str], actor: Actor, base_url: str
) -> Call:
    """The request (its WSGI environ; `query_args` parses its query string, asked for only when it has one) as a Call."""
    path, query = _parameters(operation, environ, query_args, path_values)
    return Call(actor, base_url, path, query, _body(operation, environ))
