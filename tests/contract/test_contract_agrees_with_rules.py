"""The contract agrees with the emulator's rules (issue 27): a body the contract accepts is never refused for a
rule the contract could have stated.

For every operation with a request body, schema-valid bodies (schemathesis's positive generation, seeded) are sent
to the in-process app with ids that exist. A 400 that names a body field (`body.…: …`) is a contract bug unless the
refusal depends on something a schema of the body cannot see: the resource's state (its status, what it holds, a
duplicate name, a quota), the catalog (spec codes, metric names, agreement versions the service offers now) or a
relation between two fields (min <= max). Those are listed below, each with why; anything else fails the test,
naming the operation, the body and the answer.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from mockfabric import create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Progression, Settings
from mockfabric.contracts import load_document

from ..helpers import Api

schemathesis = pytest.importorskip("schemathesis")
TOKEN = {"X-Auth-Token": "token-of-the-rules", "X-Project-Id": "p-rules"}
STATE_CODES = frozenset(  # the answer depends on the tenant's state, never on the body alone (contract, x-error-codes)
    {
        "dataartsfabric.00010003",  # workspace not found
        "dataartsfabric.00010009",  # resource not found
        "dataartsfabric.00010011",  # duplicate name
        "dataartsfabric.00010012",  # resource in use
        "dataartsfabric.00010013",  # the resource's status does not allow it
        "dataartsfabric.00010014",  # the endpoint's capacity
        "dataartsfabric.00010015",  # an update of what the service cannot change once deployed
        "dataartsfabric.00010016",  # not RUNNING
        "dataartsfabric.00010017",  # tokens quota used up
        "dataartsfabric.00010018",  # not onboarded
        "dataartsfabric.00010005",  # an agreement version the service does not offer now (ShowAgreementRule)
    }
)
BEYOND_THE_SCHEMA = {  # (operation, error_code, field pattern): why no schema of the body can state it
    ("*", "dataartsfabric.00010010", r".*\.min"): "min <= max relates two fields",
    ("*", "dataartsfabric.00010010", r".*spec_code"): "spec codes are the catalog's (ListSpecs), and an instance's must be its endpoint's",
    ("DeployServiceInstance", "dataartsfabric.00010010", r"endpoint_id"): "the endpoint's type is its state",
    ("BatchCreateFabricWorkspaceTags", "dataartsfabric.00010010", r"tags"): "the limit counts the workspace's current tags",
    ("InvokeModelService", "dataartsfabric.00010010", r"max_tokens|max_completion_tokens|messages"): "the model's limits",
    ("InvokeModelService", "dataartsfabric.00010010", r"tool_choice\.function\.name"): "a name `tools` declares relates two fields",
    ("InvokeModelService", "dataartsfabric.00010010", r"tools\[\d+\]\.function\.parameters|response_format\.json_schema\.schema"): (
        "a schema the emulator can draw an instance of: JSON Schema's meta-schema and what service/json_answers.py supports"
    ),
}


def _beyond_the_schema(operation: str, code: str, field: str) -> bool:
    return any(op in ("*", operation) and code == known and re.fullmatch(pattern, field) for (op, known, pattern) in BEYOND_THE_SCHEMA)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Any, Api, dict[str, str]]]:
    """The app with one of each resource: a workspace, a model, a RUNNING endpoint and instance."""
    clock = ManualClock(start=1_700_000_000.0)
    timed = Progression("time", seconds=3.0)
    app = create_app(Settings(seed=7, lifecycle={"endpoint": timed, "service_instance": timed}), clock=clock)
    api = Api(app.test_client(), TOKEN, clock)
    ws = api.workspace("rules")
    model = api.model(ws)
    endpoint = api.endpoint(ws, max_units=64)
    instance = api.instance(ws, model["id"], endpoint)
    yield app, api, {"workspace_id": ws, "model_id": model["id"], "endpoint_id": endpoint, "instance_id": instance, "project_id": "p-rules"}


def _operations_with_bodies() -> list[str]:
    document = load_document()
    return [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "requestBody" in operation
    ]


CREATED_IDS = {"CreateJob": "job_id"}  # an id no fixture makes: taken from the first creation that succeeds


@pytest.fixture(scope="module")
def schema() -> Any:
    return schemathesis.openapi.from_dict(copy.deepcopy(load_document()))


@pytest.mark.parametrize("operation_id", sorted(_operations_with_bodies(), key=lambda op: (not op.startswith("Create"), op)))
def test_a_schema_valid_body_is_refused_only_for_a_rule_beyond_the_schema(
    served: tuple[Any, Api, dict[str, str]], schema: Any, operation_id: str
) -> None:
    from schemathesis import GenerationMode

    app, api, known = served
    operation = dict(_operations(schema))[operation_id]
    names = [parameter.name for parameter in operation.path_parameters]
    if any(name not in known for name in names):
        pytest.skip(f"no {', '.join(n for n in names if n not in known)} to address (its creation never succeeded)")
    strategy = operation.as_strategy(GenerationMode.POSITIVE, path_parameters={name: known[name] for name in names})
    refused: dict[tuple[str, str], str] = {}  # (error_code, field): one body and its answer

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def send(case: Any) -> None:
        api.clock.advance(5)  # what earlier cases created settles, so this one meets RUNNING resources
        response = case.call(app=app, headers=dict(TOKEN))
        answer = _json(response.content)
        if response.status_code == 200 and operation_id in CREATED_IDS and isinstance(answer, dict) and answer.get("id"):
            known.setdefault(CREATED_IDS[operation_id], answer["id"])
        if response.status_code != 400 or not isinstance(answer, dict):
            return
        field = re.match(r"body\.([^:]*): ", answer.get("error_msg", ""))
        code = answer.get("error_code", "")
        if field and code not in STATE_CODES and not _beyond_the_schema(operation_id, code, field.group(1)):
            refused.setdefault((code, field.group(1)), f"{json.dumps(case.body)[:300]} -> {code} {answer['error_msg'][:200]}")

    send()
    assert not refused, f"{operation_id}: schema-valid bodies refused for rules the contract does not state:\n" + "\n".join(
        refused.values()
    )


def _operations(schema: Any) -> Iterator[tuple[str, Any]]:
    for result in schema.get_all_operations():
        operation = result.ok()
        yield operation.definition.raw["operationId"], operation


def _json(content: bytes | None) -> Any:
    """The answer's JSON, or None for anything else (a stream's events)."""
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None
