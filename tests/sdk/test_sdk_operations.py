"""Every operation the SDKs expose, through the official clients, in strict and default auth modes."""

from __future__ import annotations

import json
from typing import Any

import huaweicloudsdkdataartsfabric.v1 as A
import huaweicloudsdkdataartsfabricep.v1 as E
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

from mockfabric import MockFabric

from .conftest import clients


def enum_values(cls: type) -> set[str]:
    return {v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)}


def raw(response: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(response.raw_content)
    return decoded


def test_seed_flow_and_every_operation(fabric: MockFabric) -> None:
    admin, ep = clients(fabric.base_url)
    assert admin.show_admin_health_check(A.ShowAdminHealthCheckRequest()).status_code == 200

    created = admin.create_workspace(
        A.CreateWorkspaceRequest(body=A.CreateWorkspaceRequestInput(name="apieworkspace", description="apie test workspace"))
    )
    assert created.status_code == 200 and created.x_request_id
    assert (created.name, created.description, created.create_domain_name, created.create_user_name) == (
        "apieworkspace",
        "apie test workspace",
        "acme",
        "alice",
    )
    assert created.create_time.tzinfo is not None and created.enterprise_project_id == "0"  # parsed by python-dateutil
    assert raw(created)["create_time"].endswith("Z") and len(raw(created)["create_time"]) == 24
    ws = created.id

    listed = admin.list_workspaces(A.ListWorkspacesRequest(enterprise_project_id="all_granted_eps", name="apie"))
    assert listed.total == 1 and listed.workspaces[0].id == ws and listed.x_request_id
    updated = admin.update_workspace(A.UpdateWorkspaceRequest(workspace_id=ws, body=A.UpdateWorkspaceRequestInput(description="renamed")))
    assert updated.description == "renamed" and updated.name == "apieworkspace"

    mu = A.ResourceDemand(spec_code="mu.llama3.8b", min=0, max=2)
    endpoint = admin.create_endpoint(
        A.CreateEndpointRequest(
            workspace_id=ws,
            body=A.EndpointInput(
                name="apie_test", description="apie test endpoint", type="inference", reserved_resource=A.ReservedResource(mu=mu)
            ),
        )
    )
    assert raw(endpoint)["status"] == "CREATING" and raw(endpoint)["type"] in enum_values(A.EndpointType)
    assert (endpoint.owner.domain_name, endpoint.owner.domain_id, endpoint.owner.user_name, endpoint.owner.user_id) == (
        "acme",
        "d-acme",
        "alice",
        "u-alice",
    )
    assert endpoint.reserved_resource.mu.spec_code == "mu.llama3.8b" and endpoint.reserved_resource.mu.max == 2
    assert endpoint.tokens_quota.total > 0 and endpoint.urls[0].name == "ApiInvoke" and len(endpoint.id) == 32
    fabric.advance(5)
    shown = admin.show_endpoint(A.ShowEndpointRequest(workspace_id=ws, endpoint_id=endpoint.id))
    assert raw(shown)["status"] == "RUNNING" and raw(shown)["status"] in enum_values(A.EndpointStatus)
    endpoints = admin.list_endpoints(A.ListEndpointsRequest(workspace_id=ws, type="inference"))
    assert endpoints.total == 1 and endpoints.endpoints[0].name == "apie_test"

    model = admin.create_model_definition(
        A.CreateModelDefinitionRequest(
            workspace_id=ws,
            body=A.CreateModelInput(
                name="LLama3-8b",
                description="this is a apie test model",
                type="LLM_MODEL",
                version=A.ModelVersionInput(
                    name="v1",
                    description="test description",
                    config=A.ModelConfig(llm_model_config=A.LlmModelConfig(base_model_type="", model_path="")),
                ),
            ),
        )
    )
    assert model.id and model.version_id
    models = admin.list_models(A.ListModelsRequest(workspace_id=ws, sort_by="NAME", order_by="ASC"))
    assert models.total == 1 and models.models[0].current_version.name == "v1"
    assert models.models[0].current_version.config.llm_model_config.base_model_type == ""
    assert models.models[0].create_user.user_name == "alice"

    deployed = ep.deploy_service_instance(
        E.DeployServiceInstanceRequest(
            workspace_id=ws,
            body=E.ServiceInstanceInput(
                source=E.SourceRef(id=model.id), name="test_serviceInstanceName", description="description", endpoint_id=endpoint.id
            ),
        )
    )
    instance = deployed.id
    fabric.advance(5)
    detail = ep.show_service_instance_detail(E.ShowServiceInstanceDetailRequest(workspace_id=ws, instance_id=instance))
    assert raw(detail)["status"] == "RUNNING" and raw(detail)["status"] in enum_values(E.StatusEnum)
    assert (detail.source.id, detail.source.version_id, detail.endpoint_id) == (model.id, model.version_id, endpoint.id)
    assert detail.config.model_instance_config.resource.max == 1 and detail.url.address.endswith("/invocations")
    assert (detail.create_user.domain_name, detail.create_user.user_name) == ("acme", "alice") and raw(detail)["type"] == "LLM_MODEL"
    instances = ep.list_services_instances(E.ListServicesInstancesRequest(workspace_id=ws, endpoint_id=endpoint.id))
    assert instances.total == 1 and instances.service_instances[0].duration == 5

    update = ep.update_service_instance(
        E.UpdateServiceInstanceRequest(workspace_id=ws, instance_id=instance, body=E.UpdateServiceInstanceInput(name="renamed"))
    )
    assert update.status_code == 202 and update.id == instance and update.x_request_id
    new_version = admin.update_model_definition(
        A.UpdateModelDefinitionRequest(workspace_id=ws, model_id=model.id, body=A.UpdateModelInput(version=A.ModelVersionInput(name="v2")))
    )
    assert new_version.current_version.name == "v2"
    versions = admin.list_model_versions(A.ListModelVersionsRequest(workspace_id=ws, model_id=model.id))
    assert versions.total == 2 and versions.x_request_id

    endpoint_update = admin.update_endpoint(
        A.UpdateEndpointRequest(workspace_id=ws, endpoint_id=endpoint.id, body=A.UpdateEndpointRequestBody(description="bigger"))
    )
    assert endpoint_update.status_code == 202 and raw(endpoint_update)["status"] == "UPDATING"
    fabric.advance(5)
    assert ep.delete_service_instance(E.DeleteServiceInstanceRequest(workspace_id=ws, instance_id=instance)).status_code == 202
    fabric.advance(5)
    assert (
        admin.delete_model_version(A.DeleteModelVersionRequest(workspace_id=ws, model_id=model.id, version_id=model.version_id)).status_code
        == 200
    )
    assert admin.cleanup_model(A.CleanupModelRequest(workspace_id=ws, model_id=model.id)).status_code == 200
    deleted = admin.delete_endpoint(A.DeleteEndpointRequest(workspace_id=ws, endpoint_id=endpoint.id))
    assert deleted.status_code == 202 and deleted.id == endpoint.id
    fabric.advance(5)
    assert admin.delete_workspace(A.DeleteWorkspaceRequest(workspace_id=ws)).status_code == 200


def test_catalog_operations(fabric: MockFabric) -> None:
    admin, _ = clients(fabric.base_url)
    specs = admin.list_specs(A.ListSpecsRequest(spec_types=["MU", "APU"], scenario="ENDPOINT"))
    assert specs.total == 4 and {raw(specs)["spec_codes"][0]["spec_type"]} <= enum_values(A.SpecType)
    assert specs.spec_codes[0].spec_code == "mu.llama3.8b" and specs.spec_codes[0].stride_num_whitelist == [1, 2, 4, 8]
    base = admin.list_base_models(A.ListBaseModelsRequest(limit=2))
    assert base.total == 4 and base.models[0].base_model_type == "QWEN_2_72B" and base.models[0].num_of_mu == 8
    features = admin.list_features(A.ListFeaturesRequest())
    assert {f.key: f.value for f in features.configs}["inference"] == "true"


def test_public_endpoint_subscription(fabric: MockFabric) -> None:
    admin, _ = clients(fabric.base_url)
    ws = admin.create_workspace(A.CreateWorkspaceRequest(body=A.CreateWorkspaceRequestInput(name="public-ws"))).id
    endpoint = admin.create_endpoint(
        A.CreateEndpointRequest(workspace_id=ws, body=A.EndpointInput(name="pub", type="inference", public_access=True))
    )
    assert raw(endpoint)["status"] == "INACTIVE" and raw(endpoint)["visibility"] == "PUBLIC"
    assert admin.subscribe_endpoint(A.SubscribeEndpointRequest(workspace_id=ws, endpoint_id=endpoint.id)).status_code == 200
    assert raw(admin.show_endpoint(A.ShowEndpointRequest(workspace_id=ws, endpoint_id=endpoint.id)))["status"] == "RUNNING"


@pytest.mark.parametrize(
    ("call", "status", "code"),
    [
        (
            lambda admin, ep: admin.update_workspace(
                A.UpdateWorkspaceRequest(workspace_id="0" * 36, body=A.UpdateWorkspaceRequestInput(name="ghost"))
            ),
            400,
            "dataartsfabric.00010003",
        ),
        (
            lambda admin, ep: ep.show_service_instance_detail(
                E.ShowServiceInstanceDetailRequest(workspace_id="0" * 36, instance_id="1" * 36)
            ),
            400,
            "dataartsfabric.00010003",
        ),
        (
            lambda admin, ep: admin.create_workspace(A.CreateWorkspaceRequest(body=A.CreateWorkspaceRequestInput(name="x"))),
            400,
            "dataartsfabric.00010001",
        ),
        (
            lambda admin, ep: admin.list_workspaces(A.ListWorkspacesRequest(enterprise_project_id="0", limit=1000)),
            400,
            "dataartsfabric.00010001",
        ),
    ],
)
def test_errors_raise_client_request_exception(fabric: MockFabric, call: Any, status: int, code: str) -> None:
    admin, ep = clients(fabric.base_url)
    with pytest.raises(ClientRequestException) as caught:
        call(admin, ep)
    error = caught.value
    assert (error.status_code, error.error_code) == (status, code)
    assert error.error_msg and error.request_id


def test_not_found_inside_a_workspace_and_conflicts(fabric: MockFabric) -> None:
    admin, _ = clients(fabric.base_url)
    ws = admin.create_workspace(A.CreateWorkspaceRequest(body=A.CreateWorkspaceRequestInput(name="errors-ws"))).id
    with pytest.raises(ClientRequestException) as missing:
        admin.show_endpoint(A.ShowEndpointRequest(workspace_id=ws, endpoint_id="f" * 32))
    assert missing.value.error_code == "dataartsfabric.00010009" and missing.value.request_id
    with pytest.raises(ClientRequestException) as duplicate:
        admin.create_workspace(A.CreateWorkspaceRequest(body=A.CreateWorkspaceRequestInput(name="errors-ws")))
    assert duplicate.value.error_code == "dataartsfabric.00010011" and "errors-ws" in duplicate.value.error_msg


def test_injected_server_error_raises_server_response_exception(fabric: MockFabric) -> None:
    from huaweicloudsdkcore.exceptions.exceptions import ServerResponseException

    admin, _ = clients(fabric.base_url)
    handle = fabric.for_tenant("project-alice")
    handle.fail("ListBaseModels", status=500, times=1)
    with pytest.raises(ServerResponseException) as caught:
        admin.list_base_models(A.ListBaseModelsRequest())
    assert (caught.value.status_code, caught.value.error_code) == (500, "common.00000500") and caught.value.request_id
    assert admin.list_base_models(A.ListBaseModelsRequest()).total == 4


def test_two_identities_never_see_each_other(fabric: MockFabric) -> None:
    alice, _ = clients(fabric.base_url)
    bob, bob_ep = clients(fabric.base_url, "AKBOB00002", "bob-secret", "project-bob")
    ws = alice.create_workspace(A.CreateWorkspaceRequest(body=A.CreateWorkspaceRequestInput(name="alice-only"))).id
    assert bob.list_workspaces(A.ListWorkspacesRequest(enterprise_project_id="all_granted_eps", name="alice-only")).total == 0
    with pytest.raises(ClientRequestException) as caught:
        bob.list_endpoints(A.ListEndpointsRequest(workspace_id=ws))
    assert caught.value.error_code == "dataartsfabric.00010003"
    with pytest.raises(ClientRequestException):
        bob_ep.list_services_instances(E.ListServicesInstancesRequest(workspace_id=ws))
    mine = bob.create_workspace(A.CreateWorkspaceRequest(body=A.CreateWorkspaceRequestInput(name="alice-only")))
    assert mine.create_user_name == "bob" and mine.create_domain_name == "globex"


def test_temporary_credentials_with_security_token(fabric: MockFabric) -> None:
    admin, _ = clients(fabric.base_url, "AKTEMP0003", "temp-secret", "project-alice", security_token="session-token-3")
    assert admin.list_base_models(A.ListBaseModelsRequest()).total == 4
