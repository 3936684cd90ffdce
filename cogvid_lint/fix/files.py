"""Deletes files named by fixes (stale cache entries): only regular files inside their root,
never through a symlink that leads out, never a video (a source clip)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from cogvid_lint.discover.dataset import VIDEO_SUFFIXES
from cogvid_lint.findings import DeleteFile, Diagnostic
from cogvid_lint.fsutil import is_inside


def delete_refusal(path: Path, root: Path) -> str | None:
    """Why `path` must not be deleted, or None when it may be.

    It must be a regular file (a symlink is not followed, not even deleted: it may be how a
    user shares a cache), lie inside `root` both as written and once every symlink on the way
    is resolved, and not be a video: cache fixes delete cache files, never a source clip.
    """
    path, root = Path(os.path.normpath(path)), Path(os.path.normpath(root))
    if path == root or not is_inside(path, root):
        return f"outside {root}"
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return "a video file (source clips are never deleted)"
    try:
        if path.is_symlink():
            return "a symlink"
        if not path.is_file():
            return "not a regular file"
        if not is_inside(Path(os.path.realpath(path)), Path(os.path.realpath(root))):
            return f"a symlinked folder leads outside {root}"
    except OSError as exc:
        return f"cannot check it: {exc.strerror or exc}"
    return None


def safe_to_delete(path: Path, root: Path) -> bool:
    return delete_refusal(path, root) is None



class DeleteApplier:
    def describe(self, ops: Sequence[tuple[DeleteFile, Diagnostic]], relpath: Callable) -> list[str]:
        lines = []
        for op, d in ops:
            refusal = delete_refusal(op.path, op.root) if os.path.lexists(op.path) else None
            if refusal is None:
                lines.append(f"delete {relpath(op.path)} ({d.code} {d.name})")
            else:
                lines.append(f"# will not delete {relpath(op.path)} ({d.code} {d.name}): {refusal}")
        return lines

    def apply(self, ops: Sequence[tuple[DeleteFile, Diagnostic]]) -> set[int]:
        applied: set[int] = set()
        for op, _ in ops:
            if not os.path.lexists(op.path):
                applied.add(id(op))  # already gone (two findings about one file)
                continue
            if safe_to_delete(op.path, op.root):
                try:
                    os.unlink(op.path)
                except OSError:
                    continue
                applied.add(id(op))
        return applied
