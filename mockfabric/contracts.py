"""Loads the contracts once (they ship inside the wheel) and compiles the validators the web layer uses.

No shape is typed in Python: request parameters, bodies and responses are all checked against
`contracts/openapi.yaml` through jsonschema, with `$ref`s resolved by a referencing registry.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

PUBLIC = "openapi.yaml"
CONTROL = "control.openapi.yaml"
_BASE_URI = "urn:mockfabric:"


def contracts_dir() -> Path:
    """The packaged copy (wheel installs) or, in a source checkout, the repository's `contracts/`."""
    packaged = Path(str(resources.files("mockfabric"))) / "contracts"
    if (packaged / PUBLIC).is_file():
        return packaged
    source = Path(__file__).resolve().parent.parent / "contracts"
    if (source / PUBLIC).is_file():
        return source
    raise FileNotFoundError(f"contracts not found in {packaged} or {source}")


@functools.cache
def load_document(name: str = PUBLIC) -> dict[str, Any]:
    """The contract document: the JSON a wheel ships beside the YAML (parsed in a millisecond), else the YAML."""
    folder = contracts_dir()
    parsed = folder / name.replace(".yaml", ".json")
    document: dict[str, Any]
    if parsed.is_file():
        document = json.loads(parsed.read_bytes())
        return document
    import yaml

    with open(folder / name, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return document


def _pointer(*parts: str) -> str:
    return "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation failure: where (`body.reserved_resource.mu.max`) and what; `type_mismatch` when the value is
    of the wrong JSON type (the service's documented "Type mismatch" answer) rather than outside a constraint."""

    where: str
    message: str
    type_mismatch: bool = False
    error_code: str | None = None  # the schema's own code for it (`x-empty-error-code`), else the emulator's

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


EMPTY = ("minLength", "minItems")  # the failures `x-empty-error-code` names, with a missing value (`required`)


def _problem(error: ValidationError, root: str) -> Problem:
    path = ".".join(str(part) for part in error.absolute_path)
    where = f"{root}.{path}" if path and root else (path or root)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in cast(list[str], error.validator_value) if name not in error.instance]
        if missing:
            declared = schema.get("properties", {}).get(missing[0], {})
            code = declared.get("x-empty-error-code") if isinstance(declared, Mapping) else None
            return Problem(f"{where}.{missing[0]}" if where else missing[0], "is required", error_code=code)
    exclusive = error.validator_value.get("required", []) if error.validator == "not" and isinstance(error.validator_value, dict) else []
    if len(exclusive) == 2:  # `not: {required: [a, b]}`: the two fields exclude each other
        return Problem(f"{where}.{exclusive[1]}", f"must not be sent together with {exclusive[0]}")
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    code = schema.get("x-empty-error-code") if error.validator in EMPTY else None
    return Problem(where, message, type_mismatch=error.validator == "type", error_code=code)


class SchemaCheck:
    """A validator for one schema of a contract document, reporting the most relevant problem. Compiled on first
    use, so that starting the emulator compiles none of the ~80 schemas a run may never touch."""

    def __init__(self, registry: Registry, uri: str, pointer: str, root: str, fast: Callable[[], jsonschema_rs.Registry]) -> None:
        self._where = (registry, uri, pointer, fast)
        self._root = root
        self._compiled: tuple[Any, Draft202012Validator] | None = None

    def _compile(self) -> tuple[Any, Draft202012Validator]:
        registry, uri, pointer, fast = self._where
        # Validate against the sub-schema itself (its local refs made absolute) rather than a {"$ref": ...} wrapper,
        # so the top-level reference is not resolved again on every request.
        schema = registry.resolver().lookup(f"{uri}#{pointer}" if pointer else uri).contents
        while set(schema) == {"$ref"} and schema["$ref"].startswith("#"):  # a body is often just a $ref
            schema = registry.resolver().lookup(uri + schema["$ref"]).contents
        schema = _rebase(schema, uri)
        # jsonschema-rs answers the common case (valid) ~40x faster than jsonschema; jsonschema, whose ranked
        # errors make the messages clients see, has the last word on anything jsonschema-rs rejects.
        compiled = self._compiled = (
            jsonschema_rs.Draft202012Validator(schema, registry=fast()),
            Draft202012Validator(schema, registry=registry),
        )
        return compiled

    def problem(self, instance: Any) -> Problem | None:
        fast, validator = self._compiled or self._compile()
        if fast.is_valid(instance) or validator.is_valid(instance):
            return None
        error = best_match(validator.iter_errors(instance))
        return None if error is None else _problem(error, self._root)

    def violation(self, instance: Any) -> tuple[Any, list[Any]] | None:
        """The part of `instance` that violates the schema (the most relevant error's) and the path in the schema
        of the keyword it fails; None when it conforms."""
        fast, validator = self._compiled or self._compile()
        if fast.is_valid(instance) or validator.is_valid(instance):
            return None
        error = best_match(validator.iter_errors(instance))
        return None if error is None else (error.instance, list(error.absolute_schema_path))

    def verdicts(self, instance: Any) -> tuple[bool, bool]:
        """(jsonschema-rs, jsonschema) answers on `instance`, for the differential test that keeps the fast path
        from accepting what the reference rejects."""
        fast, validator = self._compiled or self._compile()
        return bool(fast.is_valid(instance)), validator.is_valid(instance)


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str
    required: bool
    kind: str  # the JSON type the string is coerced to: string, integer, number, boolean, array
    item_kind: str
    default: Any = None  # the schema's default, what an absent optional parameter means


@dataclass(slots=True)
class Operation:
    operation_id: str
    method: str
    path: str
    plane: str
    spec: dict[str, Any]
    parameters: list[Parameter]
    query_check: SchemaCheck | None
    path_check: SchemaCheck | None
    header_check: SchemaCheck | None
    body_check: SchemaCheck | None
    body_required: bool
    success_status: int
    response_checks: dict[tuple[int, str], SchemaCheck]
    nulls_absent: bool = False  # the body schema's x-null-means-absent: a top-level null is as if the field were not sent


class Contract:
    """The public API's contract, compiled: operations by id, validators, the raw document for /openapi.json."""

    def __init__(self, document: Mapping[str, Any], name: str = PUBLIC) -> None:
        self.document = document
        self.uri = _BASE_URI + name
        self.registry: Registry = Registry().with_resource(
            self.uri, Resource.from_contents(dict(document), default_specification=DRAFT202012)
        )
        self._fast: jsonschema_rs.Registry | None = None
        self._component_checks: dict[str, SchemaCheck] = {}
        self.operations: dict[str, Operation] = {op.operation_id: op for op in self._compile()}

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            pointer = schema["$ref"].split("#", 1)[1]
            node: Any = self.document
            for part in pointer.strip("/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            schema = node
        return schema

    def schema_check(self, pointer: str, root: str = "") -> SchemaCheck:
        return SchemaCheck(self.registry, self.uri, pointer, root, self._fast_registry)

    def _fast_registry(self) -> jsonschema_rs.Registry:
        """jsonschema-rs's registry of the document, built when the first validator is compiled."""
        if self._fast is None:
            self._fast = jsonschema_rs.Registry([(self.uri, dict(self.document))])
        return self._fast

    def component_check(self, name: str) -> SchemaCheck:
        """The validator of one named schema, compiled once per contract (streams check every chunk with it)."""
        check = self._component_checks.get(name)
        if check is None:
            check = self._component_checks[name] = self.schema_check(_pointer("components", "schemas", name))
        return check

    def _compile(self) -> Iterator[Operation]:
        for path, methods in self.document.get("paths", {}).items():
            for method, spec in methods.items():
                if method.startswith("x-") or method == "parameters":
                    continue
                yield self._compile_operation(path, method, spec)

    def _compile_operation(self, path: str, method: str, spec: dict[str, Any]) -> Operation:
        base = ("paths", path, method)
        parameters = [self._parameter(p) for p in spec.get("parameters", [])]
        body = spec.get("requestBody", {}).get("content", {}).get("application/json")
        body_check = self.schema_check(_pointer(*base, "requestBody", "content", "application/json", "schema"), "body") if body else None
        success = next(int(code) for code in spec["responses"] if code.startswith("2"))
        response_checks: dict[tuple[int, str], SchemaCheck] = {}
        for code, response in spec["responses"].items():
            resolved = self.resolve(response)
            for media, content in resolved.get("content", {}).items():
                if "schema" in content and media == "application/json":
                    if "$ref" in response:
                        pointer = response["$ref"].split("#", 1)[1] + _pointer("content", media, "schema")
                    else:
                        pointer = _pointer(*base, "responses", code, "content", media, "schema")
                    response_checks[(int(code), media)] = self.schema_check(pointer, "response")
        return Operation(
            operation_id=spec["operationId"],
            method=method.upper(),
            path=path,
            plane=spec.get("x-plane", "admin"),
            spec=spec,
            parameters=parameters,
            query_check=self._parameter_check(spec, "query"),
            path_check=self._parameter_check(spec, "path"),
            header_check=self._parameter_check(spec, "header"),
            body_check=body_check,
            body_required=bool(spec.get("requestBody", {}).get("required")),
            success_status=success,
            response_checks=response_checks,
            nulls_absent=bool(self.resolve(body.get("schema", {})).get("x-null-means-absent")) if body else False,
        )

    def _parameter(self, spec: Mapping[str, Any]) -> Parameter:
        schema = self.resolve(spec.get("schema", {}))
        kind = schema.get("type", "string")
        item_kind = self.resolve(schema.get("items", {})).get("type", "string") if kind == "array" else ""
        return Parameter(spec["name"], spec["in"], bool(spec.get("required")), kind, item_kind, schema.get("default"))

    def _parameter_check(self, spec: Mapping[str, Any], location: str) -> SchemaCheck | None:
        params = [p for p in spec.get("parameters", []) if p["in"] == location]
        if not params:
            return None
        schema = {
            "type": "object",
            "properties": {p["name"]: p.get("schema", {}) for p in params},
            "required": [p["name"] for p in params if p.get("required")],
        }
        # A per-operation schema that refers back into the document: registered as its own resource.
        uri = f"{self.uri}:{spec['operationId']}:{location}"
        registry = self.registry.with_resource(uri, Resource.from_contents(_rebase(schema, self.uri), default_specification=DRAFT202012))
        return SchemaCheck(registry, uri, "", location, self._fast_registry)


def _rebase(node: Any, uri: str) -> Any:
    """Point local `#/...` refs of a schema copied out of the document back at the document."""
    if isinstance(node, dict):
        return {k: (uri + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebase(v, uri)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(item, uri) for item in node]
    return node


@functools.cache
def public_contract() -> Contract:
    return Contract(load_document(PUBLIC), PUBLIC)


@functools.cache
def control_contract() -> Contract:
    return Contract(load_document(CONTROL), CONTROL)


@functools.cache
def openapi_json() -> bytes:
    """The public contract as JSON, serialised once for GET /openapi.json."""
    return json.dumps(load_document(PUBLIC), ensure_ascii=False).encode("utf-8")
