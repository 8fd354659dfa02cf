"""Text that enters the emulator is valid Unicode, or it is refused at the boundary; a file a user names is read
within bounds, or refused in one line.

JSON can spell a lone UTF-16 surrogate (`"\\ud800"`), which Python decodes into a `str` that no UTF-8 encoder accepts:
stored, it would make every later rendering, export and save of that state fail. Raw UTF-8 input cannot carry one
(the strict codec refuses it), so only JSON `\\u` escapes need looking at, and a document without any is skipped.

A user's file (fixtures, saved journals, recordings) is read by `read_user_file`: only a regular file (a FIFO, a
device such as /dev/zero or a directory is refused before a byte is read, and opening never waits for a writer), at
most MAX_FILE_BYTES of it. Its JSON or YAML is parsed with bounds: at most MAX_DEPTH levels of nesting, integers of
at most the interpreter's digit limit (`sys.get_int_max_str_digits`), and no more values than the text has bytes
(only YAML aliases repeating a part, a "billion laughs", can exceed that). Every refusal names the file and why.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number


def digit_limit() -> int:
    """The most digits an integer in parsed input may have: the interpreter's limit, 4300 when it has none (a longer
    number costs quadratic time to convert)."""
    return sys.get_int_max_str_digits() or 4300


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > digit_limit():
        raise ValueError(f"a number of {digits} digits (at most {digit_limit()})")
    return int(text)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite, parse_int=_integer)


def decode_json(text: str) -> Any:
    """Strict JSON: NaN, Infinity, numbers that overflow to infinity and integers past `digit_limit()` are refused
    (ValueError), as JSON itself does; RecursionError for nesting deeper than the interpreter can follow."""
    return _DECODER.decode(text)


def invalid_text_in(raw: bytes, decoded: Any, where: str = "") -> str | None:
    """Where (`body.messages[0].content`) the JSON `decoded` from `raw` holds text that is not valid Unicode, or None.
    The decoded value is walked only when `raw` spells a \\uD800-\\uDFFF escape: nothing else can produce one."""
    if _SURROGATE_ESCAPE.search(raw) is None:
        return None
    return first_invalid_text(decoded, where)


def strict_json(raw: bytes, where: str = "body") -> Any:
    """The JSON in `raw`, strictly (UTF-8, no NaN or Infinity, see decode_json) and with valid Unicode text only;
    ValueError saying why not, naming where (`body.messages[0].content`) a lone surrogate sits."""
    try:
        value = decode_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    invalid = invalid_text_in(raw, value, where)
    if invalid is not None:
        raise ValueError(f"{invalid}: not valid Unicode (a lone UTF-16 surrogate escape such as \\ud800)")
    return value


def readable_json(raw: bytes) -> Any:
    """`raw` for showing (journal entries, recordings): its JSON when it is JSON of valid Unicode, else its text as
    written (escapes stay escapes, bytes that are not UTF-8 replaced); None when empty. Never refuses."""
    if not raw:
        return None
    try:
        value: Any = json.loads(raw)
    except (ValueError, RecursionError):
        return raw.decode("utf-8", errors="replace")
    if invalid_text_in(raw, value) is not None:
        return raw.decode("utf-8", errors="replace")
    return value


def is_valid_text(text: str) -> bool:
    """True when `text` encodes to UTF-8, i.e. holds no lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def first_invalid_text(value: Any, where: str = "") -> str | None:
    """The location (`messages[0].content`, `tags.<key>`) of the first string, key or value, inside the decoded JSON
    `value` that is not valid Unicode; None when every string is valid. Walks without recursion, so depth is no risk."""
    pending: list[tuple[str, Any]] = [(where, value)]
    while pending:
        location, item = pending.pop()
        if isinstance(item, str):
            if not is_valid_text(item):
                return location
        elif isinstance(item, dict):
            for key, child in item.items():
                if not is_valid_text(key):
                    return _join(location, ascii(key))
                pending.append((_join(location, key), child))
        elif isinstance(item, list):
            pending.extend((f"{location}[{index}]", child) for index, child in enumerate(item))
    return None


def _join(location: str, key: str) -> str:
    return f"{location}.{key}" if location else key


MAX_FILE_BYTES = 64 * 1024 * 1024  # far more than a fixture file, a saved journal (~40 MiB at most) or a recording
MAX_DEPTH = 100  # levels of nesting in a user's file: fixtures need 5, journal entries' bodies a few more


Refusal = Callable[[str], Exception]


def _kind_of(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device"}
    return next((name for test, name in kinds.items() if test(mode)), "a socket or another special file")


def read_user_file(path: Path, refused: Refusal, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them; the exception `refused("<path>: <why>")`
    makes otherwise. Anything else (FIFO, device, directory, socket) is refused before it is read: opened without
    blocking (a FIFO without a writer would wait forever), then looked at."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        handle = os.open(path, flags)
    except OSError as exc:
        raise refused(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):
            raise refused(f"{path}: not a regular file ({_kind_of(mode)})")
        parts: list[bytes] = []
        size = 0
        while size <= limit:
            part = os.read(handle, min(1024 * 1024, limit + 1 - size))
            if not part:
                return b"".join(parts)
            parts.append(part)
            size += len(part)
        raise refused(f"{path}: larger than {limit // (1024 * 1024)} MiB, more than a mockfabric file holds")
    except OSError as exc:
        raise refused(f"{path}: cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(handle)


def read_utf8(path: Path, refused: Refusal) -> str:
    """The text of the regular file at `path` (see read_user_file); `refused("<path>: <why>")` when it cannot be
    read or is not UTF-8."""
    raw = read_user_file(path, refused)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refused(f"{path}: not UTF-8 text (byte {exc.start})") from None


def bounded_problem(value: Any, budget: int) -> str | None:
    """Why the parsed `value` is out of bounds, or None: deeper than MAX_DEPTH, or more than `budget` values in all
    (counting a part each time it is referred to, as an alias repeats it). Walks without recursion and stops at the
    budget, so a bomb costs no more than the budget."""
    pending: list[tuple[int, Any]] = [(1, value)]
    seen = 0
    while pending:
        depth, item = pending.pop()
        seen += 1
        if seen > budget:
            return f"expands to more than {budget} values (YAML aliases repeating a part?)"
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            children = item.values() if isinstance(item, dict) else item
            pending.extend((depth + 1, child) for child in children)
    return None


def json_file(path: Path, refused: Refusal) -> Any:
    """The JSON document in the regular file at `path`: strict (see strict_json) and bounded (see bounded_problem);
    `refused("<path>: <why>")` otherwise."""
    return json_document(read_user_file(path, refused), str(path), refused)


def json_document(raw: bytes, where: str, refused: Refusal) -> Any:
    """The JSON document in `raw` (read from `where`), strict and bounded; `refused("<where>: <why>")` otherwise."""
    try:
        value = strict_json(raw, "")
    except ValueError as exc:
        raise refused(f"{where}: not JSON ({' '.join(str(exc).split())[:200]})") from None
    problem = bounded_problem(value, len(raw) + 1)
    if problem is not None:
        raise refused(f"{where}: {problem}")
    return value


def yaml_file(path: Path, refused: Refusal) -> Any:
    """The YAML (or JSON) document in the regular file at `path`, parsed by the safe loader with bounds: at most
    MAX_DEPTH levels, integers within `digit_limit()`, no more values than the text has bytes (aliases cannot blow
    it up); `refused("<path>: <why>")` otherwise."""
    import yaml

    text = read_utf8(path, refused)
    try:
        value = yaml.load(text, Loader=_bounded_loader())
    except _TooDeep:
        raise refused(f"{path}: nested deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as exc:
        raise refused(f"{path}: not valid YAML or JSON ({' '.join(str(exc).split())[:200]})") from None
    except (ValueError, OverflowError, RecursionError) as exc:  # a constructor's own refusal (an impossible date, say)
        raise refused(f"{path}: a value YAML cannot hold ({' '.join(str(exc).split())[:200]})") from None
    problem = bounded_problem(value, len(text) + 1) or _not_json(value)
    if problem is not None:
        raise refused(f"{path}: {problem}")
    return value


_YAML_ONLY = {"date": "a date", "datetime": "a timestamp", "bytes": "binary data", "set": "a set"}


def _not_json(value: Any) -> str | None:
    """Where the parsed YAML holds a value JSON cannot (a date, binary data, a set, a key that is not a string, NaN
    or an infinity), or None. Mockfabric's files hold JSON values: one of these passed the schema where it takes any
    object (a tool call's arguments) and then broke the emulator when the value was sent as JSON, or went out as
    `NaN`, which no JSON parser takes. Run after bounded_problem, so the walk is bounded."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        where, item = pending.pop()
        place = where.lstrip(".") or "the document"
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    return f"{place}: a key {str(key)[:50]!r} that is not a string (quote it)"
                pending.append((f"{where}.{key}", child))
        elif isinstance(item, list):
            pending.extend((f"{where}.{index}", child) for index, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            return f"{place}: {item}, which JSON cannot hold"
        elif not isinstance(item, str | int | float | bool | type(None)):
            kind = _YAML_ONLY.get(type(item).__name__, type(item).__name__)
            return f"{place}: {kind}, which JSON cannot hold (quote it to make it a string)"
    return None


class _TooDeep(Exception):
    """Raised by the bounded loader past MAX_DEPTH levels."""


@functools.cache
def _bounded_loader() -> type[Any]:
    """yaml.SafeLoader with a nesting bound (checked as nodes are composed, before Python's recursion limit) and
    integers refused past `digit_limit()` digits, with the place they are written."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise _TooDeep
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_yaml_int(self, node: Any) -> Any:
            digits = sum(character.isdigit() for character in str(node.value))
            if digits > digit_limit():
                raise yaml.constructor.ConstructorError(
                    None, None, f"a number of {digits} digits (at most {digit_limit()})", node.start_mark
                )
            return super().construct_yaml_int(node)

    BoundedLoader.add_constructor("tag:yaml.org,2002:int", BoundedLoader.construct_yaml_int)
    return BoundedLoader
