"""Endpoint metrics from the emulator's own traffic: per endpoint and minute, the invocations it answered, the
tokens they used and the invocations it refused. The shapes, names and units are inferred (the documented metric
names are SQL-endpoint ones); the figures are exact counts of what happened on the emulator's clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import RuleViolated
from .store import Entry, Record, WorkspaceState

MINUTES_KEPT = 1440  # per endpoint: a day of minutes; older ones are dropped
ENDPOINT_METRICS = {"invocations": (0, "count"), "tokens": (1, "count"), "errors": (2, "count")}
QUERY_HISTORY_METRICS = {
    "QUERY_HISTORY_COUNT": (0, "count"),
    "QUERY_HISTORY_TOKENS": (1, "count"),
    "QUERY_HISTORY_FAILED_COUNT": (2, "count"),
}
PERIODS = (60, 300, 3600)


def record_usage(workspace: WorkspaceState, endpoint_id: str, at: float, *, tokens: int = 0, failed: bool = False) -> None:
    """Count one invocation (answered with `tokens`, or refused) in its minute."""
    usage: dict[str, dict[str, list[int]]] = workspace.extras.setdefault("usage", {})
    minutes = usage.setdefault(endpoint_id, {})
    counts = minutes.setdefault(str(int(at // 60) * 60), [0, 0, 0])
    counts[2 if failed else 0] += 1
    counts[1] += tokens
    while len(minutes) > MINUTES_KEPT:
        del minutes[min(minutes, key=int)]


def update_metrics_config(workspace: WorkspaceState, *, enable: bool) -> str:
    workspace.extras["metrics_enabled"] = enable
    return "OK"


def _series(
    workspace: WorkspaceState,
    endpoint: Entry,
    names: dict[str, tuple[int, str]],
    wanted: list[str] | None,
    start: int,
    end: int,
    period: int,
) -> Record:
    if period not in PERIODS:
        raise RuleViolated(f"{period} is not a period (seconds): {', '.join(map(str, PERIODS))}", field="period")
    if end < start:
        raise RuleViolated(f"end_time {end} is before start_time {start}", field="end_time")
    unknown = [name for name in wanted or [] if name not in names]
    if unknown:
        raise RuleViolated(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(names)}", field="metric_names")
    minutes = workspace.extras.get("usage", {}).get(endpoint.record["id"], {})
    buckets: dict[int, list[int]] = {}
    for minute, counts in minutes.items():
        at = int(minute) * 1000
        if start <= at < end:
            bucket = buckets.setdefault(at - (at - start) % (period * 1000), [0, 0, 0])
            for index, count in enumerate(counts):
                bucket[index] += count
    return {
        "metrics": [
            {
                "metric_name": name,
                "unit": unit,
                "datapoints": [{"timestamp": at, "value": counts[index]} for at, counts in sorted(buckets.items())],
            }
            for name, (index, unit) in names.items()
            if not wanted or name in wanted
        ]
    }


def show_endpoint_metrics(
    workspace: WorkspaceState, endpoint: Entry, *, start_time: int, end_time: int, period: int = 60, metric_names: list[str] | None = None
) -> Record:
    """Invocations, tokens and refused invocations of the endpoint per period within [start_time, end_time) (ms)."""
    return _series(workspace, endpoint, ENDPOINT_METRICS, metric_names, start_time, end_time, period)


def show_query_history_metrics(
    workspace: WorkspaceState, endpoint: Entry, *, start_time: int, end_time: int, period: int = 60, metric_names: list[str] | None = None
) -> Record:
    """The same counts under the documented QUERY_HISTORY_* names."""
    return _series(workspace, endpoint, QUERY_HISTORY_METRICS, metric_names, start_time, end_time, period)


OPERATIONS: dict[str, Callable[..., Any]] = {
    "UpdateMetricsConfig": update_metrics_config,
    "ShowEndpointMetrics": show_endpoint_metrics,
    "ShowQueryHistoryMetrics": show_query_history_metrics,
}
