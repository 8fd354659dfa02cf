"""Identifiers in the real service's formats, reproducible from a seed."""

from __future__ import annotations

import random
import threading
import uuid


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

    def uuid(self) -> str:
        """A version-4 UUID with hyphens (workspace, model, version and instance ids)."""
        return str(uuid.UUID(int=self._bits(), version=4))

    def hex32(self) -> str:
        """32 lower-case hex characters without hyphens (endpoint ids)."""
        return uuid.UUID(int=self._bits(), version=4).hex

    def completion_id(self) -> str:
        return "chatcmpl-" + uuid.UUID(int=self._bits(), version=4).hex[:22]
