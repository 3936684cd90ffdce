"""The execution-order import model of one module.

Module-level statements run in order, including the bodies of `try`/`except`/`else`/
`finally`, `with`, loops, `match` and both branches of an `if` (either may run); class
bodies run where the class is defined. `if TYPE_CHECKING:` (any `X.TYPE_CHECKING`, or
`if False:`) never runs, its `else:` always does. Function and method bodies run when
called, which is after every module-level statement: they are walked afterwards, each as
its own scope, in the order they are defined (nested functions after their parents).
Strings, comments and docstrings are never imports: only `import` statements count.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# One step from the module down to a statement: (the statement list, index in it).
Step = tuple[list, int]

IMPORT_NODES = (ast.Import, ast.ImportFrom)


@dataclass(frozen=True, eq=False)
class ImportEvent:
    """One module an `import` statement loads, at its place in execution order.

    `module` is the dotted name as written (without the leading dots of a relative
    import, see `level`); `names` are the names of a `from` import. `scope` is 0 for code
    that runs at import time and a positive number per function body. `chain` leads from
    the module body to the statement (its last step holds the statement itself).
    """

    node: ast.Import | ast.ImportFrom
    module: str
    level: int
    names: tuple[str, ...]
    is_from: bool
    scope: int
    order: int
    chain: tuple[Step, ...]

    @property
    def line(self) -> int:
        return self.node.lineno

    @property
    def body(self) -> list:
        return self.chain[-1][0]

    @property
    def index(self) -> int:
        return self.chain[-1][1]


@dataclass(frozen=True)
class ModuleModel:
    events: tuple[ImportEvent, ...]
    has_main_guard: bool


def build_model(tree: ast.Module) -> ModuleModel:
    events: list[ImportEvent] = []
    deferred: list[tuple[ast.AST, tuple[Step, ...]]] = []

    def emit(stmt: ast.Import | ast.ImportFrom, chain: tuple[Step, ...], scope: int) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                events.append(ImportEvent(stmt, alias.name, 0, (), False, scope, len(events), chain))
        else:
            names = tuple(alias.name for alias in stmt.names)
            events.append(ImportEvent(stmt, stmt.module or "", stmt.level or 0, names, True, scope, len(events), chain))

    def walk(body: list, chain: tuple[Step, ...], scope: int) -> None:
        for i, stmt in enumerate(body):
            here = chain + ((body, i),)
            if isinstance(stmt, IMPORT_NODES):
                emit(stmt, here, scope)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                deferred.append((stmt, here))
            elif isinstance(stmt, ast.ClassDef):
                walk(stmt.body, here, scope)
            elif isinstance(stmt, ast.If):
                runs = static_truth(stmt.test)
                if runs is not False:
                    walk(stmt.body, here, scope)
                if runs is not True:
                    walk(stmt.orelse, here, scope)
            elif isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
                walk(stmt.body, here, scope)
                for handler in stmt.handlers:
                    walk(handler.body, here, scope)
                walk(stmt.orelse, here, scope)
                walk(stmt.finalbody, here, scope)
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                walk(stmt.body, here, scope)
            elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
                walk(stmt.body, here, scope)
                walk(stmt.orelse, here, scope)
            elif isinstance(stmt, ast.Match):
                for case in stmt.cases:
                    walk(case.body, here, scope)

    walk(tree.body, (), 0)
    scope = 0
    position = 0
    while position < len(deferred):
        fn, chain = deferred[position]
        position += 1
        scope += 1
        walk(fn.body, chain, scope)  # type: ignore[attr-defined]
    return ModuleModel(tuple(events), has_main_guard(tree))


def static_truth(test: ast.expr) -> bool | None:
    """True/False when an `if` test is known before running (TYPE_CHECKING, constants)."""
    if _is_type_checking(test):
        return False
    if isinstance(test, ast.Constant) and not isinstance(test.value, str):
        return bool(test.value)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = static_truth(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        values = [static_truth(v) for v in test.values]
        if isinstance(test.op, ast.And) and False in values:
            return False
        if isinstance(test.op, ast.Or) and True in values:
            return True
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def has_main_guard(tree: ast.Module) -> bool:
    """The module has a top-level `if __name__ == "__main__":` (either operand order)."""
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and _is_main_test(stmt.test):
            return True
    return False


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main
