"""Discovery: settings + dataset layout → a `Project` of datasets, clips and Python files."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cogvid_lint.discover.dataset import BACKUP_DIR, load_dataset
from cogvid_lint.discover.project import Project, PythonFile

if TYPE_CHECKING:  # settings imports discover.launch: a runtime import here is circular
    from cogvid_lint.settings import Settings

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".nox",
                       ".mypy_cache", ".ruff_cache", ".pytest_cache", BACKUP_DIR, ".cogvid_lint_cache",
                       "site-packages", ".eggs"})


def discover(settings: Settings, *, python: bool = True, datasets: bool = True) -> Project:
    project = Project(root=settings.root, settings=settings)
    if datasets:
        project.datasets = [load_dataset(ds) for ds in settings.datasets]
    if python:
        project.python_files = [PythonFile(path, project) for path in find_python_files(settings)]
    return project


def find_python_files(settings: Settings) -> list[Path]:
    """`.py` files named on the command line, and those under the folders named there."""
    found: dict[Path, None] = {}
    for top in settings.paths:
        if top.is_file():
            if top.suffix in (".py", ".pyi") or top.suffix == "":
                found[top] = None
            continue
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not _excluded(Path(folder) / d, settings))
            for name in sorted(files):
                if name.endswith(".py"):
                    path = Path(folder) / name
                    if not _excluded(path, settings):
                        found[path] = None
    return [p for p in found if p.suffix in (".py", ".pyi")]


def _excluded(path: Path, settings: Settings) -> bool:
    if not settings.exclude:
        return False
    try:
        rel = path.relative_to(settings.root).as_posix()
    except ValueError:
        rel = path.as_posix()
    return any(fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(path.name, pattern) for pattern in settings.exclude)
