"""/metrics' text is written by hand (bench/metrics.py: prometheus_client's writer took ~20x as long): it must read
back, through prometheus_client's parser, exactly as what prometheus_client writes for the same figures, whatever
the label values hold."""

from __future__ import annotations

import random
from itertools import accumulate
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from mockfabric.service.telemetry import Figures, Series, Telemetry
from mockfabric.web.prometheus import HISTOGRAMS, SCALARS, exposition

ODD = ['quote"d', "back\\slash", "line\nfeed", "ünï©ødé 模型", "}{,=", ""]


def figures_of(seed: int) -> dict[Series, Figures]:
    draw = random.Random(seed)
    telemetry = Telemetry()
    for tenant in ODD:
        series = telemetry.series(tenant, draw.choice(ODD) + "-instance")
        for _ in range(draw.randint(1, 5)):
            stream = draw.random() < 0.5
            queued = draw.choice([0.0, draw.uniform(0, 30)])
            telemetry.decided(
                series, now=0.0, queued=queued, duration=queued + draw.uniform(0, 60), prompt_tokens=draw.randint(1, 99),
                generation_tokens=draw.randint(0, 999), finish_reason=None if stream else draw.choice(["stop", "length"]),
            )  # fmt: skip
            if stream:
                tally = telemetry.stream(series)
                for _ in range(draw.randint(0, 30)):
                    tally.token(draw.choice([0.01, 0.05, draw.expovariate(10)]))
                if draw.random() < 0.7:
                    tally.finished("tool_calls")
                tally.close()
    return telemetry.snapshot(10.0)


class Reference:
    """The same figures as prometheus_client's own metric families."""

    def __init__(self, snapshot: dict[Series, Figures]) -> None:
        self.snapshot = snapshot

    def collect(self) -> list[Any]:
        labels = ["tenant", "model_name"]
        out: list[Any] = []
        for name, kind, text, value_of in SCALARS:
            family = (GaugeMetricFamily if kind == "gauge" else CounterMetricFamily)(name, text, labels=labels)
            for series, figures in self.snapshot.items():
                family.add_metric(list(series), value_of(figures))
            out.append(family)
        success = CounterMetricFamily("vllm:request_success", "x", labels=[*labels, "finished_reason"])
        for series, figures in self.snapshot.items():
            for reason, count in figures.finished.items():
                success.add_metric([*series, reason], count)
        out.append(success)
        for name, text, histogram_of in HISTOGRAMS:
            family = HistogramMetricFamily(name, text, labels=labels)
            for series, figures in self.snapshot.items():
                histogram = histogram_of(figures)
                bounds = [*(repr(b) for b in histogram.bounds), "+Inf"]
                family.add_metric(list(series), list(zip(bounds, accumulate(histogram.counts), strict=True)), histogram.total)
            out.append(family)
        return out


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_text_reads_back_as_prometheus_clients_own_for_the_same_figures() -> None:
    for seed in range(20):
        snapshot = figures_of(seed)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(Reference(snapshot))
        mine, theirs = samples(exposition(snapshot).decode("utf-8")), samples(generate_latest(registry).decode("utf-8"))
        assert mine == theirs, seed
        assert {dict(labels).get("tenant") for _, labels in mine} == set(ODD)


def test_families_are_typed_as_vllm_types_them() -> None:
    kinds = {family.name: family.type for family in text_string_to_metric_families(exposition(figures_of(1)).decode())}
    assert kinds["vllm:num_requests_running"] == kinds["vllm:num_requests_waiting"] == "gauge"
    assert kinds["vllm:prompt_tokens"] == kinds["vllm:generation_tokens"] == kinds["vllm:request_success"] == "counter"
    assert kinds["vllm:time_to_first_token_seconds"] == kinds["vllm:inter_token_latency_seconds"] == "histogram"
