"""Applies text edits (code fixes), file by file; describes them as unified diffs."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Sequence

from cogvid_lint.findings import Diagnostic, TextEdit
from cogvid_lint.fix.text import apply_text_edits, read_source_text, unified_diff
from cogvid_lint.fsutil import atomic_write_text


def _by_file(ops: Sequence[tuple[TextEdit, Diagnostic]]) -> dict:
    files: dict = defaultdict(list)
    for op, _ in ops:
        files[op.path].append(op)
    return files


class TextApplier:
    def describe(self, ops: Sequence[tuple[TextEdit, Diagnostic]], relpath: Callable) -> list[str]:
        lines = []
        for path, edits in _by_file(ops).items():
            try:
                old = read_source_text(path)
            except (OSError, UnicodeDecodeError):
                continue
            new, _, _ = apply_text_edits(old, edits)
            diff = unified_diff(relpath(path), old, new)
            if diff:
                lines.append(diff.rstrip("\n"))
        return lines

    def apply(self, ops: Sequence[tuple[TextEdit, Diagnostic]]) -> set[int]:
        applied: set[int] = set()
        for path, edits in _by_file(ops).items():
            try:
                old = read_source_text(path)
            except (OSError, UnicodeDecodeError):
                continue
            new, done, _ = apply_text_edits(old, edits)
            if new != old:
                # The result must parse (PyCF_ONLY_AST); compile() wants the text without its BOM.
                try:
                    compile(new.removeprefix("\ufeff"), str(path), "exec", dont_inherit=True, flags=0x400)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    continue  # a fix that breaks the file is not applied; the finding stays
                atomic_write_text(path, new)
            done_keys = {(e.start, e.end, e.replacement) for e in done}
            applied |= {id(e) for e in edits if (e.start, e.end, e.replacement) in done_keys}
        return applied
