"""InvokeModelService: preconditions, the answer, and the endpoint's token bookkeeping."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import NotRunning
from .completions import DOCUMENTED_SHAPE, ChunkShape, Completion, Draft, build_completion, draft_completion
from .core import Actor, Service
from .store import Entry, WorkspaceState


@dataclass(frozen=True, slots=True)
class Invocation:
    """An answer decided: the completion, and whether (and in which shape) it is streamed."""

    completion: Completion
    stream: bool
    include_usage: bool
    shape: ChunkShape = DOCUMENTED_SHAPE


def prepare(service: Service, body: Mapping[str, Any]) -> Draft:
    """The part of the answer that needs no state: run without the store lock (a large prompt takes long)."""
    return draft_completion(body, service.completions.mode, service.completions.seed)


def invoke(service: Service, actor: Actor, workspace: WorkspaceState, instance: Entry, body: Mapping[str, Any], draft: Draft) -> Invocation:
    """Answer a chat completion on a RUNNING instance of a RUNNING endpoint; an answer decided beforehand
    (`service.answers`) is taken only once those hold.

    tokens_quota.used of the endpoint grows by the answer's total_tokens when the answer starts (a stream cut by a
    fault still counts in full: the tokens were generated).
    """
    status = instance.record["status"]
    if status != "RUNNING":
        raise NotRunning(f"service instance {instance.record['id']} is {status}; invoke it once it is RUNNING")
    endpoint = workspace.endpoints.get(instance.record["endpoint_id"])
    if endpoint is None or endpoint.record["status"] != "RUNNING":
        shown = "gone" if endpoint is None else endpoint.record["status"]
        raise NotRunning(f"endpoint {instance.record['endpoint_id']} of service instance {instance.record['id']} is {shown}")
    completion = build_completion(
        completion_id=service.ids.completion_id(),
        created=int(service.now()),
        model=instance.record["id"],
        draft=draft,
        scripted=service.answers.take(actor.tenant, instance.record["id"]),
    )
    quota = endpoint.record.get("tokens_quota")
    if quota is not None:
        quota["used"] += completion.prompt_tokens + completion.completion_tokens
    return Invocation(
        completion,
        stream=body.get("stream", True),
        include_usage=bool(body.get("stream_options", {}).get("include_usage")),
        shape=service.completions.shape,
    )


OPERATIONS: dict[str, Callable[..., Any]] = {"InvokeModelService": invoke}
PREPARATIONS = {"InvokeModelService": prepare}  # run before the store lock is taken; the result is the `draft` argument
