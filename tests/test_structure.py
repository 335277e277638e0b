"""The shape of the package: no import cycle, no private name used across modules, and
modules that hold one thing (about 600 lines at most)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "muscode_ext"

#: Modules over the size limit that are still to be cut into packages (none: keep it so).
LARGE: set[str] = set()
#: Private names still shared across modules (none: keep it that way).
SHARED_PRIVATE: set[tuple[str, str, str]] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if {"migrations", "labextension"} & set(path.parts):
            continue  # generated files and migrations
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str]]:
    """(module, imported name) for every import at module level, typing-only ones
    included (an import inside a function is not one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, str]] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.extend((a.name, "") for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join([*base, node.module] if node.module else base)
                else:
                    source = node.module or ""
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    if submodule in modules:
                        found.append((submodule, ""))
                    elif source in modules:
                        found.append((source, alias.name))

    visit(ast.parse(path.read_text()).body)
    return found


def test_no_module_imports_itself_back() -> None:
    modules = _modules()
    graph = {
        name: {m for m, _ in _imports(name, path, modules) if m != name}
        for name, path in modules.items()
    }
    cycles: list[list[str]] = []
    for start in graph:
        # A path from one of start's imports back to start is a cycle through it.
        stack = [(m, [start, m]) for m in graph[start]]
        seen: set[str] = set()
        while stack:
            node, trail = stack.pop()
            if node == start:
                cycles.append(trail)
                break
            if node in seen:
                continue
            seen.add(node)
            stack.extend((m, [*trail, m]) for m in graph.get(node, ()))
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_no_private_name_is_imported_from_another_module() -> None:
    modules = _modules()
    shared = {
        (name, source, imported)
        for name, path in modules.items()
        for source, imported in _imports(name, path, modules)
        if imported.startswith("_") and not imported.startswith("__") and source != name
    }
    assert shared <= SHARED_PRIVATE, sorted(shared - SHARED_PRIVATE)


def test_modules_hold_one_thing() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    too_big = {name for name, lines in sizes.items() if lines > 600}
    assert too_big <= LARGE, {name: sizes[name] for name in too_big - LARGE}
