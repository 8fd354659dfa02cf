"""Ids: the same sequence for a seed, in the formats (and the exact values) uuid.UUID(version=4) would give."""

from __future__ import annotations

import random
import uuid

from hypothesis import given
from hypothesis import strategies as st

from mockfabric.ids import IdFactory


@given(st.integers(min_value=0, max_value=2**32))
def test_ids_equal_what_uuid_builds_from_the_same_bits(seed: int) -> None:
    ids, bits = IdFactory(seed), random.Random(seed)
    assert ids.uuid() == str(uuid.UUID(int=bits.getrandbits(128), version=4))
    assert ids.hex32() == uuid.UUID(int=bits.getrandbits(128), version=4).hex
    assert ids.completion_id() == "chatcmpl-" + uuid.UUID(int=bits.getrandbits(128), version=4).hex[:22]


def test_uuids_are_version_4_and_the_sequence_repeats_for_a_seed() -> None:
    first, again = IdFactory(42), IdFactory(42)
    made = [first.uuid() for _ in range(50)]
    assert made == [again.uuid() for _ in range(50)]
    assert all(uuid.UUID(text).version == 4 and uuid.UUID(text).variant == uuid.RFC_4122 for text in made)
