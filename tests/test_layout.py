"""The packages' import graph, read with ast (nothing is imported): no import cycles, even through an
import inside a function (that is how cycles hide), and the layers stay apart: the normalizer (pure
functions) uses no other package of the project, and the API's request parsing (unionapi.params)
needs neither Flask nor SQLAlchemy (the fuzzer drives it alone)."""
from __future__ import annotations

import ast
from collections import deque
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("harvester", "normalizer", "storage", "unionapi", "config")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))}


@lru_cache(maxsize=None)
def imported(name: str) -> frozenset[str]:
    """Every module this one imports (project modules by their full name, others by their top name)."""
    path, known = modules()[name], modules()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target not in known and "." in target:  # `import a.b` of a third-party package: a
                target = target.rsplit(".", 1)[0]
            found.add(target)
    found.discard(name)
    return frozenset(found)


def project_imports(name: str) -> set[str]:
    return {target for target in imported(name) if target in modules()}


def cycles() -> list[str]:
    """Each group of modules that import each other (Tarjan's components), by one shortest cycle in it."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(project_imports(node)):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while not group or member != node:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
            if len(group) > 1:
                groups.append(group)

    for name in sorted(modules()):
        if name not in index:
            visit(name)
    return sorted(describe(shortest_cycle(min(group), group), group) for group in groups)


def shortest_cycle(start: str, group: set[str]) -> list[str]:
    came_from, queue = {}, deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(project_imports(node) & group):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")


def describe(cycle: list[str], group: set[str]) -> str:
    others = sorted(group - set(cycle))
    return " -> ".join(cycle) + (f" (the group also holds {', '.join(others)})" if others else "")


def reachable(name: str) -> set[str]:
    seen, queue = {name}, deque([name])
    while queue:
        for target in project_imports(queue.popleft()) - seen:
            seen.add(target)
            queue.append(target)
    return seen


def test_no_module_imports_one_that_imports_it_back():
    found = cycles()
    assert not found, "import cycles:\n" + "\n".join("  " + cycle for cycle in found)


def test_the_normalizer_uses_no_other_package_of_the_project():
    outside = {f"{name} imports {target}" for name in modules() if name.split(".")[0] == "normalizer"
               for target in project_imports(name) if target.split(".")[0] != "normalizer"}
    assert not outside, sorted(outside)


def test_request_parsing_needs_neither_flask_nor_sqlalchemy():
    modules_used = reachable("unionapi.params")
    third_party = {target for name in modules_used for target in imported(name) if target not in modules()}
    assert not third_party & {"flask", "werkzeug", "sqlalchemy", "apscheduler"}, sorted(modules_used)
    assert not modules_used & {"unionapi.app", "unionapi.services", "unionapi.catalogue"}, sorted(modules_used)
