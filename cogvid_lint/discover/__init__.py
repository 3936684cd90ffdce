"""Discovery: settings + dataset layout → a `Project` of datasets, clips and Python files."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Sequence
from typing import TYPE_CHECKING

from cogvid_lint.discover.dataset import BACKUP_DIR, load_dataset
from cogvid_lint.discover.gitignored import mark_git_ignored
from cogvid_lint.discover.project import Clip, Dataset, Project, PythonFile

if TYPE_CHECKING:  # settings imports discover.launch: a runtime import here is circular
    from cogvid_lint.settings import DatasetSettings, Settings
    from cogvid_lint.store import Store

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".nox",
                       ".mypy_cache", ".ruff_cache", ".pytest_cache", BACKUP_DIR, ".cogvid_lint_cache",
                       "site-packages", ".eggs"})


def discover(settings: Settings, *, python: bool = True, datasets: Sequence[DatasetSettings] = (),
             store: Store | None = None) -> Project:
    """The project: `datasets` (resolved: discover.datasets) loaded, the Python files found
    when `python`. `store`: where facts derived from the project's files are kept."""
    project = Project(root=settings.root, settings=settings, store=store)
    sources = data_sources(settings, datasets, store)
    try:
        project.datasets = [_only(load_dataset(ds, sources.get(ds.data_root))) if ds.clips_only
                            else load_dataset(ds, sources.get(ds.data_root)) for ds in datasets]
    except Exception as exc:
        from cogvid_lint.remote.access import RemoteError

        if isinstance(exc, RemoteError):  # a remote dataset discovery cannot read yet: one line
            from cogvid_lint.errors import ConfigError

            raise ConfigError([str(exc)]) from None
        raise
    mark_git_ignored(project.datasets)  # a CI checkout lists clips git keeps out of it
    if python:
        project.python_files = [PythonFile(path, project) for path in find_python_files(settings)]
    return project


def data_sources(settings: Settings, datasets: Sequence[DatasetSettings], store: Store | None = None) -> dict[Path, object]:
    """A RemoteFiles (one listing) for each data root in an object store; ConfigError, one
    line each, for those that cannot be listed (unreachable, no bucket, access denied, the
    filesystem's extra not installed)."""
    from cogvid_lint.remote.urls import is_remote

    remote = list(dict.fromkeys(ds.data_root for ds in datasets if is_remote(ds.data_root)))
    if not remote:
        return {}
    from cogvid_lint.discover.source import RemoteFiles
    from cogvid_lint.errors import ConfigError
    from cogvid_lint.remote.access import RemoteError

    spec = settings.options.remote_spec()
    found: dict[Path, object] = {}
    problems = []
    for root in remote:
        try:
            found[root] = RemoteFiles(root, spec, store)
        except RemoteError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(problems)
    return found


def _only(dataset: Dataset) -> Dataset:
    """A dataset narrowed to the clips given as PATHs: their list lines when listed, else the
    clip alone (a clip not listed yet is linted as the trainer would see it once it is)."""
    wanted = {os.path.normpath(p): p for p in dataset.settings.clips_only}
    kept = [clip for clip in dataset.clips if os.path.normpath(clip.fspath) in wanted]
    listed = {os.path.normpath(clip.fspath) for clip in kept}
    kept += [Clip(dataset, len(dataset.clips) + n, path, None)
             for n, (key, path) in enumerate(wanted.items()) if key not in listed]
    dataset.clips = kept
    return dataset


def find_python_files(settings: Settings) -> list[Path]:
    """`.py` files named on the command line, and those under the folders named there.

    One `scandir` per folder and no `stat` (a warm run of the code rules stats each file
    once, in the fact cache): entries are classed as os.walk does (a link to a folder is
    listed, not entered), in sorted order, each folder's files before its sub-folders."""
    found: dict[Path, None] = {}
    for top in settings.paths:
        if top.is_file():
            if top.suffix in (".py", ".pyi"):
                found[top] = None
            continue
        _walk(top, settings, found)
    return list(found)


def _walk(top: Path, settings: Settings, found: dict[Path, None]) -> None:
    stack = [top]  # depth first, as os.walk: a folder's files, then each sub-folder in turn
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=_name)
        except OSError:
            continue  # unreadable or vanished: os.walk skips it too
        # Path / name parses the name again; the private fast path of pathlib's glob does not.
        child = getattr(folder, "_make_child_relpath", folder.joinpath)
        subdirs = []
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if name not in SKIP_DIRS and not entry.is_symlink():
                    path = child(name)
                    if not _excluded(path, settings):
                        subdirs.append(path)
            elif name.endswith(".py"):
                path = child(name)
                if not _excluded(path, settings):
                    found[path] = None
        stack.extend(reversed(subdirs))


def _name(entry: os.DirEntry) -> str:
    return entry.name


def _excluded(path: Path, settings: Settings) -> bool:
    if not settings.exclude:
        return False
    try:
        rel = path.relative_to(settings.root).as_posix()
    except ValueError:
        rel = path.as_posix()
    return any(fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(path.name, pattern) for pattern in settings.exclude)
