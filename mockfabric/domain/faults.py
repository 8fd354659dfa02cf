"""Fault rules: which requests they hit (operationId or method + path pattern, tenant, probability, times) and
what happens (an error status and body, added latency, a dropped connection, or a stream fault).

Probabilities draw from an RNG seeded by the emulator seed, so a run with the same seed fails the same requests.
Latency and stalls are real time (they exist to test a client's timeouts), unlike the emulator clock.

Rules are kept in buckets by (operation, tenant), each None for "any", so a request looks only at the four buckets
that can match it, never at rules of other operations or tenants; merged in the order the rules were added, so the
first matching rule fires and probabilities draw in the same order as one list would.
"""

from __future__ import annotations

import heapq
import itertools
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ApiError, InternalError, RequestTimeout, ServiceUnavailable, Throttled


@dataclass(slots=True)
class FaultRule:
    id: str
    operation: str | None = None
    method: str | None = None
    path: str | None = None  # a regular expression the whole request path must match
    tenant: str | None = None
    probability: float = 1.0
    times: int | None = None  # how many more times it may fire; None = unlimited
    status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    drop_connection: bool = False
    stream_cut_after: int | None = None
    stream_error_after: int | None = None
    stall_ms: int = 0
    fired: int = 0
    order: int = field(default=0, repr=False, compare=False)  # when it was added: the first matching rule fires

    @property
    def bucket(self) -> tuple[str | None, str | None]:
        return self.operation, self.tenant

    def matches(self, operation: str | None, method: str, path: str, tenant: str | None) -> bool:
        return (
            (self.operation is None or self.operation == operation)
            and (self.method is None or self.method.upper() == method)
            and (self.path is None or re.fullmatch(self.path, path) is not None)
            and (self.tenant is None or self.tenant == tenant)
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and k != "order"}


DEFAULT_ERRORS: dict[int, tuple[type[ApiError], str]] = {  # what an error rule answers when it names no code
    408: (RequestTimeout, "timeout exception occurred"),
    429: (Throttled, "The throttling threshold has been reached"),
    500: (InternalError, "internal error"),
    503: (ServiceUnavailable, "service unavailable"),
}
FALLBACK_ERROR = ("dataartsfabric.00000001", "the system is busy; retry later")  # other statuses, mid-stream errors


def error_of(rule: FaultRule) -> tuple[str, str]:
    """The error_code and error_msg an error rule answers with (defaults per status, from the error tree)."""
    known = DEFAULT_ERRORS.get(rule.status or 500)
    code, message = (known[0].error_code, known[1]) if known is not None else FALLBACK_ERROR
    return rule.error_code or code, rule.error_msg or message


Bucket = tuple[str | None, str | None]


class Faults:
    def __init__(self, seed: int | None = None) -> None:
        self._buckets: dict[Bucket, list[FaultRule]] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._next = 0

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def add(self, **spec: Any) -> FaultRule:
        if spec.get("path") is not None:
            re.compile(spec["path"])  # raises re.error for a bad pattern before anything is stored
        with self._lock:
            self._next += 1
            rule = FaultRule(id=f"fault-{self._next}", **spec, order=self._next)
            self._buckets.setdefault(rule.bucket, []).append(rule)
            return rule

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return sorted(itertools.chain.from_iterable(self._buckets.values()), key=lambda rule: rule.order)

    def clear(self, tenant: str | None = None, rule_id: str | None = None) -> int:
        removed = 0
        with self._lock:
            for bucket, rules in list(self._buckets.items()):
                keep = [r for r in rules if not ((tenant is None or r.tenant == tenant) and (rule_id is None or r.id == rule_id))]
                removed += len(rules) - len(keep)
                if keep:
                    self._buckets[bucket] = keep
                else:
                    del self._buckets[bucket]
            return removed

    def fire(self, operation: str | None, method: str, path: str, tenant: str | None) -> FaultRule | None:
        """The first rule that matches and passes its probability; its `times` is used up by one."""
        if not self._buckets:  # no rules at all, the usual case: no lock, nothing to look at
            return None
        with self._lock:
            for rule in self._candidates(operation, tenant):
                if not rule.matches(operation, method, path, tenant):
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._remove(rule)
                return rule
        return None

    def _candidates(self, operation: str | None, tenant: str | None) -> Iterator[FaultRule]:
        """The rules that can match a request of this operation and tenant, in the order they were added."""
        keys = {(operation, tenant), (operation, None), (None, tenant), (None, None)}
        found = [rules for key in keys if (rules := self._buckets.get(key))]
        if len(found) == 1:
            return iter(found[0])
        return heapq.merge(*found, key=lambda rule: rule.order)

    def _remove(self, rule: FaultRule) -> None:
        rules = self._buckets[rule.bucket]
        rules.remove(rule)
        if not rules:
            del self._buckets[rule.bucket]
