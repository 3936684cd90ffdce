"""Text edits that fix CVL401 and CVL402 while keeping every other byte of the file.

CVL401 (safe): move the decord import — or the module-level `try`/`if`/`with` block that
holds it — to directly after the first torch import that runs at module level (after
the whole statement that holds that import, in the innermost statement list holding
both), appending `  # isort: skip` to each moved line of code. No move is offered when
code that runs in between uses a moved name or calls code of this module, or when the
two imports sit in different branches: the caller then offers the unsafe fix, as it
does when torch is only imported inside a function (or not at all): insert
`import torch` above the decord import (the module then loads torch earlier).
CVL402 (safe): append `  # isort: skip` to the first line of the import.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path
from typing import Iterable, Sequence

from cogvid_lint.findings import Applicability, Fix, TextEdit
from cogvid_lint.python.guards import Comments
from cogvid_lint.python.model import IMPORT_NODES, ImportEvent
from cogvid_lint.python.source import Module

SKIP = "  # isort: skip"
_MOVABLE = (ast.Import, ast.ImportFrom, ast.Try, getattr(ast, "TryStar", ast.Try), ast.If, ast.With, ast.AsyncWith)
_BUILTINS = frozenset(dir(builtins))
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _line_end(module: Module, lineno: int) -> int:
    """Offset of the end of line `lineno` without its line break."""
    return module.line_starts[lineno - 1] + len(module.line_text(lineno))


def _line_start(module: Module, lineno: int) -> int:
    starts = module.line_starts
    return starts[lineno - 1] if lineno <= len(starts) else len(module.text or "")


def _appendable(comments: Comments, module: Module, lineno: int) -> bool:
    text = module.line_text(lineno)
    return bool(text.strip()) and lineno not in comments.no_append and lineno not in comments.own_line


def guard_fix(path: Path, module: Module, event: ImportEvent, comments: Comments) -> Fix | None:
    """CVL402: `  # isort: skip` at the end of the import's first line."""
    line = event.node.lineno
    if module.text is None or not _appendable(comments, module, line) or comments.skipped(line):
        return None
    at = _line_end(module, line)
    return Fix("Append `# isort: skip` so import sorters leave the decord import below torch",
               Applicability.SAFE, (TextEdit(path, at, at, SKIP),))


def _with_skips(module: Module, comments: Comments, first: int, last: int, head: str | None = None) -> str:
    """Lines first..last (with their breaks) with SKIP appended to each line of code.
    `head` replaces the first line's text (used when only part of the line moves)."""
    out = []
    for n in range(first, last + 1):
        text = module.line_text(n) if head is None or n != first else head
        brk = module.line_break(n) or module.newline
        if _appendable(comments, module, n) and not comments.skipped(n) and text.strip():
            text += SKIP
        out.append(text + brk)
    return "".join(out)


def _starts_line(module: Module, node: ast.stmt, body: list, i: int) -> bool:
    before = module.line_text(node.lineno)[: module.char_column(node.lineno, node.col_offset)]
    return not before.strip() or (i > 0 and body[i - 1].end_lineno == node.lineno)


def move_fix(path: Path, module: Module, decord: Sequence[ImportEvent], torch_event: ImportEvent,
             comments: Comments, title_stmt: str) -> Fix | None:
    """CVL401 safe fix: every decord unit in `decord` that shares a statement list with
    `torch_event` and comes before it moves to just after it, in its original order."""
    if module.text is None or not comments.ok:
        return None
    plan = _common(decord[0], torch_event)
    if plan is None:
        return None
    body, _, t_index = plan
    units: list[int] = []
    for d in decord:
        p = _common(d, torch_event)
        if p is None or p[0] is not body or p[1] >= t_index:
            continue
        if p[1] not in units:
            units.append(p[1])
    units.sort()
    for i in units:
        if not isinstance(body[i], _MOVABLE) or not _starts_line(module, body[i], body, i):
            return None
        if body[i].lineno in comments.no_append:
            return None  # a `\\` continuation: no comment can go on the first line
    anchor = body[t_index]
    last_line = anchor.end_lineno
    j = t_index + 1
    while j < len(body) and body[j].lineno == last_line:
        last_line = body[j].end_lineno
        j += 1
    edits: list[TextEdit] = []
    moved: list[str] = []
    for i in units:
        node = body[i]
        shared_before = i > 0 and body[i - 1].end_lineno == node.lineno
        shared_after = i + 1 < len(body) and body[i + 1].lineno == node.end_lineno
        start = module.offset(node.lineno, node.col_offset)
        end = module.offset(node.end_lineno, node.end_col_offset)
        if not shared_before and not shared_after:
            edits.append(TextEdit(path, _line_start(module, node.lineno), _line_start(module, node.end_lineno + 1), ""))
            moved.append(_with_skips(module, comments, node.lineno, node.end_lineno))
            continue
        if shared_before:
            prev = body[i - 1]
            edits.append(TextEdit(path, module.offset(prev.end_lineno, prev.end_col_offset), end, ""))
        else:
            edits.append(TextEdit(path, start, module.offset(body[i + 1].lineno, body[i + 1].col_offset), ""))
        line = module.line_text(node.lineno)
        indent = line[: len(line) - len(line.lstrip())]
        pieces = _LINE_BREAK.split(module.text[start:end])
        guard = "" if comments.skipped(node.lineno) else SKIP
        pieces[0] = indent + pieces[0] + guard
        text = module.newline.join(pieces) + module.newline
        moved.append(text)
    insert_at = _line_start(module, last_line + 1)
    block = "".join(moved)
    if last_line >= len(module.line_starts) and not module.line_break(last_line):
        block = module.newline + block
        insert_at = len(module.text)
    edits.append(TextEdit(path, insert_at, insert_at, block))
    if not _moves_are_safe(module.tree, body, units, t_index):
        return None  # code in between uses the import: the caller offers `import torch` above instead
    return Fix(f"Move `{title_stmt}` below the torch import on line {torch_event.line} and guard it with "
               "`# isort: skip`", Applicability.SAFE, tuple(edits))


def _common(d: ImportEvent, t: ImportEvent) -> tuple[list, int, int] | None:
    """The innermost statement list holding both imports: (list, index of d's ancestor,
    index of t's ancestor), or None when they part ways elsewhere (except vs try body)."""
    found = None
    for (db, di), (tb, ti) in zip(d.chain, t.chain):
        if db is not tb:
            break
        found = (db, di, ti)
        if di != ti:
            break
    if found is None or found[1] == found[2]:
        return None
    return found


def add_torch_fix(path: Path, module: Module, event: ImportEvent, comments: Comments, when: str) -> Fix | None:
    """CVL401 unsafe fix: `import torch` on a new line above the decord import."""
    if module.text is None or not comments.ok:
        return None
    node = event.node
    body, i = event.body, event.index
    if not _starts_line(module, node, body, i):
        return None
    line = module.line_text(node.lineno)
    indent = line[: len(line) - len(line.lstrip())]
    at = _line_start(module, node.lineno)
    edits = [TextEdit(path, at, at, f"{indent}import torch{module.newline}")]
    if _appendable(comments, module, node.lineno) and not comments.skipped(node.lineno):
        end = _line_end(module, node.lineno)
        edits.append(TextEdit(path, end, end, SKIP))
    return Fix(f"Import torch above the decord import (unsafe: the module then loads torch {when})",
               Applicability.UNSAFE, tuple(edits))


def _bound_names(nodes: Iterable[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                names.update((a.asname or a.name).split(".")[0] for a in sub.names)
            elif isinstance(sub, ast.ImportFrom):
                names.update(a.asname or a.name for a in sub.names)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
    return names


def _runs_now(node: ast.AST) -> Iterable[ast.AST]:
    """The nodes of `node` that run when it runs (not function or lambda bodies)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        yield cur
        if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend(cur.decorator_list)
            stack.append(cur.args)
            if cur.returns is not None:
                stack.append(cur.returns)
            continue
        if isinstance(cur, ast.Lambda):
            stack.append(cur.args)
            continue
        stack.extend(ast.iter_child_nodes(cur))


def _moves_are_safe(tree: ast.Module, body: list, units: Sequence[int], t_index: int) -> bool:
    moved = _bound_names(body[i] for i in units)
    imported = set()
    for stmt in tree.body:
        if isinstance(stmt, IMPORT_NODES):
            imported |= _bound_names([stmt])
    known = (imported | _BUILTINS) - moved
    for i in range(units[0] + 1, t_index + 1):
        if i in units:
            continue
        for sub in _runs_now(body[i]):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id in moved:
                return False
            if isinstance(sub, ast.Call):
                root = sub.func
                while isinstance(root, ast.Attribute):
                    root = root.value
                if not (isinstance(root, ast.Name) and root.id in known):
                    return False
    return True
