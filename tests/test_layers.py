"""The layers contract: the package's imports flow one way.

Read from the source with `ast` (no import is executed), every import counts — at the top
of a module or hidden in a function body — except those under `if TYPE_CHECKING:`, which
never run. The graph is of modules; `from pkg import name` counts as an import of
`pkg.name` when that is a module, else of `pkg`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cogvid_lint"

# (importer prefix, imported prefix, why it may not)
FORBIDDEN = [
    ("cogvid_lint.checks", "cogvid_lint.report", "checks yield findings; reporters only format"),
    ("cogvid_lint.checks", "cogvid_lint.commands", "checks never know how they are run"),
    ("cogvid_lint.checks", "cogvid_lint.engine", "the engine runs checks, not the other way"),
    ("cogvid_lint.report", "cogvid_lint.commands", "reporters only format"),
    ("cogvid_lint.report", "cogvid_lint.engine", "reporters only format"),
    ("cogvid_lint.report", "cogvid_lint.checks", "reporters only format"),
    ("cogvid_lint.report", "cogvid_lint.probe", "reporters only format"),
    ("cogvid_lint.probe", "cogvid_lint.checks", "probing knows no rule"),
    ("cogvid_lint.probe", "cogvid_lint.settings", "probing is given what it needs"),
    ("cogvid_lint.probe", "cogvid_lint.engine", "probing is pulled by the engine, never calls it"),
    ("cogvid_lint.probe", "cogvid_lint.commands", "probing is pulled by the engine, never calls it"),
    ("cogvid_lint.discover", "cogvid_lint.checks", "discovery knows no rule"),
    ("cogvid_lint.discover", "cogvid_lint.engine", "discovery knows no rule"),
    ("cogvid_lint.store", "cogvid_lint.", "the store is the bottom layer"),
    ("cogvid_lint.hashing", "cogvid_lint.probe", "hashing is below probing"),
    ("cogvid_lint.settings", "cogvid_lint.discover", "settings are a plain value; discovery reads them"),
    ("cogvid_lint.settings", "cogvid_lint.probe", "settings are a plain value"),
    ("cogvid_lint.engine", "cogvid_lint.commands", "commands wire the engine"),
    ("cogvid_lint.", "cogvid_lint.cli", "nothing imports the command line"),
    ("cogvid_lint.remote", "cogvid_lint.settings", "object-store access is given what it needs"),
    ("cogvid_lint.remote", "cogvid_lint.discover", "object-store access knows no dataset"),
    ("cogvid_lint.remote", "cogvid_lint.probe", "the probe reads objects, not the other way"),
    ("cogvid_lint.remote", "cogvid_lint.engine", "object-store access knows no rule"),
]
FORBIDDEN_EXEMPT = {"cogvid_lint.__main__"}  # `python -m cogvid_lint` is the command line
FORBIDDEN += [
]
ALLOWED = {("cogvid_lint.store", "cogvid_lint.settings")}  # only under TYPE_CHECKING, never at run time


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m.startswith("cogvid_lint")} - {name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix if prefix.endswith(".") else prefix + ".")


def test_no_forbidden_import(graph):
    broken = []
    for importer, imported in sorted((a, b) for a, targets in graph.items() for b in targets):
        for low, high, why in ([] if importer in FORBIDDEN_EXEMPT else FORBIDDEN):
            if _under(importer, low) and _under(imported, high) and (low, high) not in ALLOWED \
                    and not _under(importer, high):
                broken.append(f"{importer} imports {imported}: {why}")
    assert not broken, "\n".join(broken)


def test_no_import_cycle(graph):
    """Between modules, counting imports in function bodies; a package's __init__ that
    re-exports its own submodules is not a cycle with them."""
    def edges(module: str) -> set[str]:
        return {t for t in graph.get(module, ()) if not module.startswith(t + ".")}

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges(v):
            if w not in graph:
                continue
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            strongconnect(module)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_contract_sees_imports_hidden_in_function_bodies(tmp_path):
    """The reader itself: an import inside a function counts, one under TYPE_CHECKING does not."""
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cogvid_lint.cli\n"
                      "def f():\n    from cogvid_lint import engine\n")
    modules = {"cogvid_lint.engine": PACKAGE / "engine.py"}
    assert _imports("cogvid_lint.m", source, modules) == {"cogvid_lint.engine"}
