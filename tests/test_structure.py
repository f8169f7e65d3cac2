"""The structure holds: no module of the package imports, however indirectly, a module that
imports it (imports inside functions counted too), and every import between wings runs down
the layers of docs/ARCHITECTURE.md, never up."""

from __future__ import annotations

import ast
from pathlib import Path

import ifns_train

PACKAGE = Path(ifns_train.__file__).parent
# The wings from the bottom up: a wing imports only wings on a lower line.
LAYERS = (
    ("core",),
    ("config", "nets", "evaluation"),
    ("data",),
    ("registry",),
    ("families",),
    ("learners",),
    ("signals",),
    ("run",),
    ("sxe",),
    ("cli",),
    ("__main__",),
)
LAYER = {wing: level for level, wings in enumerate(LAYERS) for wing in wings}


def module_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in the file)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            graph[module] |= {n for n in names if n in modules and n != module
                              and not module.startswith(n + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def wing(module: str) -> str:
    return module.split(".")[1] if "." in module else "__main__"


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(module_graph()) == []


def test_every_wing_has_a_layer() -> None:
    wings = {wing(m) for m in module_graph() if m != "ifns_train"}
    assert wings == set(LAYER), "name the new wing's layer here and in docs/ARCHITECTURE.md"


def upward(graph: dict[str, set[str]]) -> list[str]:
    """The imports from a wing to one on its own layer or above."""
    return sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets
                  if "ifns_train" not in (m, t) and wing(m) != wing(t)
                  and LAYER[wing(t)] >= LAYER[wing(m)])


def test_imports_between_wings_run_down() -> None:
    assert upward(module_graph()) == []


def test_the_checks_see_a_circle_and_an_upward_import() -> None:
    graph = {"ifns_train.run.a": {"ifns_train.run.b", "ifns_train.core.c"},
             "ifns_train.run.b": {"ifns_train.run.a"},
             "ifns_train.core.c": {"ifns_train.evaluation.d"}, "ifns_train.evaluation.d": set()}
    assert cycles(graph) == [["ifns_train.run.a", "ifns_train.run.b"]]
    assert upward(graph) == ["ifns_train.core.c -> ifns_train.evaluation.d"]
