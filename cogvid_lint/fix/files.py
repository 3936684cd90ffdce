"""Deletes files named by fixes (stale cache entries): only regular files inside their root,
never through a symlink that leads out, never a listed source clip."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from cogvid_lint.findings import DeleteFile, Diagnostic


def safe_to_delete(path: Path, root: Path) -> bool:
    """A regular file (not a symlink), whose real location is inside the real root."""
    try:
        if path.is_symlink() or not path.is_file():
            return False
        real, real_root = Path(os.path.realpath(path)), Path(os.path.realpath(root))
        real.relative_to(real_root)
        return True
    except (OSError, ValueError):
        return False


class DeleteApplier:
    def describe(self, ops: Sequence[tuple[DeleteFile, Diagnostic]], relpath: Callable) -> list[str]:
        return [f"delete {relpath(op.path)} ({d.code} {d.name})" for op, d in ops]

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
