"""The telemetry's bookkeeping, without a server: its bounds (series, answers tracked) and what a reset forgets."""

from __future__ import annotations

import pytest

from mockfabric.service.telemetry import ITL_BUCKETS, OTHER, Histogram, Telemetry


def decide(telemetry: Telemetry, tenant: str, instance: str = "i", *, now: float = 0.0, queued: float = 0.0, duration: float = 1.0) -> None:
    telemetry.decided(
        telemetry.series(tenant, instance),
        now=now,
        queued=queued,
        duration=duration,
        prompt_tokens=3,
        generation_tokens=5,
        finish_reason="stop",
    )


def test_past_its_series_bound_answers_count_in_the_other_series() -> None:
    telemetry = Telemetry(max_series=4)
    for number in range(10):
        decide(telemetry, f"t{number}")
    snapshot = telemetry.snapshot(0.0)
    assert len(snapshot) == 4 and set(snapshot) == {("t0", "i"), ("t1", "i"), ("t2", "i"), OTHER}
    assert snapshot[OTHER].prompt_tokens == 7 * 3 and snapshot[OTHER].running == 7
    decide(telemetry, "t1")  # a known series keeps its own place
    assert telemetry.snapshot(0.0)[("t1", "i")].prompt_tokens == 6


def test_a_long_id_is_cut_to_the_label_bound() -> None:
    telemetry = Telemetry()
    decide(telemetry, "x" * 10_000, "y" * 10_000)
    ((tenant, instance),) = telemetry.snapshot(0.0)
    assert len(tenant) == len(instance) == 128


def test_answers_tracked_are_bounded_and_the_first_to_end_goes_first() -> None:
    telemetry = Telemetry(max_in_flight=3)
    for end in (5.0, 1.0, 9.0, 7.0):  # a frozen clock: none ends by itself
        decide(telemetry, "t", duration=end)
    figures = telemetry.snapshot(0.0)[("t", "i")]
    assert figures.running == 3  # the one ending at 1.0 made room
    assert telemetry.snapshot(6.0)[("t", "i")].running == 2


def test_waiting_answers_start_when_their_wait_is_over() -> None:
    telemetry = Telemetry()
    decide(telemetry, "t", duration=2.0)
    decide(telemetry, "t", queued=2.0, duration=4.0)
    decide(telemetry, "t", queued=4.0, duration=6.0)
    assert [(f.running, f.waiting) for f in (telemetry.snapshot(t)[("t", "i")] for t in (0.0, 2.0, 4.0))] == [(1, 2), (1, 1), (1, 0)]
    assert ("t", "i") in telemetry.snapshot(6.0) and telemetry.snapshot(6.0)[("t", "i")].running == 0


def test_a_reset_forgets_a_tenant_or_everyone() -> None:
    telemetry = Telemetry(max_series=3)
    for tenant in ("a", "b", "c", "d"):
        decide(telemetry, tenant)
    telemetry.clear("a")
    assert set(telemetry.snapshot(0.0)) == {("b", "i"), OTHER}
    decide(telemetry, "e")  # a place freed: a new tenant gets its own series again
    assert ("e", "i") in telemetry.snapshot(0.0)
    telemetry.clear()
    assert telemetry.snapshot(0.0) == {}


def test_a_stream_tally_tells_its_pace_once_however_it_ends() -> None:
    telemetry = Telemetry()
    series = telemetry.series("t", "i")
    tally = telemetry.stream(series)
    for seconds in (0.5, 0.05, 0.05, 0.1):
        tally.token(seconds)
    tally.finished("length")
    tally.close()
    tally.close()
    figures = telemetry.snapshot(0.0)[series]
    assert figures.first_token.total == 0.5 and sum(figures.first_token.counts) == 1
    assert sum(figures.inter_token.counts) == 3 and figures.whole.total == pytest.approx(0.7) and figures.finished == {"length": 1}


def test_a_value_on_a_bound_counts_in_that_bucket() -> None:
    histogram = Histogram(ITL_BUCKETS)
    for value in (0.01, 0.0100001, 81.0):
        histogram.observe(value)
    assert histogram.counts[:2] == [1, 1] and histogram.counts[-1] == 1 and sum(histogram.counts) == 3  # 81 is past 80


def test_a_waiting_answer_dropped_past_the_bound_takes_its_own_wait_with_it() -> None:
    telemetry = Telemetry(max_in_flight=3)
    decide(telemetry, "t", duration=20.0)  # running until 20
    decide(telemetry, "t", queued=10.0, duration=11.0)  # waits until 10, ends first: the one dropped
    decide(telemetry, "t", duration=30.0)
    decide(telemetry, "t", duration=40.0)
    figures = telemetry.snapshot(5.0)[("t", "i")]
    assert (figures.running, figures.waiting) == (3, 0)
