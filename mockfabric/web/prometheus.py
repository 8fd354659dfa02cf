"""`GET /metrics` (with `--metrics`): the telemetry in Prometheus's text format, named as vLLM names its metrics.

What must hold: each scrape reads the figures at the emulator's `now` (service/telemetry.py says what they mean),
labelled `tenant` and `instance`; a scrape is no call of the service, so it is not journaled. Who may scrape, as
who may see the dashboard (every tenant's figures are in it): with a control token set, a caller presenting it
(its header, or `Authorization: Bearer <token>` as Prometheus's `authorization` sends it), else 401; under
`--auth strict` without a control token nobody (403); otherwise anyone. Without `--metrics` there is no route (404).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from ..clock import Clock
from ..config import CONTROL_TOKEN_HEADER
from ..errors import ForbiddenRequest, Unauthorized
from ..service.telemetry import Figures, Histogram, Series, Telemetry
from .front import exchange_of

PATH = "/metrics"
LABELS = ("tenant", "instance")


def register(app: Flask, telemetry: Telemetry, clock: Clock, control_token: str | None, strict: bool) -> None:
    """Add `GET /metrics` to `app`."""
    registry = CollectorRegistry(auto_describe=False)  # this server's own: nothing of the process-wide default
    registry.register(_Collector(telemetry, clock))

    def metrics() -> Response:
        exchange_of(request.environ).journaled = False
        _admit(control_token, strict)
        return Response(generate_latest(registry), 200, content_type=CONTENT_TYPE_PLAIN_0_0_4)

    app.add_url_rule(PATH, "metrics", metrics, methods=["GET"])


def _admit(control_token: str | None, strict: bool) -> None:
    if control_token is None:
        if strict:
            raise ForbiddenRequest(
                "under --auth strict the metrics show every tenant: scraping them needs a control token (--control-token)"
            )
        return
    bearer = request.headers.get("Authorization", "")
    given = request.headers.get(CONTROL_TOKEN_HEADER) or (bearer[7:] if bearer[:7].lower() == "bearer " else "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), control_token.encode()):
        raise Unauthorized(f"the metrics need the control token, in {CONTROL_TOKEN_HEADER} or as Authorization: Bearer")


class _Collector:
    """The telemetry's figures as metric families, read afresh at every scrape."""

    def __init__(self, telemetry: Telemetry, clock: Clock) -> None:
        self._telemetry, self._clock = telemetry, clock

    def collect(self) -> Iterable[Metric]:
        return list(families(self._telemetry.snapshot(self._clock.now())))


def families(snapshot: dict[Series, Figures]) -> Iterator[Metric]:
    """vLLM's metric families (where a meaning matches theirs) of every series in `snapshot`."""
    running = GaugeMetricFamily("vllm:num_requests_running", "Answers in progress: their slot is in use.", labels=LABELS)
    waiting = GaugeMetricFamily("vllm:num_requests_waiting", "Answers waiting for a free slot of their endpoint.", labels=LABELS)
    prompt = CounterMetricFamily("vllm:prompt_tokens", "Prompt tokens of the answers decided.", labels=LABELS)
    generation = CounterMetricFamily("vllm:generation_tokens", "Tokens of the answers decided.", labels=LABELS)
    success = CounterMetricFamily("vllm:request_success", "Answers delivered whole, by finish reason.", labels=(*LABELS, "finished_reason"))
    histograms = {
        "queue": HistogramMetricFamily("vllm:request_queue_time_seconds", "Wait for a free slot.", labels=LABELS),
        "first_token": HistogramMetricFamily("vllm:time_to_first_token_seconds", "Time to first token.", labels=LABELS),
        "inter_token": HistogramMetricFamily("vllm:inter_token_latency_seconds", "Time between tokens.", labels=LABELS),
        "whole": HistogramMetricFamily("vllm:e2e_request_latency_seconds", "Time to the end of the answer.", labels=LABELS),
    }
    for series, figures in sorted(snapshot.items()):
        labels = list(series)
        running.add_metric(labels, figures.running)
        waiting.add_metric(labels, figures.waiting)
        prompt.add_metric(labels, figures.prompt_tokens)
        generation.add_metric(labels, figures.generation_tokens)
        for reason, count in sorted(figures.finished.items()):
            success.add_metric([*labels, reason], count)
        for name, family in histograms.items():
            histogram: Histogram = getattr(figures, name)
            family.add_metric(labels, _buckets(histogram), histogram.total)
    yield from (running, waiting, prompt, generation, success, *histograms.values())


def _buckets(histogram: Histogram) -> list[tuple[str, float]]:
    return [("+Inf" if bound == float("inf") else repr(bound), count) for bound, count in histogram.cumulative()]
