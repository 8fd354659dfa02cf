"""Text that enters the emulator is valid Unicode, or it is refused at the boundary.

JSON can spell a lone UTF-16 surrogate (`"\\ud800"`), which Python decodes into a `str` that no UTF-8 encoder accepts:
stored, it would make every later rendering, export and save of that state fail. Raw UTF-8 input cannot carry one
(the strict codec refuses it), so only JSON `\\u` escapes need looking at, and a document without any is skipped.
"""

from __future__ import annotations

import json
import math
import re
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


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite)


def decode_json(text: str) -> Any:
    """Strict JSON: NaN, Infinity and numbers that overflow to infinity are refused (ValueError), as JSON itself does;
    RecursionError for nesting deeper than the interpreter can follow."""
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


def read_utf8(path: Path, refused: Callable[[str], Exception]) -> str:
    """The file's text; the exception `refused("<path>: <why>")` makes when it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise refused(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise refused(f"{path}: not UTF-8 text") from None
