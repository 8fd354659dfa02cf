"""Issue 19's operations through the official clients (admin and ep), in strict and default auth modes: onboarding,
jobs and versions, runs and their lifecycle, message policies, metrics configuration, tags; errors as the SDK raises them."""

from __future__ import annotations

import huaweicloudsdkdataartsfabric.v1 as A
import huaweicloudsdkdataartsfabricep.v1 as E
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

from mockfabric import MockFabric

from .conftest import clients


def test_onboarding_through_the_sdk(fabric: MockFabric) -> None:
    admin, _ = clients(fabric.base_url, "AKBOB00002", "bob-secret", "project-bob")
    rule = admin.show_agreement_rule(A.ShowAgreementRuleRequest()).agreement_rules[0]
    with pytest.raises(ClientRequestException) as caught:
        admin.create_agreement(
            A.CreateAgreementRequest(body=A.TenantAgreementBody(agreements=[A.TenantAgreement(rule.agreement_name, "19990101")]))
        )
    assert caught.value.error_code == "dataartsfabric.00010005"
    signed = A.TenantAgreement(agreement_name=rule.agreement_name, agreement_version=rule.agreement_version)
    assert admin.create_agreement(A.CreateAgreementRequest(body=A.TenantAgreementBody(agreements=[signed]))).status_code == 200
    assert admin.show_agreement(A.ShowAgreementRequest()).agreements[0].agreement_version == rule.agreement_version
    admin.create_agency(A.CreateAgencyRequest(body=A.AgencyTypeBody(policy_types=["FABRIC_COMMON_POLICY"])))
    agency = admin.list_agency(A.ListAgencyRequest())
    assert agency.authorized is True and {p.policy_type for p in agency.agency_policies if p.is_enable} == {"FABRIC_COMMON_POLICY"}
    admin.delete_agency(A.DeleteAgencyRequest(policy_type="FABRIC_COMMON_POLICY"))
    assert admin.list_agency(A.ListAgencyRequest()).authorized is False
    admin.delete_agreement(A.DeleteAgreementRequest())
    assert admin.show_agreement(A.ShowAgreementRequest()).agreements == []


def test_jobs_runs_policies_metrics_and_tags_through_the_sdk(fabric: MockFabric) -> None:
    admin, ep = clients(fabric.base_url)
    ws = admin.create_workspace(A.CreateWorkspaceRequest(body=A.CreateWorkspaceRequestInput(name="jobs-ws"))).id
    endpoint = admin.create_endpoint(A.CreateEndpointRequest(workspace_id=ws, body=A.EndpointInput(name="runner", type="inference"))).id
    handle = fabric.for_tenant("project-alice")
    version = A.JobVersionInput(name="v1", config=A.JobConfig(timeout_seconds=60))
    job = admin.create_job(A.CreateJobRequest(workspace_id=ws, body=A.CreateJobInput(name="nightly", type="RAY_JOB", version=version)))
    listed = admin.list_jobs(A.ListJobsRequest(workspace_id=ws, type="RAY_JOB", sort_by="NAME", order_by="ASC"))
    assert listed.total == 1 and listed.jobs[0].current_version.id == job.version_id and listed.jobs[0].type == "RAY_JOB"
    second = A.UpdateJobInput(version=A.JobVersionInput(name="v2", config=A.JobConfig()), current_endpoint_id=endpoint)
    updated = admin.update_job(A.UpdateJobRequest(workspace_id=ws, job_id=job.id, body=second))
    assert updated.version_id != job.version_id
    assert admin.list_job_versions(A.ListJobVersionsRequest(workspace_id=ws, job_id=job.id)).total == 2

    run_body = E.RunJobInput(job=E.JobRef(id=job.id, version_id=updated.version_id), name="run-1", endpoint_id=endpoint)
    run = ep.run_job(E.RunJobRequest(workspace_id=ws, body=run_body))
    assert ep.show_job_run_detail(E.ShowJobRunDetailRequest(workspace_id=ws, run_id=run.id)).status == "PENDING"
    handle.advance(6)
    detail = ep.show_job_run_detail(E.ShowJobRunDetailRequest(workspace_id=ws, run_id=run.id))
    assert detail.status == "SUCCEEDED" and detail.job.version_id == updated.version_id and detail.log_path
    assert ep.list_job_runs(E.ListJobRunsRequest(workspace_id=ws, status="SUCCEEDED")).total == 1
    with pytest.raises(ClientRequestException) as busy:
        admin.delete_job(A.DeleteJobRequest(workspace_id=ws, job_id=job.id))
    assert busy.value.error_code == "dataartsfabric.00010012"
    second_run = ep.run_job(E.RunJobRequest(workspace_id=ws, body=run_body))
    ep.cancel_job_run(E.CancelJobRunRequest(workspace_id=ws, run_id=second_run.id))
    handle.advance(3)
    assert ep.show_job_run_detail(E.ShowJobRunDetailRequest(workspace_id=ws, run_id=second_run.id)).status == "STOPPED"
    ep.delete_job_run(E.DeleteJobRunRequest(workspace_id=ws, run_id=second_run.id))
    ep.clear_job_run(E.ClearJobRunRequest(workspace_id=ws, endpoint_id=endpoint))
    assert ep.list_job_runs(E.ListJobRunsRequest(workspace_id=ws)).total == 0
    admin.delete_job_version(A.DeleteJobVersionRequest(workspace_id=ws, job_id=job.id, version_id=job.version_id))
    admin.delete_job(A.DeleteJobRequest(workspace_id=ws, job_id=job.id))

    item = A.CreateMessageNotificationPolicy(
        message_type="job", name_pattern="nightly", notification_types=["FAILED"], topic_urn="urn:smn:r:p:t"
    )
    policy = admin.create_message_notification_policy(
        A.CreateMessageNotificationPolicyRequest(workspace_id=ws, body=A.CreateMessageNotificationPolicyRequestBody([item]))
    )
    policies = admin.list_message_notification_policy(A.ListMessageNotificationPolicyRequest(workspace_id=ws, notify_type="FAILED"))
    assert policies.total == 1 and policies.policies[0].id == policy.id
    admin.delete_message_notification_policy(A.DeleteMessageNotificationPolicyRequest(workspace_id=ws, message_policy_id=policy.id))
    assert (
        admin.update_metrics_config(A.UpdateMetricsConfigRequest(workspace_id=ws, body=A.UpdateMetricsConfigInput(enable=True))).status_code
        == 200
    )

    tags = A.BatchCreateTagsRequestBody(tags=[A.ResourceTag(key="env", value="dev")])
    admin.batch_create_fabric_workspace_tags(A.BatchCreateFabricWorkspaceTagsRequest(workspace_id=ws, body=tags))
    assert [(t.key, t.value) for t in admin.list_fabric_workspace_tags(A.ListFabricWorkspaceTagsRequest(workspace_id=ws)).tags] == [
        ("env", "dev")
    ]
    assert [t.key for t in admin.list_fabric_project_tags(A.ListFabricProjectTagsRequest(use_predefine_tags=False)).tags] == ["env"]
    wanted = A.ListTagWorkspacesRequestBody(tags=[A.ResourceTagParam(key="env", values=["dev"])])
    found = admin.list_tag_fabric_workspaces(A.ListTagFabricWorkspacesRequest(body=wanted))
    assert found.total_count == 1 and found.resources[0].resource_id == ws
    assert admin.count_tag_fabric_workspaces(A.CountTagFabricWorkspacesRequest(body=wanted)).total_count == 1
    removal = A.BatchDeleteTagsRequestBody(tags=[A.DeleteResourceTag(key="env")])
    admin.batch_delete_fabric_workspace_tags(A.BatchDeleteFabricWorkspaceTagsRequest(workspace_id=ws, body=removal))
    assert admin.count_tag_fabric_workspaces(A.CountTagFabricWorkspacesRequest(body=wanted)).total_count == 0
