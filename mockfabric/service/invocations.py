"""InvokeModelService: preconditions, the answer, and the endpoint's token bookkeeping."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..effects import FaultEffect
from ..errors import ApiError, NotRunning, QuotaExhausted, RuleViolated
from .catalog import ModelLimits
from .completions import DOCUMENTED_SHAPE, ChunkShape, Completion, Draft, build_completion, draft_completion
from .core import Actor, Question, Service
from .metrics import record_usage
from .pacing import NO_PACING, Timing, paced_seconds
from .store import Entry, WorkspaceState
from .telemetry import Telemetry


@dataclass(frozen=True, slots=True)
class Invocation:
    """An answer decided: the completion, and whether (and in which shape) it is streamed."""

    completion: Completion
    stream: bool
    include_usage: bool
    shape: ChunkShape = DOCUMENTED_SHAPE
    seed: int = 0  # the request's own seed: the same request is paced alike
    timing: Timing = NO_PACING
    queued: float = 0.0  # emulator seconds it waited for a free slot of its endpoint, before its first token
    effect: FaultEffect | None = None  # what the decided answer does on its way (latency, a cut stream, ...)

    def duration(self) -> float:
        """Emulator seconds from the start until its last token is due, the wait for a free slot included (0 when
        no chunk carries a token): what its stream waits in all, counted without making one chunk of it."""
        size = self.shape.tokens
        choices = [choice for choice in self.completion.choices if choice.delta_count(size)]
        if not choices:
            return 0.0
        tokens = sum(choice.delta_count(size) for choice in choices)
        own = [f.delay_ms for choice in choices for f in choice.fragments or () if f.delay_ms is not None]
        lead = choices[0]  # its first delta is the first token of the stream: paced unless a fragment sets its delay
        fragments = lead.fragments or ()
        first_own = not lead.reasoning_tokens and bool(fragments) and fragments[0].delay_ms is not None
        paced = paced_seconds(self.timing, self.completion.prompt_tokens, self.seed, not first_own, tokens - len(own) - (not first_own))
        return self.queued + paced + sum(own) / 1000


def prepare(service: Service, body: Mapping[str, Any]) -> Draft:
    """The part of the answer that needs no state: run without the store lock (a large prompt takes long)."""
    return draft_completion(body, service.completions.mode, service.completions.seed)


def invoke(
    service: Service, actor: Actor, workspace: WorkspaceState, visible_instance: Entry, body: Mapping[str, Any], draft: Draft
) -> Invocation:
    """Answer a chat completion on a RUNNING instance of a RUNNING endpoint (a platform preset service is always
    both), within its base model's limits; an answer decided beforehand (`service.answers`) is taken only once
    those hold.

    tokens_quota.used of the endpoint grows by the answer's total_tokens when the answer starts (a stream cut by a
    fault still counts in full: the tokens were generated); an endpoint whose quota is used up answers no more.
    With a capacity (service/capacity.py) an endpoint that is full queues the answer or refuses it before anything
    is decided or counted.
    """
    instance = visible_instance
    endpoint = None if service.public.holds(instance) else _running_endpoint(workspace, instance)
    limits = service.catalog.limits.get(_base_model_type(service, workspace, instance))
    try:
        quota = endpoint.record.get("tokens_quota") if endpoint is not None else None
        if quota is not None and quota["used"] >= quota["total"]:
            used = f"{quota['used']} of {quota['total']}"
            raise QuotaExhausted(f"endpoint {instance.record['endpoint_id']} has used its tokens quota ({used}); it answers no more")
        if limits is not None:
            _check_limits(limits, body, draft)
        capped = endpoint if endpoint is not None and service.capacity.limited else None
        queued = service.capacity.wait(actor.tenant, capped.record, service.now()) if capped is not None else 0.0
    except ApiError:
        if endpoint is not None:
            record_usage(workspace, endpoint.record["id"], service.now(), failed=True)
        raise
    scripted = service.answers.take(_question(actor, workspace, instance, body))
    completion = build_completion(
        completion_id=service.ids.completion_id(),
        created=int(service.now()),
        model=instance.record["id"],
        draft=draft,
        scripted=scripted,
        reasoning=limits is not None and limits.reasoning,
    )
    total = completion.total_tokens
    if quota is not None:
        quota["used"] += total
    if endpoint is not None:
        record_usage(workspace, endpoint.record["id"], service.now(), tokens=total)
    invocation = Invocation(
        completion,
        stream=body.get("stream", True),
        include_usage=bool(body.get("stream_options", {}).get("include_usage")),
        shape=service.completions.shape,
        seed=draft.seed,
        timing=service.timings.of(actor.tenant, instance.record["id"]),
        queued=queued,
        effect=scripted.effect if scripted is not None else None,
    )
    telemetry = service.telemetry
    if capped is not None or telemetry is not None:
        busy = invocation.duration()  # the wait for the slot included
        if capped is not None:
            service.capacity.occupy(actor.tenant, capped.record, service.now() + queued, busy - queued)
        if telemetry is not None:
            _tell(telemetry, actor, instance, invocation, service.now(), busy)
    return invocation


def _tell(telemetry: Telemetry, actor: Actor, instance: Entry, invocation: Invocation, now: float, busy: float) -> None:
    """The telemetry learns of the answer decided; a stream tells the rest as it is paced."""
    completion = invocation.completion
    usage = completion.usage()  # as the answer reports it (and the quota counts it)
    dropped = invocation.effect is not None and invocation.effect.drop_connection  # generated, never delivered
    telemetry.decided(
        telemetry.series(actor.tenant, instance.record["id"]),
        now=now,
        queued=invocation.queued,
        duration=busy,
        prompt_tokens=usage["prompt_tokens"],
        generation_tokens=usage["completion_tokens"],
        finish_reason=None if invocation.stream or dropped else completion.choices[0].finish_reason,
    )


def _question(actor: Actor, workspace: WorkspaceState, instance: Entry, body: Mapping[str, Any]) -> Question:
    ws = workspace.entry.record
    return Question(actor.tenant, ws["id"], ws["name"], instance.record["id"], instance.record["name"], body)


def _running_endpoint(workspace: WorkspaceState, instance: Entry) -> Entry:
    status = instance.record["status"]
    if status != "RUNNING":
        raise NotRunning(f"service instance {instance.record['id']} is {status}; invoke it once it is RUNNING")
    endpoint = workspace.endpoints.get(instance.record["endpoint_id"])
    if endpoint is None or endpoint.record["status"] != "RUNNING":
        shown = "gone" if endpoint is None else endpoint.record["status"]
        raise NotRunning(f"endpoint {instance.record['endpoint_id']} of service instance {instance.record['id']} is {shown}")
    return endpoint


def _base_model_type(service: Service, workspace: WorkspaceState, instance: Entry) -> str:
    """The base model the instance's model version names ("" when none: no limits are known then)."""
    source = instance.record["source"]
    model = workspace.models.get(source["id"]) or service.public.models.get(source["id"])
    version = model.versions.get(source["version_id"]) if model is not None else None
    config = (version or {}).get("config") or {}
    found = (config.get("llm_model_config") or {}).get("base_model_type", "")
    return found if isinstance(found, str) else ""


def _check_limits(limits: ModelLimits, body: Mapping[str, Any], draft: Draft) -> None:
    """Output at most the model's maximum; prompt plus output within its context length (DOC)."""
    name = "max_completion_tokens" if body.get("max_tokens") is None and body.get("max_completion_tokens") is not None else "max_tokens"
    asked = body.get(name)
    if asked is not None and asked > limits.max_output:
        raise RuleViolated(f"{asked} exceeds the model's maximum of {limits.max_output} output tokens", field=name)
    context = limits.context_length
    if context is not None and draft.prompt_tokens + draft.limit > context:
        raise RuleViolated(
            f"the prompt's {draft.prompt_tokens} tokens plus up to {draft.limit} output tokens ({name}) exceed "
            f"the model's context length of {context} tokens",
            field="messages",
        )


OPERATIONS: dict[str, Callable[..., Any]] = {"InvokeModelService": invoke}
PREPARATIONS = {"InvokeModelService": prepare}  # run before the store lock is taken; the result is the `draft` argument
