"""Applies text edits (code fixes), file by file; describes them as unified diffs."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Sequence

from cogvid_lint.findings import Diagnostic, TextEdit
from cogvid_lint.fix.text import apply_text_edits, read_source_text, unified_diff, write_text_atomic


def _edited_files(ops: Sequence[tuple[TextEdit, Diagnostic]]):
    """(path, old text, new text, edits asked, edits applied) per readable file."""
    files: dict = defaultdict(list)
    for op, _ in ops:
        files[op.path].append(op)
    for path, edits in files.items():
        try:
            old = read_source_text(path)
        except (OSError, UnicodeDecodeError):
            continue  # no text fix for an unreadable or non-UTF-8 file; the finding stays
        new, done, _ = apply_text_edits(old, edits)
        yield path, old, new, edits, done


def _parses(text: str, path) -> bool:
    try:
        # PyCF_ONLY_AST; compile() wants the text without its BOM.
        compile(text.removeprefix("\ufeff"), str(path), "exec", dont_inherit=True, flags=0x400)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


class TextApplier:
    def describe(self, ops: Sequence[tuple[TextEdit, Diagnostic]], relpath: Callable) -> list[str]:
        diffs = (unified_diff(relpath(path), old, new) for path, old, new, _, _ in _edited_files(ops))
        return [diff.rstrip("\n") for diff in diffs if diff]

    def apply(self, ops: Sequence[tuple[TextEdit, Diagnostic]]) -> set[int]:
        applied: set[int] = set()
        for path, old, new, edits, done in _edited_files(ops):
            if new != old:
                if not _parses(new, path):
                    continue  # a fix that breaks the file is never written
                write_text_atomic(path, new)
            done_keys = {(e.start, e.end, e.replacement) for e in done}
            applied |= {id(e) for e in edits if (e.start, e.end, e.replacement) in done_keys}
        return applied
