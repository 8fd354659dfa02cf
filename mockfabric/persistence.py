"""`--state-file`: load the state at start, save it atomically after changes and at shutdown, and never stop trying.

What must hold:
- A save writes a temporary file beside the target, fsyncs it, renames it over the target and fsyncs the folder, so
  a crash at any moment leaves either the old or the new file, never a torn one. A symlinked state file is followed:
  its target is replaced, the link stays.
- A write acknowledged to a client is on disk within DURABILITY_BOUND_SECONDS: the saver starts a save at most
  DEBOUNCE_SECONDS after a change, and a save renders the state in one pass under the store lock (tens of ms at
  10 000 workspaces, `bench/durability.py`), so its cadence does not slip as the state grows.
- A failed save never stops the saver: it is retried with backoff, logged once per streak of failures, and reported
  by `status()` (the control API's health answers `degraded`) until a save succeeds again.
- One server per state file: the start takes an OS lock (flock) on `<state file>.lock` beside the file's target
  before loading it and holds it for the server's life, so a second server on the same file (through any path or
  symlink) refuses to start instead of overwriting the first one's saves. The lock goes with the process (a
  `kill -9` releases it); the lock file itself stays, empty (removing it would let two servers lock two files).
- A state file that cannot be used stops the start with one line naming the file and the problem: a missing or
  unwritable folder, unreadable bytes, text that is not UTF-8 or not JSON (NaN, Infinity and nesting deeper than
  the interpreter follows included), strings that are not valid Unicode, or a document of another format.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .clock import iso_millis
from .service.store import StateFormatError, Store
from .text import decode_json, invalid_text_in

DEBOUNCE_SECONDS = 0.2
DURABILITY_BOUND_SECONDS = 0.5
RETRY_FIRST_SECONDS = 0.2
RETRY_LONGEST_SECONDS = 5.0
log = logging.getLogger("mockfabric")


class StateFileError(RuntimeError):
    """The state file cannot be used or saved; the message says which file and why, in one line."""


def state_target(path: Path) -> Path:
    """Where saves go: the file a symlink points to (followed to the end), else `path` itself, made absolute."""
    return Path(os.path.realpath(path))


def unwritable_because(path: Path) -> str | None:
    """Why no file can be written at `path`, or None. Tried for real, by creating and removing a file beside it:
    permission bits do not bind root, and a read-only mount shows only when written to."""
    folder = path.parent
    if not folder.is_dir():
        return f"its folder {folder} does not exist or is not a folder"
    if path.is_dir():
        return "it is a folder"
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        return f"cannot write in {folder} ({exc.strerror or exc})"
    os.close(handle)
    os.unlink(probe)
    return None


def check_writable(path: Path) -> None:
    """StateFileError unless the state file can be written (see `unwritable_because`)."""
    problem = unwritable_because(path)
    if problem is not None:
        raise StateFileError(f"state file {path}: {problem}")


def read_state(path: Path) -> dict[str, Any] | None:
    """The state document in `path`, checked to be valid JSON of valid Unicode; None when there is no file yet."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(f"state file {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StateFileError(f"state file {path} is not UTF-8 text (byte {exc.start}); move it away or fix it") from None
    try:
        state = decode_json(text)
    except ValueError as exc:
        raise StateFileError(f"state file {path} is not valid JSON ({str(exc)[:200]}); move it away or fix it") from None
    except RecursionError:
        raise StateFileError(f"state file {path} is nested too deeply to be a mockfabric state; move it away") from None
    invalid = invalid_text_in(raw, state)
    if invalid is not None:
        raise StateFileError(f"state file {path}: the text at {invalid[:200]} is not valid Unicode (a lone surrogate escape)")
    if not isinstance(state, dict):
        raise StateFileError(f"state file {path} holds a JSON {type(state).__name__}, not a mockfabric state")
    return state


def load_state(path: Path, store: Store) -> bool:
    """Restore `store` from `path`; False when there is no file yet (a first start)."""
    state = read_state(path)
    if state is None:
        return False
    try:
        store.restore(state)
    except StateFormatError as exc:
        raise StateFileError(f"state file {path}: {str(exc)[:300]}") from None
    return True


class StateLock:
    """The OS lock on `<target>.lock` that one server holds for its life: `StateLock.take(path)` or StateFileError
    naming the file when another process (or another server of this one) holds it. `release()` lets it go."""

    def __init__(self, lock_path: Path, handle: int) -> None:
        self.path, self._handle = lock_path, handle

    @classmethod
    def take(cls, path: Path) -> StateLock:
        target = state_target(path)
        lock_path = target.with_name(target.name + ".lock")
        try:
            handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateFileError(f"state file {path}: cannot open its lock file {lock_path} ({exc.strerror or exc})") from None
        if not _try_lock(handle):
            os.close(handle)
            raise StateFileError(
                f"state file {path} is in use by another mockfabric server (it holds {lock_path}); stop it or use another file"
            )
        return cls(lock_path, handle)

    def release(self) -> None:
        """Let the lock go (closing the file does); once."""
        if self._handle >= 0:
            os.close(self._handle)
            self._handle = -1


def _try_lock(handle: int) -> bool:
    """Lock the open file `handle` for this open file (not just this process), without waiting; False if held."""
    if sys.platform == "win32":  # no flock: a lock on the file's first byte serves the same
        import msvcrt

        try:
            msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def open_state(path: Path, store: Store) -> StateSaver:
    """What a server does with its state file at start: check it can be written, take its lock, load it into
    `store`, and start saving; StateFileError (one line, the lock let go) when any of it fails."""
    check_writable(state_target(path))  # better no start than a server that cannot save
    lock = StateLock.take(path)  # before loading: a second server must not even read a state it would overwrite
    try:
        load_state(path, store)  # better no start than a silent empty state
    except BaseException:
        lock.release()
        raise
    return StateSaver(path, store, lock)


def write_atomically(path: Path, payload: bytes) -> None:
    """Replace `path` by `payload` so that a crash at any moment leaves the old or the new content."""
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


@dataclass(frozen=True, slots=True)
class SaverStatus:
    """How saving goes: `ok`, or `failing` after `failures` consecutive attempts, the last of which said `last_error`."""

    path: str
    state: str
    saves: int
    failures: int
    last_error: str | None
    last_saved: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class StateSaver:
    """Saves the store after it changed, at most DEBOUNCE_SECONDS later, from one background thread."""

    def __init__(self, path: Path, store: Store, lock: StateLock | None = None) -> None:
        self.path = state_target(path)
        self.store = store
        self._lock = lock  # let go once the final save is done
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._save_lock = threading.Lock()
        self._saved = threading.Condition(self._save_lock)
        self._saves = 0
        self._failures = 0  # consecutive failed attempts; 0 while saving works
        self._last_error: str | None = None
        self._last_saved: float | None = None
        self._thread = threading.Thread(target=self._run, name="mockfabric-state-saver", daemon=True)
        self._thread.start()

    def changed(self) -> None:
        self._dirty.set()

    def save_now(self) -> None:
        """One save of the current state; StateFileError (one line) when it fails. Safe from any thread."""
        with self._save_lock:
            self._dirty.clear()
            try:
                write_atomically(self.path, self.store.snapshot())
            except Exception as exc:  # whatever it was, the saver must live on and say so
                reason = (exc.strerror if isinstance(exc, OSError) else None) or f"{type(exc).__name__}: {exc}"
                self._dirty.set()  # what was not saved is still to be saved
                self._failed(reason)
                raise StateFileError(f"state file {self.path}: cannot save it ({reason})") from None
            self._saves += 1
            self._saved.notify_all()
            self._last_saved = time.time()
            if self._failures:
                log.warning("state file %s: saving works again after %d failed attempts", self.path, self._failures)
            self._failures, self._last_error = 0, None

    def wait_for_save(self, after: int, timeout: float) -> bool:
        """Wait until more than `after` saves have succeeded (see `status().saves`); False if `timeout` passed first."""
        with self._saved:
            return self._saved.wait_for(lambda: self._saves > after, timeout)

    def status(self) -> SaverStatus:
        with self._save_lock:
            return SaverStatus(
                path=str(self.path),
                state="failing" if self._failures else "ok",
                saves=self._saves,
                failures=self._failures,
                last_error=self._last_error,
                last_saved=None if self._last_saved is None else iso_millis(self._last_saved),
            )

    def close(self) -> None:
        """Stop the thread, write the final state and let the file's lock go; StateFileError when that last save
        fails (the lock goes all the same: this server will not save again)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._dirty.set()
        self._thread.join(timeout=10)
        try:
            self.save_now()
        finally:
            if self._lock is not None:
                self._lock.release()

    def _failed(self, reason: str) -> None:
        if not self._failures:
            log.error("state file %s: saving failed (%s); retrying with backoff until it works", self.path, reason)
        self._failures += 1
        self._last_error = reason

    def _run(self) -> None:
        while not self._closed.is_set():
            self._dirty.wait()
            if self._closed.wait(DEBOUNCE_SECONDS):  # gather a burst of changes into one write
                return
            if not self._dirty.is_set():
                continue
            try:
                self.save_now()
            except StateFileError:
                backoff = min(RETRY_LONGEST_SECONDS, RETRY_FIRST_SECONDS * 2 ** min(self._failures - 1, 8))
                if self._closed.wait(backoff):
                    return
