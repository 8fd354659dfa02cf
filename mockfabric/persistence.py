"""`--state-file`: load the state at start, save it atomically after changes (debounced) and at shutdown.

A save writes a temporary file beside the target, fsyncs it, renames it over the target and fsyncs the folder, so
a crash at any moment leaves either the old or the new file, never a torn one. A file that cannot be read or is of
another format stops the start-up with a clear error instead of silently starting empty.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from .domain.store import STATE_FORMAT, Store

DEBOUNCE_SECONDS = 0.2


class StateFileError(RuntimeError):
    """The state file exists but cannot be used; the message says which file and why, in one line."""


def load_state(path: Path, store: Store) -> bool:
    """Restore `store` from `path`; False when there is no file yet (a first start)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StateFileError(f"state file {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        state = json.loads(text)
    except ValueError as exc:
        raise StateFileError(f"state file {path} is not valid JSON ({exc}); move it away or fix it") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise StateFileError(f"state file {path} has format {found!r}, this mockfabric reads format {STATE_FORMAT}")
    try:
        store.restore(state)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateFileError(f"state file {path} does not hold a mockfabric state ({type(exc).__name__}: {exc})") from None
    return True


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    folder = path.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


class StateSaver:
    """Saves the store after it changed, at most every DEBOUNCE_SECONDS, from one background thread."""

    def __init__(self, path: Path, store: Store) -> None:
        self.path = path
        self.store = store
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mockfabric-state-saver", daemon=True)
        self._thread.start()

    def changed(self) -> None:
        self._dirty.set()

    def save_now(self) -> None:
        self._dirty.clear()
        write_atomically(self.path, self.store.export())

    def close(self) -> None:
        """Stop the thread and write the final state."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._dirty.set()
        self._thread.join(timeout=10)
        self.save_now()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._dirty.wait()
            if self._closed.wait(DEBOUNCE_SECONDS):  # gather a burst of changes into one write
                return
            if self._dirty.is_set():
                self.save_now()
