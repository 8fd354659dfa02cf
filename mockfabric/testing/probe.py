"""Can a verify target be reached at all? Asked once before a run, so that a wrong URL or a stopped server is one
clear line instead of a finding per operation."""

from __future__ import annotations

import urllib.error
import urllib.request

from .deadline import AnswerDeadline, answer_deadline


def unreachable(base_url: str, timeout: float = 10.0) -> str | None:
    """Why nothing at `base_url` answers HTTP, or None when something does (any status counts as an answer); the
    whole answer's head within `timeout` (a target that sends `100 Continue` for ever, or trickles, is no answer)."""
    try:
        with answer_deadline(timeout), urllib.request.urlopen(base_url.rstrip("/") + "/healthcheck", timeout=timeout) as reply:
            reply.read(1)
    except AnswerDeadline:
        return f"it accepted the connection but sent no whole answer within {timeout:g} s (--request-timeout)"
    except urllib.error.HTTPError:
        return None  # an HTTP answer, whatever its status: something is there
    except urllib.error.URLError as exc:
        reason = exc.reason
        return getattr(reason, "strerror", None) or str(reason)
    except TimeoutError:
        return f"it accepted the connection but sent no answer within {timeout:g} s (--request-timeout)"
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None
