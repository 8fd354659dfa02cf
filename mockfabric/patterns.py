"""Regular expressions that users write (a fixture's `regex`, a fault rule's `path`), matched in linear time.

What must hold: no user pattern can take more than time linear in the text it is matched against, whatever the
pattern (Python's backtracking `re` spent seconds of the event loop on `(a+)+$` against 28 characters, freezing
every client). The engine is RE2 (google-re2): its syntax is Python's without backreferences or lookaround, and
its `\\w`, `\\d`, `\\b` are ASCII (`\\pL`, `\\p{Han}` name the letters of other scripts). A pattern RE2 cannot take
is refused when it is loaded, with RE2's reason; so is one whose program is over PATTERN_MEMORY, or one that would
take the programs of all live patterns past MAX_LIVE_PROGRAM (each rule's program once cost ~9 MB).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

import re2

PATTERN_MEMORY = 1 << 20  # bytes RE2 may use for one pattern's program and its DFA cache (a larger one is refused)
SET_MEMORY = 128 << 20  # ... for a set of many patterns matched together (all live ones fit: MAX_LIVE_PROGRAM)
MAX_LIVE_PROGRAM = 4_000_000  # RE2 instructions of all live patterns together (~16 bytes each): 10 000 plain ones fit


class PatternError(ValueError):
    """A pattern RE2 refuses; the message says why, in one line."""


def _options(max_mem: int) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own line on standard error; PatternError carries it instead
    options.max_mem = max_mem
    return options


# One Options object for every pattern: google-re2 caches compiled patterns by (pattern, options), so a fresh Options
# per call would make each compile a miss that still takes a place in its cache of 128.
PATTERN_OPTIONS = _options(PATTERN_MEMORY)
SET_OPTIONS = _options(SET_MEMORY)


class _LiveProgram:
    """The RE2 instructions all live UserPatterns hold, so that many patterns cannot add up to gigabytes."""

    def __init__(self) -> None:
        self.size = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> None:
        with self._lock:
            if self.size + size > MAX_LIVE_PROGRAM:
                raise PatternError(
                    f"the patterns loaded hold {self.size} RE2 instructions; this one's {size} would pass the bound of "
                    f"{MAX_LIVE_PROGRAM}: remove fault rules or fixtures first"
                )
            self.size += size

    def give(self, size: int) -> None:
        with self._lock:
            self.size -= size


LIVE = _LiveProgram()


def _reason(error: Exception) -> str:
    reason = error.args[0] if error.args else error
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _text(text: str) -> str:
    """RE2 takes UTF-8: a lone surrogate (which a text cannot carry there) is matched as U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


class UserPattern:
    """One user pattern, compiled once."""

    __slots__ = ("__weakref__", "_compiled", "source")

    def __init__(self, source: str) -> None:
        """PatternError when RE2 cannot take `source`."""
        if not isinstance(source, str):
            raise PatternError(f"a regular expression is a string, not {type(source).__name__}")
        try:
            self._compiled = re2.compile(source, PATTERN_OPTIONS)
        except re2.error as exc:
            raise PatternError(f"not a regular expression RE2 accepts ({_reason(exc)})") from None
        size = int(self._compiled.programsize)
        LIVE.take(size)
        weakref.finalize(self, LIVE.give, size)
        self.source = source

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in `text`."""
        return self._compiled.search(_text(text)) is not None

    def fullmatch(self, text: str) -> bool:
        """Whether the pattern matches the whole of `text`."""
        return self._compiled.fullmatch(_text(text)) is not None


class FullMatchSet:
    """Which of many patterns match a whole text, in one linear pass over it (RE2::Set) instead of one pass per
    pattern. `matching()` is None when RE2 could not answer (its DFA out of memory): the caller tries each pattern.
    A pattern that always matches is added last, so that an answer without it is known to be such a failure."""

    __slots__ = ("_sentinel", "_set")

    def __init__(self, patterns: Sequence[str]) -> None:
        """PatternError when RE2 cannot take one of `patterns` (each was accepted by UserPattern already, normally)."""
        self._set = re2.Set.FullMatchSet(SET_OPTIONS)
        try:
            for pattern in patterns:
                self._set.Add(pattern)
            self._sentinel = self._set.Add("(?s).*")
            self._set.Compile()
        except re2.error as exc:
            raise PatternError(f"the patterns cannot be matched together ({_reason(exc)})") from None

    def matching(self, text: str) -> set[int] | None:
        """The indices (in the order given) of the patterns that match all of `text`; None if RE2 could not say."""
        found = self._set.Match(_text(text))
        if not found or self._sentinel not in found:
            return None
        return {index for index in found if index != self._sentinel}
