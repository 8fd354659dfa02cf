"""iso_millis: the service's timestamp format, formatted fast, identical to the datetime rendering it replaced."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mockfabric.clock import iso_millis


def _reference(instant: float) -> str:
    moment = datetime.fromtimestamp(instant, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@given(st.floats(min_value=-1e9, max_value=4e9, allow_nan=False))
@example(1.9999995)  # rounds up into the next second
@example(1_700_000_000.9999999)
@example(-0.0000001)
@example(0.0)
def test_iso_millis_matches_datetime(instant: float) -> None:
    assert iso_millis(instant) == _reference(instant)


def test_iso_millis_format() -> None:
    assert iso_millis(1_685_449_470.401) == "2023-05-30T12:24:30.401Z"


def test_no_clock_moves_past_what_timestamps_can_show() -> None:
    from mockfabric.clock import LATEST_INSTANT, ClockLimit, ControllableClock, ManualClock

    for clock in (ManualClock(start=LATEST_INSTANT - 10), ControllableClock(ManualClock(start=LATEST_INSTANT - 10))):
        with pytest.raises(ClockLimit, match="past 9999-01-01"):
            clock.advance(11)
        assert clock.advance(10) == LATEST_INSTANT  # the limit itself is still a valid instant
        iso_millis(clock.now())
