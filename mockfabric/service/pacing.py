"""How fast a streamed answer comes, on the emulator's clock: the time to its first token and between tokens.

What must hold: without jitter every gap is its mean; with jitter each gap is drawn around its mean (a normal
distribution with the given standard deviation, never below 0) from the request's own seed, so the same request is
paced alike and another request differently; prefill time per prompt token comes before the first token; a chunk
with its own delay (an answer fixture's `chunks`) waits that long instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .completions import PacedChunk


@dataclass(frozen=True, slots=True)
class Timing:
    """The pacing of one instance's streams: milliseconds to the first token and between tokens, each drawn around
    its mean with a standard deviation (`*_jitter_ms`), plus prefill time per prompt token before the first one."""

    ttft_ms: int
    itl_ms: int
    ttft_jitter_ms: float = 0.0
    itl_jitter_ms: float = 0.0
    prefill_us_per_token: float = 0.0


NO_PACING = Timing(0, 0)
Pacer = Callable[[bool], float]  # first token? -> emulator seconds before it


def pacer(timing: Timing, prompt_tokens: int, seed: int) -> Pacer:
    """Emulator seconds before the first token (`pace(True)`) and before each next one (`pace(False)`)."""
    prefill_ms = timing.prefill_us_per_token * prompt_tokens / 1000
    if not (timing.ttft_jitter_ms or timing.itl_jitter_ms):
        ttft, itl = (timing.ttft_ms + prefill_ms) / 1000, timing.itl_ms / 1000
        return lambda first: ttft if first else itl
    draw = random.Random(seed).gauss

    def pace(first: bool) -> float:
        if first:
            return (max(0.0, draw(timing.ttft_ms, timing.ttft_jitter_ms)) + prefill_ms) / 1000
        return max(0.0, draw(timing.itl_ms, timing.itl_jitter_ms)) / 1000

    return pace


def paced(chunks: Iterable[PacedChunk], pace: Pacer) -> Iterator[tuple[dict[str, Any], bool, float]]:
    """Each chunk, whether it carries a token, and the emulator seconds before it: its own delay, else the pace of a
    token (the first or a next one), else none."""
    first = True
    for chunk, token, own_ms in chunks:
        if not token:
            yield chunk, False, 0.0
            continue
        yield chunk, True, own_ms / 1000 if own_ms is not None else pace(first)
        first = False


def paced_seconds(timing: Timing, prompt_tokens: int, seed: int, first: bool, others: int) -> float:
    """The emulator seconds `pacer` gives, summed: `pace(True)` if `first`, then `others` times `pace(False)`, drawn
    in that order (as a stream draws them). Without jitter no gap is drawn at all: a million chunks cost nothing."""
    pace = pacer(timing, prompt_tokens, seed)
    total = pace(True) if first else 0.0
    if not (timing.ttft_jitter_ms or timing.itl_jitter_ms):
        return total + others * pace(False)
    return total + sum(pace(False) for _ in range(others))
