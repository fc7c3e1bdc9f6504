"""The layout tells the architecture: models imports nothing of ours above it, matcher nothing of the
service or the command line, and no two modules of matcher import each other, directly or round a loop.

Imports are read from the source (every `import` and `from … import`, at any depth, so an import deferred
into a function counts too), never by importing the modules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"models": set(), "matcher": {"models"}, "service": {"models", "matcher"}}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The modules of ours that `path` imports; `from package import name` counts the submodule when `name`
    is one."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in modules}


def _graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    paths = {_module(p): p for package in packages for p in (ROOT / package).rglob("*.py")}
    return {name: _imports(path, set(paths)) - {name} for name, path in paths.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop of `graph`, or None. A package's `__init__` importing its own submodules is the
    package being assembled, not a loop, so edges from a package into itself are left out."""
    edges = {a: {b for b in bs if not b.startswith(a + ".")} for a, bs in graph.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (loop := visit(nxt)):
                return loop
        state[node] = 2
        path.pop()
        return None

    for start in sorted(edges):
        if start not in state and (loop := visit(start)):
            return loop
    return None


def test_each_layer_imports_only_the_layers_below_it() -> None:
    graph = _graph(("models", "matcher", "service", "scripts"))
    wrong = [
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if (layer := module.split(".")[0]) in LAYERS
        and (other := target.split(".")[0]) != layer
        and other not in LAYERS[layer]
    ]
    assert wrong == []


def test_matcher_and_models_have_no_import_cycle() -> None:
    assert _cycle(_graph(("models", "matcher"))) is None


def test_the_cycle_check_finds_a_loop() -> None:
    """The checks themselves: the imports are read (the engine's of the index), a loop of three is found, a
    package importing its own parts is not one."""
    assert {"matcher.index", "models.profiles"} <= _graph(("models", "matcher"))["matcher.engine"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"p": {"p.x"}, "p.x": {"p"}}) is None
