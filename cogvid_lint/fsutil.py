"""Writing files so that a crash at any moment leaves either the old or the new content."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Callable

TEMP_PREFIX = ".cogvid-lint-tmp-"


def atomic_write_bytes(path: Path, data: bytes, check: Callable[[Path], None] | None = None,
                       new_mode: int | None = None) -> None:
    """temp file beside `path` → write → fsync → os.replace (keeps the old file's mode).

    `check(temp)` runs on the written temp file before the replace; if it raises, the temp
    file is removed, `path` is left as it was and the exception propagates. `new_mode`: the
    mode a new file is created with, less the umask as for any new file (default: mkstemp's
    0600, private)."""
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
    if mode is None and new_mode is not None:
        # os.open applies the process umask itself: no need to read (or set) it
        tmp = os.path.join(path.parent, f"{TEMP_PREFIX}{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, new_mode)
    else:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if check is not None:
            check(Path(tmp))
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


def is_inside(path: Path | str, root: Path | str) -> bool:
    """True when `path` is `root` or below it (lexically; resolve symlinks first if they matter)."""
    return Under(root)(path)


class Under:
    """`is_inside(path, root)` for one root and many paths (discovery asks twice per clip).

    For absolute POSIX paths without ".." it compares strings, pathlib's answer without
    building Paths (100,000 clips: 2 s); the root's normal form is worked out once.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = os.fspath(root)
        self._plain = plain_path(self.root)
        self._prefix = self._plain if self._plain == "/" else f"{self._plain}/"

    def __call__(self, path: Path | str) -> bool:
        p = os.fspath(path)
        plain = plain_path(p) if self._plain is not None else None
        if plain is not None:
            return plain == self._plain or plain.startswith(self._prefix)
        try:
            Path(p).relative_to(self.root)
            return True
        except ValueError:
            return False


def plain_path(path: str) -> str | None:
    """`path` in normal form when os.path.normpath and pathlib agree on it, else None: POSIX,
    absolute, not `//`-rooted and without ".." (which normpath folds and pathlib keeps)."""
    if os.name != "posix" or path[:1] != "/" or path[:2] == "//" or ".." in path:
        return None
    if "/." in path or "//" in path or path[-1] == "/":  # a `.` or empty component to drop
        return os.path.normpath(path)
    return path
