"""The one adapter between the contract and the typed service: bindings generated from each operation and the
signature of the function that serves it.

What must hold:
- Each argument of a service function comes from one place, found by its name when the app is built: a context
  value (`service`, `actor`, `controls`), a resolved resource (`workspace` from the path's workspace_id, with its due
  transitions settled; `endpoint`, `model`, `instance` from the path's ids; `visible_model`, `visible_instance`
  also when it is one of the platform's read-only public ones), the page asked for (`listing`: offset,
  limit, id, name, type, visibility, sort_by, order_by with the contract's defaults), the whole JSON body (`body`),
  the operation's preparation (`draft`, worked out before the store lock), or a path parameter, query parameter or
  top-level body property of the same name (the schema's default when absent). A `**` argument takes every
  parameter and property no other argument took. A name found nowhere, or in two places, refuses the app's start
  (BindingError), so the contract and the service cannot drift apart unnoticed.
- A service error naming a field (`ApiError.field`) is answered with the field's place in the request
  (`body.reserved_resource.mu.min: ...`).
- What the function returns is drawn in the contract's response shape: a record is cut to the schema's properties,
  a `Page` becomes `{"total", <the schema's array>: [items cut to the item schema]}`, and addresses the service keeps
  relative to its base (`ADDRESS_FIELDS`) are made absolute on the base URL the client used. Stored records are
  never changed by drawing them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..contracts import Contract, Operation
from ..errors import ApiError
from ..service.listing import Listing, Page
from ..service.store import Entry
from .parsing import Call

ADDRESS_FIELDS = frozenset({"access_url", "address"})  # kept relative to the service's base URL by the service
LISTING_PARAMETERS = frozenset({"offset", "limit", "id", "name", "type", "visibility", "sort_by", "order_by"})
ENTRIES = {  # argument -> (path parameter, kind, whether a platform public resource will do: for reading it)
    "endpoint": ("endpoint_id", "endpoint", False),
    "model": ("model_id", "model", False),
    "instance": ("instance_id", "service_instance", False),
    "visible_model": ("model_id", "model", True),
    "visible_instance": ("instance_id", "service_instance", True),
    "job": ("job_id", "job", False),
    "run": ("run_id", "job_run", False),
    "policy": ("message_policy_id", "message_policy", False),
}
Source = Callable[[Call, dict[str, Any]], Any]  # (the request, what this request resolved so far) -> the argument's value
Path = tuple[str, ...]  # keys into a JSON answer; "[]" steps into each item of an array


class BindingError(Exception):
    """A service function and the contract operation it serves disagree; the message names both and the argument."""


@dataclass(frozen=True, slots=True)
class Context:
    """The values an argument can be bound to besides the request: the service, the fixture layer."""

    values: Mapping[str, Any]

    def source(self, name: str) -> Source | None:
        if name not in self.values:
            return None
        value = self.values[name]
        return lambda call, resolved: value


@dataclass(frozen=True, slots=True)
class Binding:
    """One operation bound to its function: how its arguments are found, how its answer is drawn."""

    operation_id: str
    function: Callable[..., Any]
    arguments: tuple[tuple[str, Source], ...]
    rest: Callable[[Call, set[str]], dict[str, Any]] | None
    locations: Mapping[str, str]  # top-level name -> "path" | "query" | "body"
    draw: Callable[[Any, str], Any]
    ignored: frozenset[str]  # inputs the contract declares and the function takes no argument for

    def __call__(self, call: Call) -> Any:
        """Resolve the arguments, run the function, draw its answer; a field-naming error gets the field's place."""
        resolved: dict[str, Any] = {}
        try:
            arguments = {name: source(call, resolved) for name, source in self.arguments}
            if self.rest is not None:
                arguments.update(self.rest(call, set(arguments)))
            result = self.function(**arguments)
        except ApiError as error:
            if error.field is not None:
                error.locate(self.locations.get(error.field.split(".", 1)[0], "body"))
            raise
        return self.draw(result, call.base_url)


def bind(
    contract: Contract, operation: Operation, function: Callable[..., Any], context: Context, *, shape_answers: bool = True
) -> Binding:
    """The binding of `function` to `operation`; BindingError when an argument has no single source."""
    inputs = _inputs(contract, operation)
    locations = {name: where for name, (where, _) in inputs.items()}
    arguments: list[tuple[str, Source]] = []
    taken: set[str] = set()
    rest = None
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            rest = _rest(inputs)
            continue
        source, uses = _source(name, parameter, operation, inputs, context)
        if source is None:
            raise BindingError(
                f"{operation.operation_id}: argument {name!r} of {function.__qualname__} is in neither the contract nor the context"
            )
        arguments.append((name, source))
        taken |= uses
    ignored = frozenset() if rest is not None or "body" in dict(arguments) else frozenset(inputs) - taken
    draw = _drawer(contract, operation) if shape_answers else _as_is
    return Binding(operation.operation_id, function, tuple(arguments), rest, locations, draw, ignored)


def _inputs(contract: Contract, operation: Operation) -> dict[str, tuple[str, Any]]:
    """Every input of the operation by name: (where it is sent, its default). Header parameters are not inputs."""
    found: dict[str, tuple[str, Any]] = {}
    for parameter in operation.parameters:
        if parameter.location in ("path", "query"):
            found[parameter.name] = (parameter.location, parameter.default)
    body = operation.spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    for name, schema in contract.resolve(body or {}).get("properties", {}).items():
        if name in found:
            raise BindingError(f"{operation.operation_id}: {name!r} is both a {found[name][0]} parameter and a body property")
        found[name] = ("body", contract.resolve(schema).get("default"))
    return found


def _source(
    name: str, parameter: inspect.Parameter, operation: Operation, inputs: Mapping[str, tuple[str, Any]], context: Context
) -> tuple[Source | None, set[str]]:
    """Where argument `name` comes from, and which inputs that uses."""
    given = context.source(name)
    if given is not None:
        return given, set()
    service: Any = context.values.get("service")
    if name == "actor":
        return (lambda call, resolved: call.actor), set()

    def workspace(call: Call, resolved: dict[str, Any]) -> Any:
        """The path's workspace, resolved (and settled) once per request."""
        found = resolved.get("workspace")
        if found is None:
            found = resolved["workspace"] = service.workspace(call.actor, call.path["workspace_id"])
        return found

    in_path = {n for n, (where, _) in inputs.items() if where == "path"}
    if name == "workspace" and "workspace_id" in in_path:
        return workspace, {"workspace_id"}
    if name in ENTRIES and ENTRIES[name][0] in in_path and "workspace_id" in in_path:
        id_name, kind, public = ENTRIES[name]
        return (lambda call, resolved: service.entry(workspace(call, resolved), kind, call.path[id_name], public=public)), {
            "workspace_id",
            id_name,
        }
    if name == "listing":
        return _listing(inputs), set(LISTING_PARAMETERS & set(inputs))
    if name == "body":
        return (lambda call, resolved: call.body), {n for n, (where, _) in inputs.items() if where == "body"}
    if name == "draft":
        return (lambda call, resolved: call.prepared), set()
    if name not in inputs:
        return None, set()
    where, default = inputs[name]
    if default is None and parameter.default is not inspect.Parameter.empty:
        default = parameter.default
    return _named(where, name, default), {name}


def _named(where: str, name: str, default: Any) -> Source:
    if where == "path":
        return lambda call, resolved: call.path[name]
    if where == "query":
        return lambda call, resolved: call.query.get(name, default)
    return lambda call, resolved: call.body.get(name, default) if call.body is not None else default


def _listing(inputs: Mapping[str, tuple[str, Any]]) -> Source:
    def default(name: str, fallback: Any = None) -> Any:
        found = inputs.get(name, ("", None))[1]
        return fallback if found is None else found

    offset, limit, sort_by, order_by = default("offset", 0), default("limit", 10), default("sort_by"), default("order_by", "DESC")

    def listing(call: Call, resolved: dict[str, Any]) -> Listing:
        query = call.query
        if not query:
            return Listing(offset, limit, sort_by=sort_by, descending=order_by != "ASC")
        return Listing(
            query.get("offset", offset),
            query.get("limit", limit),
            id=query.get("id"),
            name=query.get("name"),
            type=query.get("type"),
            visibility=query.get("visibility"),
            sort_by=query.get("sort_by", sort_by),
            descending=query.get("order_by", order_by) != "ASC",
        )

    return listing


def _rest(inputs: Mapping[str, tuple[str, Any]]) -> Callable[[Call, set[str]], dict[str, Any]]:
    def rest(call: Call, taken: set[str]) -> dict[str, Any]:
        given = {**call.query, **(call.body if isinstance(call.body, dict) else {})}
        return {name: value for name, value in given.items() if name in inputs and name not in taken}

    return rest


def _as_is(result: Any, base_url: str) -> Any:
    return result


def _drawer(contract: Contract, operation: Operation) -> Callable[[Any, str], Any]:
    """How a result of the operation is drawn in its success response's shape."""
    response = contract.resolve(operation.spec["responses"][str(operation.success_status)])
    schema = contract.resolve(response.get("content", {}).get("application/json", {}).get("schema", {}))
    properties = frozenset(schema.get("properties", {}))
    arrays = [name for name, sub in schema.get("properties", {}).items() if contract.resolve(sub).get("type") == "array"]
    counted = [name for name, sub in schema.get("properties", {}).items() if contract.resolve(sub).get("type") == "integer"]
    total = "total" if "total" in properties else (counted[0] if counted else "total")  # total_count in the tag lists
    item_schema = contract.resolve(schema["properties"][arrays[0]].get("items", {})) if arrays else {}
    item_properties = frozenset(item_schema.get("properties", {}))
    addresses = [_rewrite(path) for path in _address_paths(contract, schema)]

    def draw(result: Any, base_url: str) -> Any:
        if isinstance(result, Page):
            items = [_cut(item.record if isinstance(item, Entry) else item, item_properties) for item in result.items]
            drawn: Any = {total: result.total, arrays[0]: items}
        elif isinstance(result, dict) and properties:
            drawn = _cut(result, properties)
        else:
            return result
        for rewrite in addresses:
            drawn = rewrite(drawn, base_url)
        return drawn

    return draw


def _cut(record: dict[str, Any], properties: frozenset[str]) -> dict[str, Any]:
    """The record's fields the schema declares: the record itself when it has no others (the usual case; drawing
    never writes into what it returns, `_absolute` copies what it changes)."""
    if not properties or properties.issuperset(record):
        return record
    return {key: value for key, value in record.items() if key in properties}


def _address_paths(contract: Contract, schema: Mapping[str, Any], prefix: Path = (), depth: int = 0) -> list[Path]:
    """Where, in answers of `schema`, the address fields are."""
    if depth > 8:
        return []
    schema = contract.resolve(schema)
    if schema.get("type") == "array":
        return _address_paths(contract, schema.get("items", {}), (*prefix, "[]"), depth + 1)
    found: list[Path] = []
    for name, sub in schema.get("properties", {}).items():
        if name in ADDRESS_FIELDS and contract.resolve(sub).get("type") == "string":
            found.append((*prefix, name))
        else:
            found.extend(_address_paths(contract, sub, (*prefix, name), depth + 1))
    return found


Rewrite = Callable[[Any, str], Any]  # (a node of an answer, the base URL) -> the node with its addresses absolute


def _rewrite(path: Path) -> Rewrite:
    """A function making the address at `path` absolute; built once per operation, containers on the way are
    copied, never changed."""
    step = path[0]
    if len(path) == 1:
        return _address_rewrite(step)
    inner = _rewrite(path[1:])
    if step == "[]":
        return lambda node, base_url: [inner(item, base_url) for item in node] if type(node) is list else node

    def rewrite(node: Any, base_url: str) -> Any:
        if type(node) is not dict or step not in node:
            return node
        copied = node.copy()
        copied[step] = inner(node[step], base_url)
        return copied

    return rewrite


def _address_rewrite(name: str) -> Rewrite:
    """The rewrite of an object's own address field (the leaf step, inlined: it runs for every listed item)."""

    def rewrite(node: Any, base_url: str) -> Any:
        if type(node) is not dict:
            return node
        address = node.get(name)
        if type(address) is not str or address.startswith(("http://", "https://")):
            return node
        copied = node.copy()
        copied[name] = base_url + address
        return copied

    return rewrite
