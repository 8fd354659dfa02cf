"""A deadline on one whole answer, for verify's requests: a target that trickles its body a byte a second never trips
a read timeout (each read gets its byte in time), and would hold the run for as long as it likes.

What must hold: inside `answer_deadline(seconds)` a blocking call is interrupted with AnswerDeadline once `seconds`
have passed; nothing happens outside it. It works in the main thread of a Unix process (SIGALRM, as pytest-timeout's
signal method); elsewhere it bounds nothing and the per-read timeouts are all there is.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class AnswerDeadline(Exception):
    """The whole answer did not arrive within its deadline."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise AnswerDeadline("the answer did not arrive whole in time")


@contextlib.contextmanager
def answer_deadline(seconds: float) -> Iterator[None]:
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
