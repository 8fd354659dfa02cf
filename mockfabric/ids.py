"""Identifiers in the real service's formats, reproducible from a seed."""

from __future__ import annotations

import random
import threading

VERSION_AND_VARIANT_MASK = (0xF000 << 64) | (0xC000 << 48)
VERSION_4_BITS = (4 << 76) | (0x8000 << 48)  # RFC 4122: version 4, variant 10xx


class IdFactory:
    """Makes workspace/instance UUIDs and 32-hex endpoint ids; the same seed gives the same sequence."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def _bits(self) -> int:
        with self._lock:
            return self._rng.getrandbits(128)

    def _hex(self) -> str:
        """What uuid.UUID(int=bits, version=4).hex gives, without building the object (a create makes two)."""
        bits = (self._bits() & ~VERSION_AND_VARIANT_MASK) | VERSION_4_BITS
        return f"{bits:032x}"

    def uuid(self) -> str:
        """A version-4 UUID with hyphens (workspace, model, version and instance ids)."""
        h = self._hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def hex32(self) -> str:
        """32 lower-case hex characters without hyphens (endpoint ids)."""
        return self._hex()

    def completion_id(self) -> str:
        return "chatcmpl-" + self._hex()[:22]
