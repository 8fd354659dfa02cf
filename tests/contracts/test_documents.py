"""The contracts are valid OpenAPI 3.1, every $ref resolves, every example validates, and they say what the docs say."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from mockfabric.contracts import CONTROL, PUBLIC, Contract, control_contract, load_document, public_contract

from ..helpers import SEED_DEPLOY, SEED_ENDPOINT, SEED_INVOKE, SEED_MODEL, SEED_WORKSPACE, seed_deploy

DOCUMENTED_SUCCESS = {"UpdateEndpoint": 202, "DeleteEndpoint": 202, "UpdateServiceInstance": 202, "DeleteServiceInstance": 202}
INFERRED_SUCCESS = {
    "CreateEndpoint",
    "UpdateModelDefinition",
    "DeleteModelVersion",
    "ListFeatures",
    "InvokeModelService",
    *("CreateAgreement", "DeleteAgreement", "ShowAgreement", "ShowAgreementRule", "CreateAgency", "ListAgency"),
    *("CreateJob", "DeleteJob", "DeleteJobVersion", "ListJobVersions", "ListJobs", "UpdateJob"),
    *("CancelJobRun", "ClearJobRun", "DeleteJobRun", "ListJobRuns", "RunJob", "ShowJobRunDetail"),
    *("CreateMessageNotificationPolicy", "DeleteMessageNotificationPolicy", "ListMessageNotificationPolicy"),
    *("BatchCreateFabricWorkspaceTags", "BatchDeleteFabricWorkspaceTags", "ListFabricProjectTags", "ListFabricWorkspaceTags"),
    *("ListTagFabricWorkspaces", "ShowEndpointMetrics", "ShowQueryHistoryMetrics"),
}
# The Python SDK's 54 operations, InvokeModelService (Java SDK) and the two documented-only metrics operations.
IN_SCOPE = {
    *("ShowAdminHealthCheck", "ListFeatures", "ListBaseModels", "ListSpecs"),
    *("CreateWorkspace", "ListWorkspaces", "UpdateWorkspace", "DeleteWorkspace"),
    *("CreateEndpoint", "ListEndpoints", "ShowEndpoint", "UpdateEndpoint", "DeleteEndpoint", "SubscribeEndpoint"),
    *("CreateModelDefinition", "ListModels", "UpdateModelDefinition", "CleanupModel", "ListModelVersions", "DeleteModelVersion"),
    *("DeployServiceInstance", "ListServicesInstances", "ShowServiceInstanceDetail", "UpdateServiceInstance", "DeleteServiceInstance"),
    "InvokeModelService",
    *("CreateAgreement", "DeleteAgreement", "ShowAgreement", "ShowAgreementRule", "CreateAgency", "DeleteAgency", "ListAgency"),
    *("CreateJob", "DeleteJob", "DeleteJobVersion", "ListJobVersions", "ListJobs", "UpdateJob"),
    *("CancelJobRun", "ClearJobRun", "DeleteJobRun", "ListJobRuns", "RunJob", "ShowJobRunDetail"),
    *("CreateMessageNotificationPolicy", "DeleteMessageNotificationPolicy", "ListMessageNotificationPolicy", "UpdateMetricsConfig"),
    *("BatchCreateFabricWorkspaceTags", "BatchDeleteFabricWorkspaceTags", "CountTagFabricWorkspaces", "ListFabricProjectTags"),
    *("ListFabricWorkspaceTags", "ListTagFabricWorkspaces", "ShowEndpointMetrics", "ShowQueryHistoryMetrics"),
}


@pytest.mark.parametrize("name", [PUBLIC, CONTROL])
def test_documents_are_valid_openapi_31(name: str) -> None:
    document = load_document(name)
    assert document["openapi"].startswith("3.1")
    validate(document)


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


@pytest.mark.parametrize("contract", [public_contract(), control_contract()], ids=["public", "control"])
def test_every_ref_resolves(contract: Contract) -> None:
    refs = [(path, node["$ref"]) for path, node in walk(contract.document) if isinstance(node, dict) and "$ref" in node]
    assert refs
    for path, ref in refs:
        assert ref.startswith("#/"), (path, ref)
        contract.resolve({"$ref": ref})  # raises KeyError when the target is missing


def test_operations_match_the_sdk_names_and_documented_statuses() -> None:
    operations = public_contract().operations
    assert set(operations) == IN_SCOPE
    for operation_id, operation in operations.items():
        assert operation.plane in ("admin", "ep"), operation_id
        assert operation.success_status == DOCUMENTED_SUCCESS.get(operation_id, 200), operation_id
        response = operation.spec["responses"][str(operation.success_status)]
        assert bool(response.get("x-inferred")) == (operation_id in INFERRED_SUCCESS), operation_id
        assert {"400", "401", "403", "404", "408", "429", "500"} <= set(operation.spec["responses"]), operation_id
    assert {op.plane for op in operations.values() if "services/instances" in op.path} == {"ep"}


def examples() -> Iterator[Any]:
    contract = public_contract()
    for path, node in walk(contract.document):
        if not isinstance(node, dict) or "schema" not in node:
            continue
        for name, example in (node.get("examples") or {}).items():
            yield pytest.param(node["schema"], example["value"], id=f"{path}/{name}")
        if "example" in node:
            yield pytest.param(node["schema"], node["example"], id=f"{path}/example")
        for index, event in enumerate(node.get("x-sse-event-examples", [])):  # the chunk inside an event's data
            yield pytest.param(node["x-sse-event-schema"], event, id=f"{path}/sse/{index}")


@pytest.mark.parametrize(("schema", "value"), list(examples()))
def test_every_example_validates(schema: dict[str, Any], value: Any) -> None:
    contract = public_contract()
    Draft202012Validator({"$ref": contract.uri + schema["$ref"]} if "$ref" in schema else schema, registry=contract.registry).validate(
        value
    )


def test_examples_exist_for_the_seed_flow() -> None:
    assert len(list(examples())) >= 9


@pytest.mark.parametrize(
    ("operation_id", "body"),
    [
        ("CreateWorkspace", SEED_WORKSPACE),
        ("CreateEndpoint", SEED_ENDPOINT),
        ("CreateModelDefinition", SEED_MODEL),
        ("DeployServiceInstance", seed_deploy("ac8111bf-3601-4905-8ddd-b41d3e636a4e", "0b5633ba2b904511ad514346f4d23d4b")),
        ("InvokeModelService", SEED_INVOKE),
    ],
)
def test_seed_bodies_validate_verbatim(operation_id: str, body: dict[str, Any]) -> None:
    check = public_contract().operations[operation_id].body_check
    assert check is not None and check.problem(body) is None


def test_seed_deploy_placeholders_are_ids_to_fill_in() -> None:
    """Step 4 of the seed leaves the model and endpoint ids empty: they are placeholders, and empty ids are invalid."""
    check = public_contract().operations["DeployServiceInstance"].body_check
    assert check is not None and check.problem(SEED_DEPLOY) is not None


def test_links_point_at_operations_and_their_parameters() -> None:
    contract = public_contract()
    links = [
        (op, name, link)
        for op in contract.operations.values()
        for response in op.spec["responses"].values()
        for name, link in response.get("links", {}).items()
    ]
    assert len(links) >= 20
    for source, name, link in links:
        target = contract.operations[link["operationId"]]
        names = {p.name for p in target.parameters}
        assert set(link["parameters"]) <= names, (source.operation_id, name)


def test_lifecycle_is_declared_with_known_statuses() -> None:
    contract = public_contract()
    lifecycle = contract.document["x-lifecycle"]
    for kind, spec in lifecycle.items():
        allowed = set(contract.resolve({"$ref": f"#/components/schemas/{spec['status_schema']}"})["enum"])
        states = {t["from"] for t in spec["transitions"]} | {t["to"] for t in spec["transitions"]}
        assert states <= allowed, (kind, states - allowed)
        assert set(spec["transient"]) <= states and set(spec["initial"].values()) <= states
        for transient in spec["transient"]:
            assert any(t["from"] == transient and t["on"] == "progress" for t in spec["transitions"]), (kind, transient)


def test_mutually_exclusive_token_limits_are_in_the_contract() -> None:
    check = public_contract().operations["InvokeModelService"].body_check
    assert check is not None
    problem = check.problem({**SEED_INVOKE, "max_tokens": 10, "max_completion_tokens": 10})
    assert problem is not None and problem.where == "body.max_completion_tokens"


def test_every_error_code_the_emulator_uses_is_listed() -> None:
    from mockfabric import errors

    listed = {entry["code"]: entry["status"] for entry in public_contract().document["x-error-codes"]["codes"]}
    classes = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ApiError) and cls is not errors.InjectedError
    ]
    for cls in classes:
        assert cls.error_code in listed, cls.__name__
    assert set(errors.ERROR_CODES) <= set(listed)


def inference_labels() -> dict[str, str]:
    """Every place of the public contract marked x-inferred, as contracts/README.md names it, with its reason."""
    document = public_contract().document
    found: dict[str, str] = {}

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            if node.get("x-inferred") is True:
                found[_label(document, path)] = str(node.get("description") or node.get("meaning") or "")
            for key, value in node.items():
                walk(value, (*path, str(key)))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*path, str(index)))

    walk(document, ())
    return found


def _label(document: dict[str, Any], path: tuple[str, ...]) -> str:
    if path[0] == "paths" and len(path) == 3:
        return f"{path[2].upper()} {path[1]}: the operation"
    if path[0] == "paths" and len(path) >= 5:
        where = f"{path[2].upper()} {path[1]}"
        if path[3] == "responses":
            return f"{where}: status {path[4]}"
        parameter = document["paths"][path[1]][path[2]]["parameters"][int(path[4])]
        return f"{where}: parameter {parameter['name']}"
    if path[0] == "components":
        return "schema " + ".".join(part for part in path[2:] if part != "properties")
    if path[0] == "x-lifecycle":
        return f"lifecycle of {path[1]}"
    if path[0] == "x-error-codes":
        return f"error code {document['x-error-codes']['codes'][int(path[2])]['code']}"
    return "/".join(path)


def test_contracts_readme_lists_every_inference() -> None:
    text = (Path(__file__).resolve().parents[2] / "contracts" / "README.md").read_text(encoding="utf-8")
    missing = [label for label in inference_labels() if f"`{label}`" not in text]
    assert not missing, f"contracts/README.md does not list: {missing}"


def test_error_code_entries_have_only_known_keys() -> None:
    """A comma in an unquoted flow-mapping value splits it into stray keys (this once cut meanings short)."""
    known = {"code", "status", "documented", "x-inferred", "x-emulator-only", "source", "meaning"}
    for entry in public_contract().document["x-error-codes"]["codes"]:
        assert set(entry) <= known, entry


def test_every_empty_error_code_is_one_the_emulator_answers() -> None:
    """`x-empty-error-code` names a code the validator can answer (errors.SCHEMA_ERROR_CODES), never a typo."""
    from mockfabric import errors

    named: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "x-empty-error-code" in node:
                named.append(node["x-empty-error-code"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(public_contract().document)
    assert named and set(named) <= set(errors.SCHEMA_ERROR_CODES), named
