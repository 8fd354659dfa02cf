"""Who may reach the emulator at all: refusals made before any route runs, for every request.

What must hold:
- DNS rebinding: a request is answered only when its `Host` names a loopback address (`localhost`, `*.localhost`,
  127.0.0.0/8, ::1) or a host in `--allowed-hosts`; with a control token set, any host is answered (the server is
  then meant to be reached by name, and the control API is closed by the token). A request without `Host`
  (HTTP/1.0) is not a browser's and is answered.
- Cross-site requests: a control call carrying an `Origin` that is not the emulator's own (`scheme://Host`) is refused;
  a control POST, and any control call with a body, must say `Content-Type: application/json`, which no page can
  send without a CORS preflight the emulator never grants (POST is the one changing method a page can send without
  one; a body-less DELETE or PUT from a page always needs the preflight).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..config import is_loopback
from ..errors import ForbiddenRequest

CONTROL_PREFIX = "/_mockfabric/"
READ_METHODS = frozenset({"GET", "HEAD"})


def host_name(host: str) -> str:
    """`Host` without its port, lower-cased: `[::1]:8080` -> `[::1]`, `LocalHost:80` -> `localhost`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_name(name: str) -> bool:
    """A loopback address or `localhost`, as for the bind address, and any `*.localhost` (which always resolves to
    loopback, RFC 6761). Guard remembers the Host values it accepted, so this runs once per value."""
    return name.endswith(".localhost") or is_loopback(name)


class Guard:
    def __init__(self, allowed_hosts: Iterable[str], any_host: bool) -> None:
        self._allowed = frozenset(host_name(h) for h in allowed_hosts)
        self._any_host = any_host or "*" in self._allowed
        self._served: set[str] = set()  # Host values already found acceptable: one lookup per request after the first

    def refusal(self, environ: dict[str, Any]) -> ForbiddenRequest | None:
        """Why this request must not be served, or None."""
        host = environ.get("HTTP_HOST")
        if host is not None and host not in self._served and not self._any_host:
            name = host_name(host)
            if name not in self._allowed and not is_loopback_name(name):
                return ForbiddenRequest(
                    f"Host {host[:100]!r} is not a loopback name; start the emulator with --allowed-hosts {name[:100]} "
                    "(or a control token) to serve it"
                )
            if len(self._served) < 1024:  # bounded: a client sending ever-new Host values only costs itself the check
                self._served.add(host)
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return _control_refusal(environ)
        return None


def _control_refusal(environ: dict[str, Any]) -> ForbiddenRequest | None:
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None:
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}".lower()
        if origin.strip().lower() != own:
            return ForbiddenRequest(f"the control API does not answer pages of another origin ({origin[:100]!r})")
    method = environ.get("REQUEST_METHOD", "GET")
    has_body = environ.get("CONTENT_LENGTH", "") not in ("", "0") or environ.get("HTTP_TRANSFER_ENCODING") is not None
    if method == "POST" or (method not in READ_METHODS and has_body):
        mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if mimetype != "application/json":
            return ForbiddenRequest(
                f"control calls that change anything must send Content-Type: application/json, not {mimetype[:60] or 'none'!r}"
            )
    return None
