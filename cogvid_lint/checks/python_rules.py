"""Code rules on Python files: CVL400-CVL403 (see rules/CVL40*.yaml).

Every check returns before parsing when the file's bytes cannot matter: a file that does
not contain `decord` cannot break CVL401/CVL402, and CVL400 only reports files the code
rules have to read (see `may_reach_decord`). Parse results, the import graph and the
sorter setup are shared per run through `project.memo`.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

from cogvid_lint.findings import Finding, Location
from cogvid_lint.python.classify import matches_entry_point, module_package
from cogvid_lint.python.fixes import add_torch_fix, guard_fix, move_fix
from cogvid_lint.python.graph import import_graph, parsed, walk_entries
from cogvid_lint.python.guards import Comments, scan_comments
from cogvid_lint.python.order import (
    FUNCTION,
    LATER,
    LATER_IN_SCOPE,
    decord_violations,
    unguarded_decord,
)
from cogvid_lint.python.source import Module, SyntaxProblem
from cogvid_lint.python.sorter import detect_sorters
from cogvid_lint.registry import RuleContext, check


def _list_param(params: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = params.get(name) or ()
    if isinstance(value, str):
        value = [value]
    return tuple(str(v) for v in value)


def _data(file) -> bytes | None:
    """The file's bytes, or None for a stub (never run) or an unreadable file."""
    if file.path.suffix == ".pyi":
        return None
    try:
        return file.data
    except OSError:
        return None


def _statement(module: Module, node: ast.stmt) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover
        return module.line_text(node.lineno).strip()


def _location(file, module: Module, node: ast.stmt) -> Location:
    column = module.char_column(node.lineno, node.col_offset) + 1 if module.text is not None else node.col_offset + 1
    return Location(file.path, node.lineno, column)


def _comments(project, file, module: Module) -> Comments:
    cache: dict[Path, Comments] = project.memo("python.comments", dict)
    hit = cache.get(file.path)
    if hit is None:
        hit = scan_comments(module.text) if module.text is not None else Comments(ok=False)
        cache[file.path] = hit
    return hit


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _walked(ctx: RuleContext) -> frozenset[Path]:
    """The files CVL403's walk reads, with CVL403's configured parameters."""
    overrides = getattr(ctx.settings, "rule_overrides", None) or {}
    override = overrides.get("CVL403") or overrides.get("transitive-decord-before-torch")
    params = dict(getattr(override, "params", None) or (override.get("params", {}) if isinstance(override, dict) else {}))
    return walk_entries(ctx.project, _list_param(params, "torch_modules"), _list_param(params, "entry_points")).read


@check("python.syntax_error")
def syntax_error(file, ctx: RuleContext) -> Iterator[Finding]:
    data = _data(file)
    if data is None:
        return
    if b"decord" not in data and file.path not in _walked(ctx):
        return
    result = parsed(ctx.project, file).result
    if isinstance(result, SyntaxProblem):
        yield Finding(Location(file.path, result.line, result.column), args={"error": result.message})


@check("python.decord_before_torch")
def decord_before_torch(file, ctx: RuleContext) -> Iterator[Finding]:
    data = _data(file)
    if data is None or b"decord" not in data:
        return
    info = parsed(ctx.project, file)
    module = info.result
    if info.model is None or not isinstance(module, Module):
        return
    root = ctx.project.root
    torch_modules = _list_param(ctx.params, "torch_modules")
    entry_points = _list_param(ctx.params, "entry_points")
    is_entry = info.model.has_main_guard or (
        bool(entry_points) and matches_entry_point(file.path, root, entry_points)
    )
    violations = decord_violations(info.model, torch_modules, module_package(file.path, root), is_entry)
    if not violations:
        return
    comments = _comments(ctx.project, file, module)
    later = [v for v in violations if v.reason == LATER]
    for v in violations:
        stmt = _statement(module, v.event.node)
        t = v.torch_event
        if v.reason == LATER:
            detail = f"torch is first imported on line {t.line}"
            others = [w.event for w in later if w is not v]
            fix = move_fix(file.path, module, [v.event] + others, t, comments, stmt) or add_torch_fix(
                file.path, module, v.event, comments, when="earlier than before")
        elif v.reason == FUNCTION:
            detail = f"torch is only imported inside a function (line {t.line})"
            fix = add_torch_fix(file.path, module, v.event, comments, when="at import time")
        elif v.reason == LATER_IN_SCOPE:
            detail = f"in this function torch is first imported on line {t.line}"
            fix = add_torch_fix(file.path, module, v.event, comments, when="earlier in this function")
        else:
            detail = "this entry script imports no torch before it"
            fix = add_torch_fix(file.path, module, v.event, comments,
                                when="when the function is called" if v.event.scope else "at import time")
        yield Finding(
            _location(file, module, v.event.node),
            args={"statement": stmt, "detail": detail, "torch_line": t.line if t else None},
            fix=fix,
            fingerprint=f"CVL401:{stmt}",
        )


@check("python.unguarded_decord_import")
def unguarded_decord_import(file, ctx: RuleContext) -> Iterator[Finding]:
    data = _data(file)
    if data is None or b"decord" not in data:
        return
    project = ctx.project
    sorters = project.memo("python.sorters", lambda: detect_sorters(Path(os.path.abspath(project.root))))
    rel = _rel(file.path, project.root)
    active = [s for s in sorters if s.applies_to(rel)]
    if not active:
        return
    info = parsed(project, file)
    module = info.result
    if info.model is None or not isinstance(module, Module) or module.text is None:
        return
    comments = _comments(project, file, module)
    torch_modules = _list_param(ctx.params, "torch_modules")
    for u in unguarded_decord(info.model, active, comments, torch_modules, module_package(file.path, project.root)):
        stmt = _statement(module, u.event.node)
        yield Finding(
            _location(file, module, u.event.node),
            args={
                "statement": stmt,
                "sorter": u.sorter.tool,
                "origin": u.sorter.origin,
                "torch_statement": _statement(module, u.torch_event.node),
                "torch_line": u.torch_event.line,
            },
            fix=guard_fix(file.path, module, u.event, comments),
            fingerprint=f"CVL402:{stmt}",
        )


@check("python.transitive_decord_before_torch")
def transitive_decord_before_torch(file, ctx: RuleContext) -> Iterator[Finding]:
    project = ctx.project
    torch_modules = _list_param(ctx.params, "torch_modules")
    entry_points = _list_param(ctx.params, "entry_points")
    chains = import_graph(project, torch_modules, entry_points)
    if not chains:
        return
    path = Path(os.path.abspath(file.path))
    for chain in chains:
        if Path(os.path.abspath(chain.entry.path)) != path:
            continue
        info = parsed(project, file)
        module = info.result
        node = chain.event.node
        location = (
            _location(file, module, node) if isinstance(module, Module) else Location(file.path, node.lineno)
        )
        yield Finding(
            location,
            args={"entry": _rel(file.path, project.root), "chain": chain.render(project.root),
                  "statement": chain.decord},
            fingerprint=f"CVL403:{_rel(chain.steps[-1][0], project.root)}:{chain.decord}",
        )
