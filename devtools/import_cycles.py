"""`make lint`: fail when any import cycle exists among the modules of the given packages (grimp's graph, the
one import-linter builds) or among the scripts of a plain directory (`benchmarks/`, whose files import each
other as top-level modules), searched for strongly connected components."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp


def package_edges(*packages: str) -> dict[str, list[str]]:
    graph = grimp.build_graph(*packages)
    modules = set(graph.modules)
    return {m: sorted(set(graph.find_modules_directly_imported_by(m)) & modules) for m in sorted(modules)}


def directory_edges(directory: Path) -> dict[str, list[str]]:
    """Scripts of one directory importing each other by their bare names (lazy imports included)."""
    names = {f.stem for f in directory.glob("*.py")}
    edges: dict[str, list[str]] = {}
    for file in sorted(directory.glob("*.py")):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
        edges[file.stem] = sorted(imported & names - {file.stem})
    return edges


def cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    modules = sorted(edges)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in edges[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


if __name__ == "__main__":
    sys.setrecursionlimit(10_000)
    edges: dict[str, list[str]] = {}
    for name in sys.argv[1:]:
        edges.update(directory_edges(Path(name)) if Path(name).is_dir() and not (Path(name) / "__init__.py").exists()
                     else package_edges(name))
    found = cycles(edges)
    for component in found:
        print("import cycle: " + " <-> ".join(component))
    print(f"import cycles in {', '.join(sys.argv[1:])}: {len(found)}")
    sys.exit(1 if found else 0)
