"""Writing files so that a crash at any moment leaves either the old or the new content."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMP_PREFIX = ".cogvid-lint-tmp-"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """temp file beside `path` → write → fsync → os.replace (keeps the old file's mode)."""
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        # a device or FIFO (`-o /dev/null`, `-o /dev/stdout`): write through. os.replace would
        # swap the node itself, and as root /dev/null would become a regular file.
        with open(path, "wb") as handle:
            handle.write(data)
        return
    mode = None
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_inside(path: Path, root: Path) -> bool:
    """True when `path` is `root` or below it (lexically; resolve symlinks first if they matter)."""
    try:
        Path(path).relative_to(root)
        return True
    except ValueError:
        return False
