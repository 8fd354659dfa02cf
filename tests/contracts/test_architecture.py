"""ARCHITECTURE.md names every module of the package (a module added without a line there fails here), and the
package's modules import one another without cycles."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_is_named_in_architecture_md() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = sorted(path.relative_to(ROOT / "mockfabric") for path in (ROOT / "mockfabric").rglob("*.py"))
    needed = Counter(path.name for path in modules)  # names shared by several packages must appear as often
    missing = [f"{name} (x{count})" for name, count in sorted(needed.items()) if text.count(name) < count]
    assert not missing, f"ARCHITECTURE.md does not name: {', '.join(missing)}"


def _module_name(path: Path) -> tuple[str, bool]:
    """The dotted name of a module file under ROOT, and whether it is a package's __init__.py."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _import_graph() -> dict[str, set[str]]:
    """Which mockfabric modules each mockfabric module imports: every import statement counts, at module level, in a
    function, or under TYPE_CHECKING (`from .x import y` names the submodule x.y when there is one)."""
    files = {_module_name(path): path for path in sorted((ROOT / "mockfabric").rglob("*.py"))}
    modules = {name for name, _ in files}

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for (module, is_package), path in files.items():
        imported: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(known(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    source = ".".join([*base, node.module] if node.module else base)
                else:
                    source = node.module or ""
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    imported.add(submodule if submodule in modules else known(source))
        graph[module] = {name for name in imported if name is not None and name != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _path_through(graph: dict[str, set[str]], component: list[str]) -> str:
    """The shortest import loop through a component's first module, as `a -> b -> a`, for the failure message."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for other in sorted(graph[node] & members):
                if other == start:
                    trail = [start, node]
                    while trail[-1] != start:
                        trail.append(came_from[trail[-1]])
                    return " -> ".join(reversed(trail))
                if other not in came_from:
                    came_from[other] = node
                    following.append(other)
        frontier = following
    return ", ".join(component)


# Import cycles allowed for now, each named with why it is left (empty: none is).
KNOWN_CYCLES: list[list[str]] = []


def test_no_import_cycle_among_the_package_modules() -> None:
    """No module of the package imports, directly or through others, a module that imports it back: a cycle
    hidden in a function-level import is still a cycle (each side then needs the other to make sense)."""
    graph = _import_graph()
    cycles = [component for component in _cycles(graph) if component not in KNOWN_CYCLES]
    assert not cycles, "import cycles: " + "; ".join(_path_through(graph, component) for component in cycles)


def test_the_import_graph_sees_function_level_and_relative_imports() -> None:
    """The check would pass vacuously if the graph missed imports: a few edges known to exist, of each kind."""
    graph = _import_graph()
    assert "mockfabric.web.front" in graph["mockfabric.web.app"]  # from .front import ...
    assert "mockfabric.testing.html_report" in graph["mockfabric.testing.reports"]  # inside write_html
    assert "mockfabric.web.app" in graph["mockfabric"]  # the package root's lazy names, from __init__.py
    assert "mockfabric.service.offerings" in graph["mockfabric.web.app"]  # from ..service import offerings
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
