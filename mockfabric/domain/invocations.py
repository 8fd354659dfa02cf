"""InvokeModelService: preconditions, the answer, and the endpoint's token bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import NotRunning
from .completions import DOCUMENTED_SHAPE, ChunkShape, Completion, Draft, build_completion, draft_completion
from .fabric import Call, Fabric


@dataclass(frozen=True, slots=True)
class Timing:
    ttft_ms: int
    itl_ms: int


@dataclass(frozen=True, slots=True)
class Invocation:
    completion: Completion
    stream: bool
    include_usage: bool
    timing: Timing
    shape: ChunkShape = DOCUMENTED_SHAPE


def prepare(fabric: Fabric, call: Call) -> Draft:
    """The part of the answer that needs no state: run without the store lock (a large prompt takes long)."""
    return draft_completion(call.body, fabric.completion_mode, fabric.seed)


def invoke(fabric: Fabric, call: Call) -> Invocation:
    """Answer a chat completion on a RUNNING instance of a RUNNING endpoint.

    tokens_quota.used of the endpoint grows by the answer's total_tokens when the answer starts (a stream cut by a
    fault still counts in full: the tokens were generated).
    """
    workspace = fabric.workspace(call.caller, call.path["workspace_id"])
    instance = fabric.entry(workspace, "service_instance", call.path["instance_id"])
    status = instance.record["status"]
    if status != "RUNNING":
        raise NotRunning(f"service instance {instance.record['id']} is {status}; invoke it once it is RUNNING")
    endpoint = workspace.endpoints.get(instance.record["endpoint_id"])
    if endpoint is None or endpoint.record["status"] != "RUNNING":
        shown = "gone" if endpoint is None else endpoint.record["status"]
        raise NotRunning(f"endpoint {instance.record['endpoint_id']} of service instance {instance.record['id']} is {shown}")
    key = (call.caller.tenant, instance.record["id"])
    body = call.body
    draft = call.prepared if isinstance(call.prepared, Draft) else prepare(fabric, call)
    completion = build_completion(
        completion_id=fabric.ids.completion_id(),
        created=int(fabric.now()),
        model=instance.record["id"],
        draft=draft,
        scripted=fabric.scripts.take(key),
    )
    quota = endpoint.record.get("tokens_quota")
    if quota is not None:
        quota["used"] += completion.prompt_tokens + completion.completion_tokens
    ttft, itl = fabric.timings.get(key, (fabric.ttft_ms, fabric.itl_ms))
    return Invocation(
        completion,
        stream=body.get("stream", True),
        include_usage=bool(body.get("stream_options", {}).get("include_usage")),
        timing=Timing(ttft, itl),
        shape=fabric.chunk_shape,
    )


OPERATIONS = {"InvokeModelService": invoke}
PREPARATIONS = {"InvokeModelService": prepare}  # run before the store lock is taken; the result is call.prepared
