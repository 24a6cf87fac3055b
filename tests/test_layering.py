"""The package's shape, read from the source: modules import each other one way (no cycle), and no
function is over 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dlpy35"


def modules() -> dict[str, Path]:
    """Every module of dlpy35 by dotted name (a package by its ``__init__.py``)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, known) -> set[str]:
    """The dlpy35 modules that module `name` imports anywhere, at its top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: up from this module's package
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from p import m` imports the module p.m when there is one, else a name of p
            out.update(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names)
    return {m for m in out if m in known and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_import_graph_sees_function_level_and_package_imports():
    graph = {name: imported(name, path, modules()) for name, path in modules().items()}
    assert "dlpy35.data.fetch" in graph["dlpy35.cli.data"]  # `from dlpy35.data import fetch`
    assert "dlpy35.engine.calibrate" in graph["dlpy35.cli.train"]  # imported inside a function


def test_no_import_cycles():
    known = modules()
    graph = {name: imported(name, path, known) for name, path in known.items()}
    assert cycles(graph) == []


def test_only_the_command_line_and_the_entry_points_import_the_command_line():
    """The library never names a flag: nothing outside ``dlpy35.cli`` imports it, but the ``__main__``
    modules that start it."""
    known = modules()
    importers = sorted(name for name, path in known.items() if not name.startswith("dlpy35.cli")
                       and not name.endswith("__main__")
                       and any(m.startswith("dlpy35.cli") for m in imported(name, path, known)))
    assert importers == []


def test_no_function_over_60_lines():
    """No function or method is over 60 lines, ``def`` to last line (decorators not counted).

    A long function does several jobs; split it into short ones that each do one.
    """
    limit = 60
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            n = getattr(node, "end_lineno", 0) - getattr(node, "lineno", 0) + 1
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and n > limit:
                too_long.append(f"{module}:{node.name} ({n} lines)")
    assert not too_long, f"over {limit} lines, split into short functions: {', '.join(too_long)}"


def test_no_class_over_300_lines():
    """A class over 300 lines holds several jobs; give each its own class (the trainer's base holds what
    is compiled on the device, the trainer what runs epochs)."""
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 300:
                too_long.append(f"{path.relative_to(PACKAGE.parent)}:{node.name}")
    assert not too_long, f"over 300 lines: {', '.join(too_long)}"
