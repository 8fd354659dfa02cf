"""`GET /metrics` (with `--metrics`): the telemetry in Prometheus's text format, named as vLLM names its metrics.

What must hold: each scrape reads the figures at the emulator's `now` (service/telemetry.py says what they mean),
labelled `tenant` and `model_name` (the service instance id, the `model` its answers report, as vLLM labels its
model: not `instance`, which Prometheus sets to the target it scrapes); a scrape is no call of the service, so it
is not journaled. Who may scrape, as who may see the dashboard (every tenant's figures are in it): with a control
token set, a caller presenting it (its header, or `Authorization: Bearer <token>` as Prometheus's `authorization`
sends it), else 401; under `--auth strict` without a control token nobody (403); otherwise anyone. Without
`--metrics` there is no route (404).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from functools import lru_cache
from itertools import accumulate

from flask import Flask, Response, request

from ..clock import Clock
from ..config import CONTROL_TOKEN_HEADER
from ..errors import ForbiddenRequest, Unauthorized
from ..service.telemetry import Figures, Histogram, Series, Telemetry
from .front import exchange_of

PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus's text format, what every scraper reads


def register(app: Flask, telemetry: Telemetry, clock: Clock, control_token: str | None, strict: bool) -> None:
    """Add `GET /metrics` to `app`."""

    def metrics() -> Response:
        exchange_of(request.environ).journaled = False
        _admit(control_token, strict)
        return Response(exposition(telemetry.snapshot(clock.now())), 200, content_type=CONTENT_TYPE)

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


def exposition(snapshot: dict[Series, Figures]) -> bytes:
    """The text format (version 0.0.4) of every series in `snapshot`, under vLLM's names where a meaning matches.
    Written here rather than by prometheus_client's `generate_latest`, which took 310-400 ms of GIL for 256 series
    (bench/metrics.py; figures in bench/BENCHMARKS.md); prometheus_client's parser reads it back in the tests."""
    labelled = [(_labels(series), figures) for series, figures in sorted(snapshot.items())]
    lines = [*_scalars(labelled), *_successes(labelled), *_histograms(labelled), ""]
    return "\n".join(lines).encode("utf-8")


Labelled = list[tuple[str, Figures]]  # each series' label pairs, as written, and its figures


def _scalars(labelled: Labelled) -> Iterator[str]:
    for name, kind, text, value_of in SCALARS:
        yield from (f"# HELP {name} {text}", f"# TYPE {name} {kind}")
        yield from (f"{name}{{{labels}}} {value_of(figures)}" for labels, figures in labelled)


def _successes(labelled: Labelled) -> Iterator[str]:
    name = "vllm:request_success_total"
    yield from (f"# HELP {name} Answers delivered whole, by finish reason.", f"# TYPE {name} counter")
    for labels, figures in labelled:
        for reason, count in sorted(figures.finished.items()):
            yield f'{name}{{{labels},finished_reason="{_escaped(reason)}"}} {count}'


def _histograms(labelled: Labelled) -> Iterator[str]:
    for name, text, histogram_of in HISTOGRAMS:
        yield from (f"# HELP {name} {text}", f"# TYPE {name} histogram")
        for labels, figures in labelled:
            histogram = histogram_of(figures)
            counts = list(accumulate(histogram.counts))  # each bucket counts what is at most its bound (le)
            yield from (
                f'{name}_bucket{{{labels},le="{bound}"}} {count}' for bound, count in zip(_bounds(histogram.bounds), counts, strict=True)
            )
            yield from (f"{name}_count{{{labels}}} {counts[-1]}", f"{name}_sum{{{labels}}} {histogram.total!r}")


SCALARS: tuple[tuple[str, str, str, Callable[[Figures], int]], ...] = (
    ("vllm:num_requests_running", "gauge", "Answers in progress: their slot is in use.", lambda f: f.running),
    ("vllm:num_requests_waiting", "gauge", "Answers waiting for a free slot of their endpoint.", lambda f: f.waiting),
    ("vllm:prompt_tokens_total", "counter", "Prompt tokens of the answers decided.", lambda f: f.prompt_tokens),
    ("vllm:generation_tokens_total", "counter", "Tokens of the answers decided.", lambda f: f.generation_tokens),
)
HISTOGRAMS: tuple[tuple[str, str, Callable[[Figures], Histogram]], ...] = (
    ("vllm:request_queue_time_seconds", "Wait for a free slot.", lambda f: f.queue),
    ("vllm:time_to_first_token_seconds", "Time to first token.", lambda f: f.first_token),
    ("vllm:inter_token_latency_seconds", "Time between tokens.", lambda f: f.inter_token),
    ("vllm:e2e_request_latency_seconds", "Time to the end of the answer.", lambda f: f.whole),
)


def _labels(series: Series) -> str:
    tenant, instance = series
    return f'model_name="{_escaped(instance)}",tenant="{_escaped(tenant)}"'


def _escaped(value: str) -> str:
    """A label value as the text format writes it: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@lru_cache(maxsize=8)
def _bounds(bounds: tuple[float, ...]) -> tuple[str, ...]:
    return (*(repr(bound) for bound in bounds), "+Inf")
