"""Which imports load torch or decord, and which files are entry scripts."""

from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from cogvid_lint.python.model import ImportEvent

TORCH_MODULES = ("torch", "torchvision", "torchaudio")
DECORD = "decord"


def _under(name: str, root: str) -> bool:
    return name == root or name.startswith(root + ".")


def module_package(path: Path, root: Path) -> str:
    """The dotted package a file lives in, from its place under the project root
    (a leading `src/` is dropped); "" for files at the root or outside it."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return ""
    parts = list(rel.parts[:-1])
    if parts and parts[0] == "src":
        parts = parts[1:]
    return ".".join(parts)


def absolute_module(event: ImportEvent, package: str) -> str:
    """The imported module's absolute name (relative imports resolved against `package`)."""
    if not event.level:
        return event.module
    parts = package.split(".") if package else []
    if event.level - 1 > len(parts):
        return event.module  # beyond the top: cannot resolve
    base = parts[: len(parts) - (event.level - 1)]
    if event.module:
        base.append(event.module)
    return ".".join(base)


def is_torch_import(event: ImportEvent, torch_modules: Sequence[str] = (), package: str = "") -> bool:
    """`import torch[.x]`, `from torch[.x] import …`, torchvision, torchaudio, or a module
    named in `torch_modules` (also as `from pkg import mod` for `pkg.mod`)."""
    if not event.level and any(_under(event.module, m) for m in TORCH_MODULES):
        return True
    if not torch_modules:
        return False
    name = absolute_module(event, package)
    candidates = [name] + ([f"{name}.{n}" if name else n for n in event.names] if event.is_from else [])
    if event.level:  # a relative import may also be configured by its written name
        candidates.append(event.module)
    return any(_under(c, m) for c in candidates if c for m in torch_modules)


def is_decord_import(event: ImportEvent) -> bool:
    """`import decord[.x]` or `from decord[.x] import …`, with or without `as`."""
    return not event.level and _under(event.module, DECORD)


def matches_entry_point(path: Path, root: Path, patterns: Iterable[str]) -> bool:
    """`path` is one of the configured entry points (paths or globs relative to the root)."""
    try:
        rel = PurePosixPath(path.resolve().relative_to(root.resolve()).as_posix())
    except ValueError:
        rel = PurePosixPath(path.as_posix())
    for pattern in patterns:
        pattern = pattern.strip().removeprefix("./")
        if not pattern:
            continue
        if rel.as_posix() == pattern or fnmatch.fnmatchcase(rel.as_posix(), pattern) or rel.match(pattern):
            return True
    return False
