"""Stream pacing with spread: jitter around TTFT and ITL drawn from the request's seed (the same request is paced
alike, another request differently), prefill time per prompt token, and nothing below zero."""

from __future__ import annotations

import statistics

from mockfabric.clock import SystemClock
from mockfabric.service.completions import Fragment, Scripted, build_completion, draft_completion
from mockfabric.service.invocations import Invocation
from mockfabric.service.pacing import Timing
from mockfabric.streaming import Handover
from mockfabric.web.invocations import render


def delays(
    timing: Timing, content: str = "hello world", seed: int = 1, scripted: Scripted | None = None, queued: float = 0.0
) -> list[float]:
    """The real seconds before each step of a streamed answer (a system clock: seconds are seconds)."""
    draft = draft_completion({"messages": [{"role": "user", "content": content}]}, "generate", seed)
    completion = build_completion(completion_id="chatcmpl-pacing", created=1, model="m", draft=draft, scripted=scripted)
    handover = Handover()
    invocation = Invocation(completion, stream=True, include_usage=False, seed=draft.seed, timing=timing, queued=queued)
    render(invocation, SystemClock(), None, None, handover)
    assert handover.steps is not None
    return [seconds for seconds, _ in handover.steps]


def test_without_jitter_every_gap_is_the_mean_and_prefill_grows_with_the_prompt() -> None:
    plain = delays(Timing(200, 20))
    assert plain[0] == 0.2 and set(plain[1:-2]) == {0.02}  # TTFT before the first fragment, then ITL; finish and [DONE] at once
    long_prompt = delays(Timing(200, 20, prefill_us_per_token=1000), content=" ".join(["w"] * 500))
    assert abs(long_prompt[0] - (0.2 + 503 * 1000 / 1e6)) < 1e-9  # 503 prompt tokens (500 + 3 per message) x 1 ms


def test_jitter_is_reproducible_per_request_and_spread_around_the_mean() -> None:
    jittery = Timing(200, 20, ttft_jitter_ms=50, itl_jitter_ms=5)
    first, again = delays(jittery), delays(jittery)
    assert first == again  # the same request (and seed): the same pace
    other = delays(jittery, content="something else entirely")
    assert other[0] != first[0]
    gaps = [gap for gap in first[1:] if gap > 0] + [gap for gap in other[1:] if gap > 0]
    assert len(set(gaps)) > 5 and abs(statistics.mean(gaps) - 0.02) < 0.004 and min(first + other) >= 0
    assert delays(jittery, seed=2) != first  # another emulator seed: another pace


def test_an_instances_own_pacing_is_set_with_its_spread_through_the_control_api() -> None:
    from mockfabric import create_app

    app = create_app()
    reply = app.test_client().put(
        "/_mockfabric/timing",
        json={"tenant": "t", "instance_id": "i", "ttft_ms": 100, "itl_ms": 10, "itl_jitter_ms": 2.5, "prefill_us_per_token": 40},
    )
    assert reply.status_code == 200 and reply.get_json()["itl_jitter_ms"] == 2.5 and reply.get_json()["ttft_jitter_ms"] == 0.0
    assert app.extensions["mockfabric"].controls.timings.of("t", "i") == Timing(100, 10, 0.0, 2.5, 40)
    refused = app.test_client().put(
        "/_mockfabric/timing", json={"tenant": "t", "instance_id": "i", "ttft_ms": 1, "itl_ms": 1, "itl_jitter_ms": -1}
    )
    assert refused.status_code == 400 and refused.get_json()["error_msg"].startswith("body.itl_jitter_ms")


def test_an_answers_own_chunk_delays_replace_the_pacing_and_a_queue_wait_comes_before_the_first_token() -> None:
    fragments = (Fragment("Hel"), Fragment("lo", delay_ms=500), Fragment("!", delay_ms=0))
    own = delays(Timing(200, 20), scripted=Scripted("Hello!", fragments=fragments))
    assert own == [0.2, 0.5, 0.0, 0.0, 0.0]  # TTFT before the first (it has no delay of its own), then its own; finish, [DONE]
    queued = delays(Timing(200, 20), scripted=Scripted("Hello!", fragments=fragments), queued=1.5)
    assert queued == [1.7, 0.5, 0.0, 0.0, 0.0]


def test_reasoning_is_paced_before_an_answers_own_chunk_delays() -> None:
    fragments = (Fragment("Hi", delay_ms=300), Fragment("!"))
    steps = delays(Timing(200, 20), scripted=Scripted("Hi!", reasoning_content="think hard", fragments=fragments))
    assert steps == [0.2, 0.02, 0.3, 0.02, 0.0, 0.0]  # "think", " hard", then its own 300 ms, ITL; finish, [DONE]
