"""Imports inside functions are the declared lazy ones (`ifns_train.cli.lazy`), and each declared
one is used: the list is the whole truth about what the package defers."""

from __future__ import annotations

import ast
from pathlib import Path

import ifns_train
from ifns_train.cli.lazy import LAZY_IMPORTS

PACKAGE = Path(ifns_train.__file__).parent


def deferred_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import statement inside a function of `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    found += [(inner.lineno, alias.name) for alias in inner.names]
                elif isinstance(inner, ast.ImportFrom):
                    found.append((inner.lineno, "." * inner.level + (inner.module or "")))
    return sorted(set(found))


def package_deferred() -> dict[str, list[str]]:
    """Module imported in a function -> the places (file:line) that do it."""
    out: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, module in deferred_imports(path.read_text()):
            out.setdefault(module, []).append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    return out


def test_every_import_in_a_function_is_declared() -> None:
    undeclared = {m: places for m, places in package_deferred().items() if m not in LAZY_IMPORTS}
    assert undeclared == {}, "move these to the top of their module, or declare them (with why) " \
                             "in ifns_train/cli/lazy.py"


def test_every_declared_lazy_import_is_used() -> None:
    assert sorted(set(LAZY_IMPORTS) - set(package_deferred())) == []


def test_each_declaration_says_why() -> None:
    assert all(len(why.split()) >= 4 for why in LAZY_IMPORTS.values())


def test_the_scan_sees_imports_in_nested_functions_and_methods() -> None:
    source = ("import os\n"
              "class A:\n    def f(self):\n        import json\n"
              "def g():\n    def h():\n        from pathlib import Path\n"
              "    from . import sibling\n")
    assert deferred_imports(source) == [(4, "json"), (7, "pathlib"), (8, ".")]
