"""Issue 18's documented behaviour through the official SDK: the documented base models, the platform's public models
and preset services listed with visibility=PUBLIC, a preset service shown, and the gateway's throttling."""

from __future__ import annotations

from pathlib import Path

import huaweicloudsdkdataartsfabric.v1 as A
import huaweicloudsdkdataartsfabricep.v1 as E
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

from mockfabric import MockFabric

from .conftest import clients

QWEN_SERVICE = "6f1d2c3b-4a59-4e87-b1c0-9d8e7f6a5b01"


def test_base_models_and_public_resources_through_the_sdk(fabric: MockFabric) -> None:
    admin, ep = clients(fabric.base_url)
    base = admin.list_base_models(A.ListBaseModelsRequest(limit=10))
    assert base.total == 4 and [(m.base_model_type, m.num_of_mu) for m in base.models[:2]] == [("QWEN_2_72B", 8), ("GLM_4_9B", 2)]
    ws = admin.create_workspace(A.CreateWorkspaceRequest(body=A.CreateWorkspaceRequestInput(name="public-reader"))).id
    models = admin.list_models(A.ListModelsRequest(workspace_id=ws, visibility="PUBLIC"))
    assert models.total == 4 and {m.visibility for m in models.models} == {"PUBLIC"}
    assert admin.list_models(A.ListModelsRequest(workspace_id=ws)).total == 0  # absent: the caller's own only
    services = ep.list_services_instances(E.ListServicesInstancesRequest(workspace_id=ws, visibility="PUBLIC"))
    assert services.total == 4 and {s.status for s in services.service_instances} == {"RUNNING"}
    shown = ep.show_service_instance_detail(E.ShowServiceInstanceDetailRequest(workspace_id=ws, instance_id=QWEN_SERVICE))
    assert shown.visibility == "PUBLIC" and shown.url.address.endswith(f"/v1/workspaces/{ws}/services/instances/{QWEN_SERVICE}/invocations")
    with pytest.raises(ClientRequestException) as caught:
        ep.delete_service_instance(E.DeleteServiceInstanceRequest(workspace_id=ws, instance_id=QWEN_SERVICE))
    assert caught.value.error_code == "dataartsfabric.00010009"


def test_throttling_reaches_the_sdk_as_the_gateways_error(credentials_file: Path) -> None:
    with MockFabric(credentials=str(credentials_file), rate_limit="ListBaseModels=1/min") as fabric:
        admin, _ = clients(fabric.base_url)
        assert admin.list_base_models(A.ListBaseModelsRequest()).total == 4
        with pytest.raises(ClientRequestException) as caught:
            admin.list_base_models(A.ListBaseModelsRequest())
        # The SDK retries a 429 (its urllib3 Retry lists 429) and then raises its own "too many 429 error responses"
        # without the gateway's body: what the SDK makes of the real gateway's 429, too. The body: tests/api.
        error = caught.value
        assert (error.status_code, error.error_code) == (429, "429") and "too many 429 error responses" in error.error_msg
        assert [e["status"] for e in fabric.for_tenant("project-alice").requests(operation="ListBaseModels")][-2:] == [200, 429]
        fabric.advance(60)
        assert admin.list_base_models(A.ListBaseModelsRequest()).total == 4
