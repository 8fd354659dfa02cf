"""`--metrics`: a live server scraped after a seeded load, through the openai client and raw sockets, parsed by
prometheus_client's own parser: the figures are the answers' own (usage, pacing on the emulator's clock, the
capacity model's queue), labelled by tenant and model_name (the instance); only who may scrape can; off, there is no route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from mockfabric import MockFabric
from mockfabric.clients import openai_client
from mockfabric.config import Settings
from mockfabric.testing.fabric import TEST_TOKEN
from mockfabric.web.app import create_app

from .flow import Deployed, deploy, fresh_deployment

TTFT, ITL = 0.2, 0.05  # seconds, as --ttft-ms 200 --itl-ms 50
PRESET = "6f1d2c3b-4a59-4e87-b1c0-9d8e7f6a5b01"  # the catalog's preset Qwen service, invocable from any workspace


def scrape(fabric: MockFabric, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    answer = requests.get(f"{fabric.base_url}/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """The one sample of `name` whose labels include `labels` (0 when the series has none yet)."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else 0.0


@pytest.fixture
def deployed() -> Iterator[Deployed]:
    with fresh_deployment(metrics=True, ttft_ms=int(TTFT * 1000), itl_ms=int(ITL * 1000), seed=11) as flow:
        yield flow


def _load(client: Any, streams: int) -> tuple[dict[str, int], int, float]:
    """`streams` streams cut at max_tokens, then one plain answer: their usage, the gaps between their tokens, and
    how long the streams take in all on the emulator's clock (TTFT, then ITL per gap)."""
    usage = {"prompt": 0, "completion": 0}
    gaps, whole = 0, 0.0
    for number in range(streams):
        chunks = list(
            client.chat.completions.create(
                model="any",
                messages=[{"role": "user", "content": f"question {number} " * (number + 1)}],
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=5 + number,
            )
        )
        tokens = sum(1 for c in chunks if c.choices and c.choices[0].delta.content)
        usage["prompt"] += chunks[-1].usage.prompt_tokens
        usage["completion"] += chunks[-1].usage.completion_tokens
        gaps += tokens - 1
        whole += TTFT + (tokens - 1) * ITL
    plain = client.chat.completions.create(model="any", messages=[{"role": "user", "content": "and you?"}], stream=False)
    usage["prompt"] += plain.usage.prompt_tokens
    usage["completion"] += plain.usage.completion_tokens
    return usage, gaps, whole


def test_a_seeded_load_is_counted_as_its_answers_report_it(deployed: Deployed) -> None:
    fabric, streams = deployed.fabric, 4
    credentials = {"token": TEST_TOKEN, "project_id": fabric.tenant, "max_retries": 0}
    with openai_client(fabric.base_url, deployed.workspace, deployed.instance, **credentials) as client:
        usage, gaps, whole = _load(client, streams)
    samples = scrape(fabric)
    mine = {"tenant": fabric.tenant, "model_name": deployed.instance}
    assert value(samples, "vllm:prompt_tokens_total", **mine) == usage["prompt"]
    assert value(samples, "vllm:generation_tokens_total", **mine) == usage["completion"]
    assert value(samples, "vllm:request_success_total", **mine, finished_reason="length") == streams  # cut at max_tokens
    assert value(samples, "vllm:request_success_total", **mine, finished_reason="stop") == 1
    assert value(samples, "vllm:time_to_first_token_seconds_count", **mine) == streams + 1
    assert value(samples, "vllm:time_to_first_token_seconds_sum", **mine) == pytest.approx(streams * TTFT)  # plain: 0
    assert value(samples, "vllm:time_to_first_token_seconds_bucket", **mine, le="0.1") == 1  # the plain answer
    assert value(samples, "vllm:time_to_first_token_seconds_bucket", **mine, le="0.25") == streams + 1
    assert value(samples, "vllm:inter_token_latency_seconds_count", **mine) == gaps
    assert value(samples, "vllm:inter_token_latency_seconds_sum", **mine) == pytest.approx(gaps * ITL)
    assert value(samples, "vllm:inter_token_latency_seconds_bucket", **mine, le="0.05") == gaps  # a bound is inclusive
    assert value(samples, "vllm:inter_token_latency_seconds_bucket", **mine, le="0.025") == 0
    assert value(samples, "vllm:e2e_request_latency_seconds_sum", **mine) == pytest.approx(whole)
    assert value(samples, "vllm:request_queue_time_seconds_count", **mine) == streams + 1
    # on the manual clock nothing has moved: every answer is still in progress, as the capacity model counts them
    assert value(samples, "vllm:num_requests_running", **mine) == streams + 1
    fabric.advance(60)
    assert value(scrape(fabric), "vllm:num_requests_running", **mine) == 0


def test_running_and_waiting_follow_the_capacity_model_on_the_emulator_clock() -> None:
    with MockFabric(metrics=True, streams_per_mu=1, ttft_ms=1000, itl_ms=100) as fabric:
        flow = deploy(fabric)
        fabric.add_fixture({"instance": {"equals": flow.instance}}, {"content": "one two three four five"})  # 1.4 s each
        for _ in range(3):
            assert flow.invoke({"messages": [{"role": "user", "content": "hi"}]}).status_code == 200
        mine = {"tenant": fabric.tenant, "model_name": flow.instance}

        def gauges() -> tuple[float, float]:
            samples = scrape(fabric)
            return value(samples, "vllm:num_requests_running", **mine), value(samples, "vllm:num_requests_waiting", **mine)

        assert gauges() == (1, 2)
        fabric.advance(1.4)
        assert gauges() == (1, 1)
        fabric.advance(1.4)
        assert gauges() == (1, 0)
        fabric.advance(1.4)
        assert gauges() == (0, 0)
        samples = scrape(fabric)
        assert value(samples, "vllm:request_queue_time_seconds_sum", **mine) == pytest.approx(1.4 + 2.8)
        assert value(samples, "vllm:time_to_first_token_seconds_sum", **mine) == pytest.approx(1.0 + 2.4 + 3.8)


def test_a_cut_stream_reports_what_it_paced_and_no_success(deployed: Deployed) -> None:
    fault = {**deployed.fabric.headers, "X-Mockfabric-Fault": '{"stream_cut_after": 4}'}
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        deployed.invoke({"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 20}, headers=fault).raise_for_status()
    samples = scrape(deployed.fabric)
    mine = {"tenant": deployed.fabric.tenant, "model_name": deployed.instance}
    assert value(samples, "vllm:time_to_first_token_seconds_count", **mine) == 1
    assert value(samples, "vllm:inter_token_latency_seconds_count", **mine) == 3  # 4 chunks written, each with a token
    assert value(samples, "vllm:e2e_request_latency_seconds_count", **mine) == 0
    assert not [k for k in samples if k[0] == "vllm:request_success_total"]
    assert value(samples, "vllm:generation_tokens_total", **mine) == 20  # generated in full, as the quota counts


def test_tenants_get_their_own_series_and_a_reset_forgets_them() -> None:
    with MockFabric(metrics=True) as fabric:
        callers = [{"X-Auth-Token": TEST_TOKEN, "X-Project-Id": tenant} for tenant in ("tenant-a", "tenant-b")]
        for headers in callers:
            created = requests.post(f"{fabric.base_url}/v1/workspaces", json={"name": "metrics-ws"}, headers=headers, timeout=10)
            workspace = created.json()["id"]
            url = f"{fabric.base_url}/v1/workspaces/{workspace}/services/instances/{PRESET}/invocations"
            body = {"messages": [{"role": "user", "content": "hi"}], "stream": False}
            assert requests.post(url, json=body, headers=headers, timeout=10).status_code == 200
        samples = scrape(fabric)
        for tenant in ("tenant-a", "tenant-b"):
            assert value(samples, "vllm:request_success_total", tenant=tenant, model_name=PRESET, finished_reason="stop") == 1
        assert requests.post(f"{fabric.base_url}/_mockfabric/reset", json={"tenant": "tenant-a"}, timeout=10).status_code == 200
        samples = scrape(fabric)
        assert value(samples, "vllm:prompt_tokens_total", tenant="tenant-a", model_name=PRESET) == 0
        assert value(samples, "vllm:prompt_tokens_total", tenant="tenant-b", model_name=PRESET) > 0
        fabric.reset(all_tenants=True)
        assert not [k for k in scrape(fabric) if k[0].startswith("vllm:")]


def test_a_scrape_is_not_journaled(deployed: Deployed) -> None:
    before = len(deployed.fabric.requests())
    scrape(deployed.fabric)
    assert len(deployed.fabric.requests()) == before


def test_with_a_control_token_only_its_holder_scrapes() -> None:
    with MockFabric(metrics=True, control_token="s3cret") as fabric:
        url = f"{fabric.base_url}/metrics"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Mockfabric-Control-Token": "s3cre"}):
            refused = requests.get(url, headers=headers, timeout=10)
            assert refused.status_code == 401 and refused.json()["error_code"] == "APIG.1002", headers
        assert requests.get(url, headers={"Authorization": "Bearer s3cret"}, timeout=10).status_code == 200
        assert requests.get(url, headers={"X-Mockfabric-Control-Token": "s3cret"}, timeout=10).status_code == 200


def test_under_strict_auth_without_a_control_token_nobody_scrapes(tmp_path: Path) -> None:
    credentials = tmp_path / "ids.yaml"
    credentials.write_text("credentials:\n  - {token: tok-a, project_id: project-a}\n", encoding="utf-8")
    app = create_app(Settings(metrics=True, auth="strict", credentials=str(credentials)))  # MockFabric would set a token
    refused = app.test_client().get("/metrics", headers={"X-Auth-Token": "tok-a"})
    assert refused.status_code == 403 and refused.json["error_code"] == "common.01000403"
    assert "control token" in refused.json["error_msg"]


def test_without_the_flag_there_is_no_metrics_route() -> None:
    with MockFabric() as fabric:
        missing = requests.get(f"{fabric.base_url}/metrics", timeout=10)
        assert missing.status_code == 404 and missing.json()["error_code"] == "APIG.0101"


def test_a_stream_running_across_a_reset_leaves_no_figures_after_it() -> None:
    with MockFabric(metrics=True, clock="system", itl_ms=50) as fabric:
        url = f"{fabric.base_url}/v1/workspaces/{_workspace(fabric)}/services/instances/{PRESET}/invocations"
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
        with requests.post(url, json=body, headers=fabric.headers, stream=True, timeout=10) as streamed:
            lines = streamed.iter_lines()
            assert next(lines).startswith(b"data: ")  # its first token; nine more are 50 ms apart
            fabric.reset()
            assert [line for line in lines if line][-1] == b"data: [DONE]"
        # the stream was decided before the reset: its pace and finish are forgotten with its tokens
        assert not [k for k in scrape(fabric) if k[0].startswith("vllm:")]


def test_a_plain_answer_whose_connection_drops_is_no_success() -> None:
    with MockFabric(metrics=True) as fabric:
        workspace = _workspace(fabric)
        fabric.add_fixture({"user": {"equals": "drop me"}}, {"content": "never delivered", "drop_connection": True})
        url = f"{fabric.base_url}/v1/workspaces/{workspace}/services/instances/{PRESET}/invocations"
        body = {"messages": [{"role": "user", "content": "drop me"}], "stream": False}
        with pytest.raises(requests.exceptions.ChunkedEncodingError):  # closed mid-answer
            requests.post(url, json=body, headers=fabric.headers, timeout=10)
        samples = scrape(fabric)
        mine = {"tenant": fabric.tenant, "model_name": PRESET}
        assert value(samples, "vllm:generation_tokens_total", **mine) > 0  # generated, as the quota counts
        assert not [k for k in samples if k[0] == "vllm:request_success_total"]
        assert value(samples, "vllm:time_to_first_token_seconds_count", **mine) == 0
        assert value(samples, "vllm:e2e_request_latency_seconds_count", **mine) == 0


def test_no_series_carries_a_label_prometheus_sets_on_its_targets() -> None:
    """Prometheus labels every series it scrapes `job` and `instance` (the target): a scraped label of those names
    would be renamed `exported_instance` under the README's scrape job. The instance is `model_name`, as vLLM names
    it: the `model` its answers report."""
    with MockFabric(metrics=True) as fabric:
        url = f"{fabric.base_url}/v1/workspaces/{_workspace(fabric)}/services/instances/{PRESET}/invocations"
        body = {"messages": [{"role": "user", "content": "hi"}], "stream": False}
        answer = requests.post(url, json=body, headers=fabric.headers, timeout=10).json()
        samples = scrape(fabric)
        assert samples and not [labels for _, labels in samples if {"instance", "job"} & dict(labels).keys()]
        assert value(samples, "vllm:request_success_total", tenant=fabric.tenant, model_name=answer["model"]) == 1


def _workspace(fabric: MockFabric) -> str:
    created = requests.post(f"{fabric.base_url}/v1/workspaces", json={"name": "metrics-ws"}, headers=fabric.headers, timeout=10)
    workspace: str = created.json()["id"]
    return workspace
