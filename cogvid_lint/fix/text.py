"""Text edits: apply ranges back to front, show unified diffs, read and write sources exactly.

Offsets are character offsets into the text decoded as UTF-8 with newlines kept as they
are in the file (``newline=""`` semantics: CRLF stays two characters, a BOM stays one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from cogvid_lint.findings import TextEdit
from cogvid_lint.fsutil import atomic_write_text


def apply_text_edits(text: str, edits: Sequence[TextEdit]) -> tuple[str, list[TextEdit], list[TextEdit]]:
    """Apply `edits` to `text`; return (new text, applied, skipped).

    Edits are applied back to front. Exact duplicates (two findings offering the same
    edit) are applied once. An edit that overlaps one already accepted, or whose range
    lies outside the text, is skipped: the caller re-lints and fixes again (a few rounds).
    Two insertions at the same offset count as overlapping (their order would be a guess).
    """
    unique: list[TextEdit] = []
    seen: set[tuple[int, int, str]] = set()
    for edit in edits:
        key = (edit.start, edit.end, edit.replacement)
        if key not in seen:
            seen.add(key)
            unique.append(edit)
    accepted: list[TextEdit] = []
    skipped: list[TextEdit] = []
    # Earlier-listed edits win a conflict: accept in the given order, then apply sorted.
    for edit in unique:
        if not 0 <= edit.start <= edit.end <= len(text):
            skipped.append(edit)
            continue
        if any(_overlaps(edit, other) for other in accepted):
            skipped.append(edit)
            continue
        accepted.append(edit)
    out = text
    for edit in sorted(accepted, key=lambda e: (e.start, e.end), reverse=True):
        out = out[: edit.start] + edit.replacement + out[edit.end :]
    accepted.sort(key=lambda e: (e.start, e.end))
    return out, accepted, skipped


def _overlaps(a: TextEdit, b: TextEdit) -> bool:
    if a.start == a.end and b.start == b.end:
        return a.start == b.start
    if a.start == a.end:
        return b.start < a.start < b.end
    if b.start == b.end:
        return a.start < b.start < a.end
    return a.start < b.end and b.start < a.end


def unified_diff(path: str | os.PathLike[str], old: str, new: str) -> str:
    """A `git diff`-style unified diff of one file (empty when nothing changed)."""
    if old == new:
        return ""
    import difflib

    name = Path(path).as_posix()
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    out = []
    for line in lines:
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def read_source_text(path: str | os.PathLike[str]) -> str:
    """The file's text decoded as UTF-8, every byte kept (CRLF, lone CR, BOM).

    Raises UnicodeDecodeError for a file that is not UTF-8 (such files get no text fix).
    """
    return Path(path).read_bytes().decode("utf-8")


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8, newlines untouched) in place of `path`: temp file → fsync →
    os.replace, keeping the original's permission bits."""
    atomic_write_text(Path(path), text)
