"""The official SDK and the contract agree: every SDK field of every covered operation is in the contract with a
compatible type, and every SDK path/method exists. The check is a function so a test can prove it fails."""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import huaweicloudsdkdataartsfabric.v1 as admin_sdk
import huaweicloudsdkdataartsfabricep.v1 as ep_sdk
import pytest

from mockfabric.contracts import Contract, load_document, public_contract

PRIMITIVES = {
    "str": {"string"},
    "datetime": {"string"},
    "date": {"string"},
    "int": {"integer"},
    "float": {"number", "integer"},
    "bool": {"boolean"},
}
NOT_IN_SDK = {"InvokeModelService", "ShowEndpointMetrics", "ShowQueryHistoryMetrics"}  # the Java SDK's / documented only
IGNORED_ATTRIBUTES = {"x_request_id"}


def sdk_operations() -> dict[str, tuple[ModuleType, dict[str, Any], type, type]]:
    """operationId -> (module, http_info, request class, response class), read from the SDK clients."""
    found = {}
    for module, client in ((admin_sdk, admin_sdk.DataArtsFabricClient), (ep_sdk, ep_sdk.DataArtsFabricEpClient)):
        for name, method in inspect.getmembers(client):
            match = re.match(r"_(\w+)_http_info$", name)
            if match:
                camel = "".join(part.capitalize() for part in match.group(1).split("_"))
                request_class = getattr(module, camel + "Request")
                info = method(request_class())
                found[camel] = (module, info, request_class, getattr(module, info["response_type"]))
    return found


def schema_types(contract: Contract, schema: Mapping[str, Any]) -> set[str]:
    schema = contract.resolve(schema)
    declared = schema.get("type")
    if isinstance(declared, list):
        return set(declared) - {"null"}
    if declared:
        return {declared}
    values = schema.get("enum", []) + ([schema["const"]] if "const" in schema else [])
    return {"string" for v in values if isinstance(v, str)} | {"object" for _ in [0] if "properties" in schema}


def compare(
    contract: Contract,
    module: ModuleType,
    sdk_type: str,
    schema: Mapping[str, Any],
    where: str,
    problems: list[str],
    seen: set[tuple[str, int]],
) -> None:
    schema = contract.resolve(schema)
    types = schema_types(contract, schema)
    if sdk_type in PRIMITIVES:
        if types and not types & PRIMITIVES[sdk_type]:
            problems.append(f"{where}: SDK {sdk_type} vs contract {sorted(types)}")
        return
    if sdk_type == "object":
        return
    if sdk_type.startswith("list["):
        if "array" not in types:
            problems.append(f"{where}: SDK {sdk_type} vs contract {sorted(types)}")
            return
        compare(contract, module, sdk_type[5:-1], schema.get("items", {}), f"{where}[]", problems, seen)
        return
    if sdk_type.startswith("dict("):
        if types and "object" not in types:
            problems.append(f"{where}: SDK {sdk_type} vs contract {sorted(types)}")
        return
    model = getattr(module, sdk_type)
    if not model.openapi_types:  # an enum class: a string with values
        sdk_values = {v for k, v in vars(model).items() if k.isupper() and isinstance(v, str)}
        if types and "string" not in types:
            problems.append(f"{where}: SDK enum {sdk_type} vs contract {sorted(types)}")
        contract_values = set(schema.get("enum", []))
        if contract_values and not sdk_values <= contract_values:
            problems.append(f"{where}: SDK enum values {sorted(sdk_values - contract_values)} missing from the contract")
        return
    key = (sdk_type, id(schema))
    if key in seen:
        return
    seen.add(key)
    if types and "object" not in types:
        problems.append(f"{where}: SDK model {sdk_type} vs contract {sorted(types)}")
        return
    properties = schema.get("properties", {})
    for attribute, attribute_type in model.openapi_types.items():
        if attribute in IGNORED_ATTRIBUTES:
            continue
        json_name = model.attribute_map[attribute]
        if json_name not in properties:
            problems.append(f"{where}.{json_name}: SDK field of {sdk_type} missing from the contract")
            continue
        compare(contract, module, attribute_type, properties[json_name], f"{where}.{json_name}", problems, seen)


def cross_check(contract: Contract) -> list[str]:
    problems: list[str] = []
    sdk = sdk_operations()
    for operation_id, operation in contract.operations.items():
        if operation_id in NOT_IN_SDK:
            continue
        if operation_id not in sdk:
            problems.append(f"{operation_id}: not an SDK operation")
            continue
        module, info, request_class, response_class = sdk[operation_id]
        if (info["method"], info["resource_path"]) != (operation.method, operation.path):
            problems.append(f"{operation_id}: SDK {info['method']} {info['resource_path']} vs contract {operation.method} {operation.path}")
        parameters = {p.name: p for p in operation.parameters}
        specs = {p["name"]: p for p in operation.spec.get("parameters", [])}
        for attribute, attribute_type in request_class.openapi_types.items():
            name = request_class.attribute_map[attribute]
            if attribute == "body":
                body = operation.spec.get("requestBody", {}).get("content", {}).get("application/json")
                if body is None:
                    problems.append(f"{operation_id}: SDK sends a body the contract does not describe")
                else:
                    compare(contract, module, attribute_type, body["schema"], f"{operation_id}.request", problems, set())
            elif name not in parameters:
                problems.append(f"{operation_id}: SDK parameter {name} missing from the contract")
            else:
                compare(contract, module, attribute_type, specs[name].get("schema", {}), f"{operation_id}.{name}", problems, set())
        success = operation.spec["responses"][str(operation.success_status)]
        json_schema = success.get("content", {}).get("application/json", {}).get("schema")
        fields = {a: t for a, t in response_class.openapi_types.items() if a not in IGNORED_ATTRIBUTES and a != "body"}
        if fields:
            if json_schema is None:
                problems.append(f"{operation_id}: SDK response has fields, the contract no JSON body")
            else:
                for attribute, attribute_type in fields.items():
                    json_name = response_class.attribute_map[attribute]
                    properties = contract.resolve(json_schema).get("properties", {})
                    if json_name not in properties:
                        problems.append(f"{operation_id}.response.{json_name}: SDK field missing from the contract")
                    else:
                        compare(
                            contract, module, attribute_type, properties[json_name], f"{operation_id}.response.{json_name}", problems, set()
                        )
    return problems


def test_contract_covers_every_sdk_field_and_path() -> None:
    assert cross_check(public_contract()) == []


def test_the_contract_and_the_python_sdk_have_the_same_operations() -> None:
    """All 54 of the Python SDK's, plus InvokeModelService (Java SDK), ShowEpHealthCheck (Java SDK: the health check
    on the ep host, declared on ShowAdminHealthCheck) and the two documented-only metrics operations."""
    sdk = sdk_operations()
    contract = public_contract()
    assert len(sdk) == 54 and set(contract.operations) - NOT_IN_SDK == set(sdk)
    assert contract.operations["ShowAdminHealthCheck"].spec["x-also-operation"]["operationId"] == "ShowEpHealthCheck"


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ("ShowEndpointResponse", "tokens_quota"),
        ("ModelVersionInfo", "config"),
        ("EndpointInput", "reserved_resource"),
        ("ServiceInstanceBriefInfo", "duration"),
        ("Workspace", "metastore_id"),
    ],
)
def test_the_cross_check_fails_when_a_field_is_dropped(schema: str, field: str) -> None:
    document = copy.deepcopy(load_document())
    del document["components"]["schemas"][schema]["properties"][field]
    problems = cross_check(Contract(document, "mutated.yaml"))
    assert any(p.endswith("missing from the contract") and f".{field}" in p for p in problems), problems


def test_the_cross_check_fails_when_a_path_moves() -> None:
    document = copy.deepcopy(load_document())
    document["paths"]["/v1/workspace"] = document["paths"].pop("/v1/workspaces")
    assert any("CreateWorkspace: SDK POST /v1/workspaces vs contract" in p for p in cross_check(Contract(document, "moved.yaml")))


def test_the_cross_check_fails_on_an_incompatible_type() -> None:
    document = copy.deepcopy(load_document())
    document["components"]["schemas"]["TokensQuota"]["properties"]["total"] = {"type": "string"}
    assert any("tokens_quota.total: SDK int" in p for p in cross_check(Contract(document, "typed.yaml")))
