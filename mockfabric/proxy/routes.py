"""Which contract operation a request is: its method and path matched against every operation's path template.

What must hold: a literal path segment wins over a template variable (`/v1/workspaces/tags` is not a workspace id);
a request no operation declares is None (it is still forwarded, and reported as undeclared).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..contracts import Operation


class Routes:
    def __init__(self, operations: Iterable[Operation]) -> None:
        compiled = []
        for operation in operations:
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(operation.path))
            literal_segments = sum(1 for part in operation.path.split("/") if part and not part.startswith("{"))
            compiled.append((-literal_segments, operation.path, re.compile(pattern + "$"), operation))
        compiled.sort(key=lambda item: (item[0], item[1]))
        self._routes = [(pattern, operation) for _, _, pattern, operation in compiled]

    def find(self, method: str, path: str) -> Operation | None:
        for pattern, operation in self._routes:
            if operation.method == method and pattern.match(path):
                return operation
        return None
