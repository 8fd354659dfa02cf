"""Fault rules are matched without scanning them all: a request looks only at rules that can match its operation
and tenant; the answer is the same as one ordered list would give, probabilities included."""

from __future__ import annotations

import random
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mockfabric.fixture import faults as faults_module
from mockfabric.fixture.faults import FaultEffect, FaultMatch, FaultRule, Faults


def test_rules_of_other_operations_and_tenants_are_not_looked_at(monkeypatch: Any) -> None:
    faults = Faults(seed=1)
    for index in range(20_000):
        faults.add(operation="CreateWorkspace", tenant=f"t{index}", status=500)
        faults.add(operation="DeleteWorkspace", status=500)
    looked_at: list[FaultMatch] = []
    original = FaultMatch.matches

    def counting(self: FaultMatch, *args: Any) -> bool:
        looked_at.append(self)
        return original(self, *args)

    monkeypatch.setattr(faults_module.FaultMatch, "matches", counting)
    assert faults.fire("ListWorkspaces", "GET", "/v1/workspaces", "t5") is None
    assert looked_at == []
    fired = faults.fire("CreateWorkspace", "POST", "/v1/workspaces", "t5")
    assert fired is not None and fired.match.tenant == "t5" and len(looked_at) == 1


class ListFaults:
    """The reference: one list, scanned in order (the rules as documented)."""

    def __init__(self, seed: int) -> None:
        self.rules: list[FaultRule] = []
        self.rng = random.Random(seed)
        self.next = 0

    def add(self, *, probability: float = 1.0, times: int | None = None, **match: Any) -> None:
        self.next += 1
        self.rules.append(FaultRule(f"fault-{self.next}", FaultMatch(**match), FaultEffect(), probability, times))

    def fire(self, operation: str, method: str, path: str, tenant: str) -> str | None:
        for rule in self.rules:
            if not rule.match.matches(operation, method, path, tenant):
                continue
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self.rules.remove(rule)
            return rule.id
        return None

    def clear(self, tenant: str | None) -> None:
        self.rules = [r for r in self.rules if not (tenant is None or r.match.tenant == tenant)]


OPERATIONS = st.sampled_from([None, "ListWorkspaces", "CreateWorkspace"])
TENANTS = st.sampled_from([None, "a", "b"])
RULE = st.fixed_dictionaries(
    {
        "operation": OPERATIONS,
        "tenant": TENANTS,
        "method": st.sampled_from([None, "GET", "POST"]),
        "path": st.sampled_from([None, "/v1/.*", "/nothing"]),
        "probability": st.sampled_from([1.0, 0.5]),
        "times": st.sampled_from([None, 1, 2]),
    }
)
REQUEST = st.tuples(st.sampled_from(["ListWorkspaces", "CreateWorkspace"]), st.sampled_from(["GET", "POST"]), st.sampled_from(["a", "b"]))
STEP = st.one_of(
    st.tuples(st.just("add"), RULE), st.tuples(st.just("fire"), REQUEST), st.tuples(st.just("clear"), st.sampled_from([None, "a"]))
)


@given(steps=st.lists(STEP, max_size=40), seed=st.integers(0, 10))
def test_buckets_answer_as_one_ordered_list_would(steps: list[tuple[str, Any]], seed: int) -> None:
    indexed, reference = Faults(seed), ListFaults(seed)
    for kind, argument in steps:
        if kind == "add":
            spec = {k: v for k, v in argument.items() if v is not None}
            indexed.add(**spec)
            reference.add(**spec)
        elif kind == "fire":
            operation, method, tenant = argument
            fired = indexed.fire(operation, method, "/v1/workspaces", tenant)
            assert (fired.id if fired else None) == reference.fire(operation, method, "/v1/workspaces", tenant)
        else:
            indexed.clear(tenant=argument)
            reference.clear(argument)
        assert [r.id for r in indexed.rules()] == [r.id for r in reference.rules]


def test_many_path_rules_cost_what_matching_them_costs_not_compiling_them() -> None:
    """Each rule's path is compiled once (issue 28, item 5): re's cache holds 512 patterns, and past that every
    request compiled every rule again (10 000 rules: 172 ms a request). Ten times the rules may cost ten times the
    matching, never the ~100x more that compiling them again did."""

    def cost(rules: int) -> float:
        faults = Faults(seed=1)
        for index in range(rules):
            faults.add(path=f"/nothing/{index}/x+", status=500)
        faults.fire("ListWorkspaces", "GET", "/v1/workspaces", "t")
        started = time.perf_counter()
        for _ in range(20):
            assert faults.fire("ListWorkspaces", "GET", "/v1/workspaces", "t") is None
        return time.perf_counter() - started

    few, many = min(cost(200) for _ in range(3)), min(cost(2000) for _ in range(3))
    assert many < 25 * few, (few, many)
