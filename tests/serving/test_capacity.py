"""Pacing and capacity over a real socket: seeded jitter, journaled per stream (`pace_ms`), is the same for the same
request and seed; an endpoint serves so many answers at once per reserved MU, on the emulator's clock, and past it
an invocation queues (its first token comes later, `queued_ms` in the journal) or gets the gateway's 429."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from mockfabric import MockFabric
from mockfabric.config import ConfigError

from .flow import Deployed, deploy

ASK = {"messages": [{"role": "user", "content": "hello"}], "stream": True}
WORDS = "one two three four five"  # five tokens: an answer lasts TTFT + 4 x ITL


def scripted(flow: Deployed) -> None:
    flow.fabric.add_fixture({"instance": {"equals": flow.instance}}, {"content": WORDS})


def invoke(flow: Deployed) -> requests.Response:
    return flow.invoke(ASK)


def queued_ms(flow: Deployed) -> list[float | None]:
    return [entry.get("queued_ms") for entry in flow.fabric.requests(operation="InvokeModelService")]


def test_past_its_capacity_an_endpoint_refuses_until_a_slot_frees_on_the_clock() -> None:
    with MockFabric(streams_per_mu=1, over_capacity="refuse", ttft_ms=1000, itl_ms=100) as fabric:
        flow = deploy(fabric)
        scripted(flow)
        assert invoke(flow).status_code == 200  # busy until 1.4 s from now on the emulator's clock
        refused = invoke(flow)
        assert refused.status_code == 429 and refused.json()["error_code"] == "APIG.0308"
        assert "capacity (1 per reserved MU)" in refused.json()["error_msg"]
        fabric.advance(1.3)
        assert invoke(flow).status_code == 429  # 0.1 s still to go
        fabric.advance(0.1)
        assert invoke(flow).status_code == 200
        assert fabric.set_quota(flow.endpoint)["used"] == 2 * (4 + 5)  # two answers of 4 + 5 tokens; refusals count none


def test_two_reserved_mus_serve_twice_as_many_and_a_reset_frees_every_slot() -> None:
    with MockFabric(streams_per_mu=1, over_capacity="refuse", ttft_ms=1000) as fabric:
        flow = deploy(fabric)
        widened = flow.session.put(
            f"{fabric.base_url}/v1/workspaces/{flow.workspace}/endpoints/{flow.endpoint}",
            json={"reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 0, "max": 2}}},
        )
        assert widened.status_code == 202, widened.text
        fabric.advance(5)  # UPDATING, then RUNNING again
        assert [invoke(flow).status_code for _ in range(3)] == [200, 200, 429]
        fabric.reset()
        flow = deploy(fabric)
        assert invoke(flow).status_code == 200


def test_past_its_capacity_an_invocation_queues_for_the_first_free_slot() -> None:
    with MockFabric(streams_per_mu=1, ttft_ms=1000, itl_ms=100) as fabric:
        flow = deploy(fabric)
        scripted(flow)
        for _ in range(3):
            assert invoke(flow).status_code == 200
        assert queued_ms(flow) == [None, 1400.0, 2800.0]  # each waits for the one before it to end
        fabric.advance(2.8 + 1.4)
        assert invoke(flow).status_code == 200 and queued_ms(flow)[-1] is None
        plain = flow.invoke({**ASK, "stream": False})
        assert plain.status_code == 200 and queued_ms(flow)[-1] == 1400.0  # a plain answer holds a slot as long


def test_a_queued_stream_starts_later_in_real_time() -> None:
    with MockFabric(clock="system", streams_per_mu=1, ttft_ms=400) as fabric:
        flow = deploy(fabric)
        scripted(flow)
        firsts: list[float] = []
        start = time.monotonic()

        def first_token() -> None:
            with flow.session.post(flow.invoke_url, json=ASK, stream=True, timeout=30) as reply:
                for line in reply.iter_lines():
                    if line.startswith(b"data: ") and b'"content":"one"' in line.replace(b" ", b""):
                        firsts.append(time.monotonic() - start)
                        return

        threads = [threading.Thread(target=first_token) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(firsts) == 2, firsts
        assert min(firsts) >= 0.4 and max(firsts) >= 0.8, firsts  # the second waited for the first to end
        assert sorted(value or 0 for value in queued_ms(flow))[-1] > 300


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"over_capacity": "later"}, "over-capacity must be one of queue, refuse"), ({"streams_per_mu": "-1"}, "streams-per-mu must be")],
)
def test_a_bad_capacity_setting_is_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MockFabric(**settings)


def paces(flow: Deployed) -> list[dict[str, float]]:
    return [entry["pace_ms"] for entry in flow.fabric.requests(operation="InvokeModelService") if "pace_ms" in entry]


def test_jitter_over_a_socket_is_the_same_for_the_same_request_and_seed() -> None:
    spread = {"ttft_ms": 200, "itl_ms": 20, "ttft_jitter_ms": 50, "itl_jitter_ms": 5, "prefill_us_per_token": 1000}
    seen = []
    for seed in (11, 11, 12):
        with MockFabric(seed=seed, **spread) as fabric:  # a manual clock: paced, yet no real time passes
            flow = deploy(fabric)
            for text in ("hello", "hello", "something else"):
                assert flow.invoke({"messages": [{"role": "user", "content": text}], "stream": True}).status_code == 200
            seen.append(paces(flow))
    first, again, other_seed = seen
    assert first == again and first[0] == first[1] and first[2] != first[0]  # per request and seed, reproducibly
    assert other_seed[0] != first[0]
    assert all(pace["first_token"] >= 4.0 for pace in first)  # prefill: 4 prompt tokens x 1 ms at least
    assert len({pace["first_token"] for pace in first}) == 2 and first[0]["first_token"] != 200 + 4  # drawn, not the mean
