"""Credentials never leave the emulator in the clear: not in the journal, logs or reports.

The rule is by kind, not by spelling: a header is secret when its name says it carries a credential (any name with
`authorization`, `token`, `cookie`, `secret`, `password`, `credential`, `session`, `api-key`, `access-key` or
`signature` in it, whatever the case), and so is a query parameter (those, and `sig`, `sign`, `ak`, `sk`, `key`),
and the value of a secret header is replaced whole, except that an SDK-HMAC-SHA256 Authorization keeps its scheme,
AK and signed header list (useful to debug, not secret) in a form rebuilt from those parts, whatever its spacing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote_plus

REDACTED = "***"
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")  # dropped from a name before it is judged (`t%00oken` is a token)
_SECRET_WORDS = r"authorization|token|cookie|secret|password|passwd|credential|session|api-?key|access-?key|signature"
_SECRET_NAME = re.compile(_SECRET_WORDS, re.IGNORECASE)
# query parameters: the same words, and the short names signed URLs use for a signature or key (`?sig=`, `?ak=`)
_SECRET_PARAMETER = re.compile(
    rf"{_SECRET_WORDS}|access_?key|api_?key|private_?key|jwt|bearer|^(?:sig|sign|ak|sk|key|auth|pass|pwd|code)$", re.IGNORECASE
)
_SDK_SIGNATURE = re.compile(
    r"^\s*SDK-HMAC-SHA256\s+Access\s*=\s*(?P<ak>[A-Za-z0-9_\-]{1,128})\s*,\s*SignedHeaders\s*=\s*(?P<headers>[a-z0-9\-;]{1,2048})\s*,",
    re.IGNORECASE,
)
# `Name: value` or `Name=value` in free text (curl lines, error messages), for the same secret names
_SECRET_IN_TEXT = re.compile(
    rf"(?P<name>[A-Za-z0-9\-_]*(?:{_SECRET_WORDS})[A-Za-z0-9\-_]*)"
    r"(?P<sep>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^'\"\r\n]+)",
    re.IGNORECASE,
)


def is_secret_header(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


def redacted_value(name: str, value: str) -> str:
    """`value` as it may be shown: unchanged for an ordinary header, REDACTED (or the AK-only form) for a secret one."""
    if not is_secret_header(name):
        return value
    signed = _SDK_SIGNATURE.match(value)
    if signed is not None:
        return f"SDK-HMAC-SHA256 Access={signed.group('ak')}, SignedHeaders={signed.group('headers')}, Signature={REDACTED}"
    return REDACTED


def redact_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: redacted_value(name, value) for name, value in items}


def redact_text(text: str) -> str:
    """Free text with the value of every `secret-name: value` (or `=value`) replaced, e.g. a curl command line."""
    return _SECRET_IN_TEXT.sub(lambda m: m.group("name") + m.group("sep") + redacted_value(m.group("name"), m.group("value")), text)


def is_secret_parameter(name: str) -> bool:
    return _SECRET_PARAMETER.search(name) is not None


def redact_query(query: str) -> str:
    """A raw query string with the value of every secret parameter replaced; every other byte as it came."""
    if not query:
        return query
    parts = re.split(r"([&;])", query)  # `;` separates parameters too (servers that take it)
    for index in range(0, len(parts), 2):
        name, separator, value = parts[index].partition("=")
        if separator and value and is_secret_parameter(_CONTROLS.sub("", unquote_plus(name))):
            parts[index] = f"{name}={REDACTED}"
    return "".join(parts)


def redact_parameters(parameters: Mapping[str, str]) -> dict[str, str]:
    return {name: REDACTED if is_secret_parameter(name) else value for name, value in parameters.items()}
