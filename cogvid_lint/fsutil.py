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


def is_inside(path: Path | str, root: Path | str) -> bool:
    """True when `path` is `root` or below it (lexically; resolve symlinks first if they matter)."""
    p, r = os.fspath(path), os.fspath(root)
    if os.name == "posix" and ".." not in p and ".." not in r and p[:2] != "//" != r[:2] and p[:1] == r[:1] == "/":
        # pathlib's answer for absolute paths without "..", without building two Paths
        # (discovery asks twice per clip: 100,000 clips, 2 s)
        p, r = os.path.normpath(p), os.path.normpath(r)
        return p == r or p.startswith(r if r == "/" else r + "/")
    try:
        Path(p).relative_to(r)
        return True
    except ValueError:
        return False
