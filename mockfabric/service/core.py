"""The emulated service as one object (`Service`: state, time, ids, lifecycles, catalog) and who acts on it (`Actor`).

What must hold: nothing here knows of HTTP — no request paths, URL names, base URLs or wire parameters. Operations
take an Actor and typed arguments, raise `errors.ApiError` subclasses (naming the offending field with `field=`, a
dotted name inside the request, never a request location), and return records, `listing.Page`s or nothing; the
web adapter (`web/adapter.py`) binds them to the contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..clock import ControlledClock, iso_millis
from ..errors import ResourceNotFound, WorkspaceNotFound
from ..ids import IdFactory
from .capacity import Capacity
from .catalog import Catalog
from .completions import DOCUMENTED_SHAPE, ChunkShape, Scripted
from .lifecycle import Lifecycle
from .pacing import NO_PACING, Timing
from .public import PublicResources, public_resources
from .store import Entry, Store, WorkspaceState
from .telemetry import Telemetry

KIND_LABELS = {"endpoint": "endpoint", "model": "model", "service_instance": "service instance"}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who an operation acts as: `tenant` partitions all state; the names are stamped on what it creates."""

    tenant: str
    domain_name: str = "mockfabric"
    domain_id: str = ""
    user_name: str = "mockfabric-user"
    user_id: str = ""

    def user(self) -> dict[str, str]:
        return {"domain_name": self.domain_name, "domain_id": self.domain_id, "user_name": self.user_name, "user_id": self.user_id}

    def ep_user(self) -> dict[str, str]:
        return {"domain_name": self.domain_name, "user_name": self.user_name}


@dataclass(frozen=True, slots=True)
class Question:
    """What an invocation asks, as an answer decided beforehand may be chosen by it."""

    tenant: str
    workspace_id: str
    workspace_name: str
    instance_id: str
    instance_name: str
    body: Mapping[str, Any]


class Answers(Protocol):
    """Where an invocation's answer may have been decided beforehand (the fixture layer: scripts, fixtures); it may
    also refuse to let the service make one up (an ApiError)."""

    def take(self, question: Question) -> Scripted | None: ...


class RunOutcomes(Protocol):
    """How a job's next run is to end, if a test decided it (the fixture layer): {from, to, seconds, error_*}."""

    def take(self, tenant: str, job_id: str) -> dict[str, Any] | None: ...


class NoOutcomes:
    def take(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        return None


class Timings(Protocol):
    """How fast an instance's streams come (the fixture layer keeps per-instance timings over a default)."""

    def of(self, tenant: str, instance_id: str) -> Timing: ...


class FixedTimings:
    """Every instance paced alike."""

    def __init__(self, timing: Timing = NO_PACING) -> None:
        self.timing = timing

    def of(self, tenant: str, instance_id: str) -> Timing:
        return self.timing


class NoAnswers:
    """Nothing decided beforehand: every answer is generated (or echoed)."""

    def take(self, question: Question) -> Scripted | None:
        return None


@dataclass(frozen=True, slots=True)
class CompletionSettings:
    """How models answer: `generate` or `echo`, with which seed, cut into stream chunks of which shape."""

    mode: str = "generate"
    seed: int | None = None
    shape: ChunkShape = DOCUMENTED_SHAPE


class Service:
    """The state and the means every operation shares. Callers hold `store.lock` around each operation."""

    def __init__(
        self,
        *,
        store: Store,
        clock: ControlledClock,
        ids: IdFactory,
        lifecycle: Lifecycle,
        catalog: Catalog,
        completions: CompletionSettings = CompletionSettings(),
        answers: Answers | None = None,
        require_agreement: bool = False,
        capacity: Capacity | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids
        self.lifecycle = lifecycle
        self.catalog = catalog
        self.completions = completions
        self.answers: Answers = answers or NoAnswers()
        self.timings: Timings = FixedTimings()
        self.capacity = capacity or Capacity()  # how many answers an endpoint serves at once
        self.telemetry = telemetry  # what the engine reports of its traffic (`--metrics`); None when off
        self.run_outcomes: RunOutcomes = NoOutcomes()
        self.public: PublicResources = public_resources(catalog)
        self.require_agreement = require_agreement  # creations wait for the tenant's onboarding (service/onboarding.py)
        self.saving: Callable[[], dict[str, Any] | None] = lambda: None  # how state-file saves go, if there is one

    def reseed(self, seed: int | None) -> None:
        """Ids and generated content repeat from here for the same seed."""
        self.ids.reseed(seed)
        self.completions = CompletionSettings(self.completions.mode, seed, self.completions.shape)

    def now(self) -> float:
        return self.clock.now()

    def timestamp(self) -> str:
        return iso_millis(self.clock.now())

    def workspace(self, actor: Actor, workspace_id: str) -> WorkspaceState:
        """The actor's workspace with its due transitions settled; another tenant's answers like an unknown id."""
        workspace = self.store.existing(actor.tenant).workspaces.get(workspace_id)
        if workspace is None:
            raise WorkspaceNotFound(f"workspace {workspace_id} does not exist")
        self.lifecycle.settle_workspace(workspace, self.now())
        return workspace

    def entry(self, workspace: WorkspaceState, kind: str, resource_id: str, *, field: str | None = None, public: bool = False) -> Entry:
        """One resource of the workspace (or, with `public`, of the platform's public ones, which are read-only);
        ResourceNotFound (naming `field` when the id came from one) otherwise."""
        entry = workspace.collection(kind).get(resource_id)
        if entry is None and public:
            entry = self.public.collection(kind).get(resource_id)
        if entry is None:
            where = workspace.entry.record["id"]
            raise ResourceNotFound(f"{KIND_LABELS.get(kind, kind)} {resource_id} does not exist in workspace {where}", field=field)
        return entry

    def transition(self, kind: str, workspace: WorkspaceState, entry: Entry, operation: str) -> None:
        """Move a resource along the lifecycle edge `operation` triggers, stamping update_time (StateConflict if none)."""
        self.lifecycle.begin(kind, workspace, entry, operation, self.now())
        entry.record["update_time"] = self.timestamp()
