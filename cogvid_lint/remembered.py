"""Inputs validated once and remembered: the rule catalogue and config files.

Validating them needs PyYAML and pydantic, whose imports alone (~0.2 s) cost more than a
whole run of the pre-commit code hook may take. So a validated value is pickled in the
user's cache folder, keyed by the (path, size, mtime_ns, inode) of every file it was built
from plus the schema modules' own files and cogvid-lint's version; the next run with the
same inputs unpickles it (< 1 ms) and imports neither library.

The folder is per user (as black and pre-commit do), never inside the project: a pickle is
code, and a cloned repository must not be able to plant one. `COGVID_LINT_CACHE_HOME`
overrides it; a folder that cannot be written just means validating every time.
"""

from __future__ import annotations

import os
import pickle
import zlib
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from cogvid_lint import __version__

T = TypeVar("T")
ENV_VAR = "COGVID_LINT_CACHE_HOME"


def user_cache_dir() -> Path:
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is to be ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cogvid-lint"


def signature(paths: Iterable[Path | str]) -> tuple:
    """What must not change for a remembered value to stay true; a missing file counts too."""
    parts: list[tuple] = [(__version__,)]
    for path in paths:
        try:
            st = os.stat(path)
            parts.append((str(path), st.st_size, st.st_mtime_ns, st.st_ino))
        except OSError:
            parts.append((str(path), None))
    return tuple(parts)


def remembered(kind: str, sources: Iterable[Path | str], build: Callable[[], T]) -> T:
    """`build()`'s value, from the user cache while `sources` are unchanged. `build` may
    raise (a broken config): nothing is remembered then, so the error shows every time."""
    key = signature(sources)
    # one file per kind and set of source paths: an edited config replaces its entry
    names = "\0".join(part[0] for part in key[1:])
    file = user_cache_dir() / f"{kind}-{zlib.crc32(names.encode('utf-8', 'surrogateescape')):08x}.pickle"
    try:
        with open(file, "rb") as handle:
            stored_key, value = pickle.load(handle)
        if stored_key == key:
            return value
    except Exception:  # noqa: BLE001 - absent, unreadable, truncated, or from another version: rebuild
        pass
    value = build()
    if signature(sources) == key:  # a source that changed while being read is not remembered
        _store(file, (key, value))
    return value


def _store(file: Path, entry: tuple) -> None:
    from cogvid_lint.fsutil import atomic_write_bytes

    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(file, pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a read-only home: validate on every run instead
