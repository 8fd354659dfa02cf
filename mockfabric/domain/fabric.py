"""The emulated service as one object: state, time, ids, lifecycles and catalog, plus who is calling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..clock import ControlledClock, iso_millis
from ..errors import ResourceNotFound, WorkspaceNotFound
from ..ids import IdFactory
from .catalog import Catalog
from .completions import DOCUMENTED_SHAPE, ChunkShape, Scripts
from .faults import Faults
from .journal import DEFAULT_BUDGET_BYTES, Journal
from .lifecycle import Lifecycle
from .store import Entry, Store, WorkspaceState


@dataclass(frozen=True, slots=True)
class Caller:
    """The identity a request acts as; `tenant` partitions all state."""

    tenant: str
    domain_name: str = "mockfabric"
    domain_id: str = ""
    user_name: str = "mockfabric-user"
    user_id: str = ""
    base_url: str = "http://127.0.0.1:8080/"

    def user(self) -> dict[str, str]:
        return {"domain_name": self.domain_name, "domain_id": self.domain_id, "user_name": self.user_name, "user_id": self.user_id}

    def ep_user(self) -> dict[str, str]:
        return {"domain_name": self.domain_name, "user_name": self.user_name}


@dataclass(slots=True)
class Call:
    """One operation's validated input: path and query parameters (typed) and the JSON body."""

    caller: Caller
    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    prepared: Any = None  # what the operation's preparation (if it has one) worked out before the store lock


class Fabric:
    def __init__(
        self,
        *,
        store: Store,
        clock: ControlledClock,
        ids: IdFactory,
        lifecycle: Lifecycle,
        catalog: Catalog,
        seed: int | None = None,
        completion_mode: str = "generate",
        chunk_shape: ChunkShape = DOCUMENTED_SHAPE,
        ttft_ms: int = 0,
        itl_ms: int = 0,
        journal_bytes: int = DEFAULT_BUDGET_BYTES,
    ) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids
        self.lifecycle = lifecycle
        self.catalog = catalog
        self.seed = seed
        self.completion_mode = completion_mode
        self.chunk_shape = chunk_shape
        self.ttft_ms, self.itl_ms = ttft_ms, itl_ms
        self.timings: dict[tuple[str, str], tuple[int, int]] = {}  # per (tenant, instance): (ttft_ms, itl_ms)
        self.scripts = Scripts()
        self.faults = Faults(seed)
        self.journal = Journal(journal_bytes)
        self.saving: Callable[[], dict[str, Any] | None] = lambda: None  # how state-file saves go, if there is one

    def reseed(self, seed: int | None) -> None:
        """Ids, generated content and fault probabilities repeat from here for the same seed."""
        self.seed = seed
        self.ids.reseed(seed)
        self.faults.reseed(seed)

    def forget(self, tenant: str | None) -> None:
        """Everything a reset clears besides the resources: scripts, timings, faults, journal of the tenant (or all)."""
        self.store.reset(tenant)
        self.scripts.clear(tenant)
        for key in [k for k in self.timings if tenant is None or k[0] == tenant]:
            del self.timings[key]
        self.faults.clear(tenant=tenant)
        self.journal.clear(tenant)

    def now(self) -> float:
        return self.clock.now()

    def timestamp(self) -> str:
        return iso_millis(self.clock.now())

    def workspace(self, caller: Caller, workspace_id: str) -> WorkspaceState:
        """The caller's workspace with its due transitions settled; another tenant's answers like an unknown id."""
        workspace = self.store.existing(caller.tenant).workspaces.get(workspace_id)
        if workspace is None:
            raise WorkspaceNotFound(f"workspace {workspace_id} does not exist")
        self.lifecycle.settle_workspace(workspace, self.now())
        return workspace

    def transition(self, kind: str, workspace: WorkspaceState, entry: Entry, operation: str) -> None:
        """Move a resource along the lifecycle edge `operation` triggers, stamping update_time (StateConflict if none)."""
        self.lifecycle.begin(kind, workspace, entry, operation, self.now())
        entry.record["update_time"] = self.timestamp()

    def entry(self, workspace: WorkspaceState, kind: str, resource_id: str) -> Entry:
        entry = workspace.collection(kind).get(resource_id)
        if entry is None:
            raise ResourceNotFound(f"{kind.replace('_', ' ')} {resource_id} does not exist in workspace {workspace.entry.record['id']}")
        return entry
