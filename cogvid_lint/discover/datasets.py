"""Each dataset's settings, key by key from the highest-precedence source: the command line,
the config file (per-dataset entry, then top level), the training launch scripts found under
the linted PATHs, the defaults. Part of discovery: finding launch scripts and dataset
folders walks the tree, which settings never do (and the code rules never need).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping

from cogvid_lint import trainers
from cogvid_lint.config_files import DATASET_KEYS, DatasetEntry
from cogvid_lint.discover.dataset import CAPTION_NAMES, IMAGE_NAMES, VIDEO_NAMES, VIDEO_SUFFIXES
from cogvid_lint.discover.launch import LaunchSettings, find_launch_scripts, read_launch_script, resolve_data_root
from cogvid_lint.errors import ConfigError
from cogvid_lint.models import parse_resolution
from cogvid_lint.remote import urls
from cogvid_lint.remote.urls import is_remote
from cogvid_lint.settings import COMMAND_LINE, DATASET_DEFAULTS, DEFAULT, DatasetSettings, Settings, Source, absolute


# The trainer's source when no launch script names one and none is configured.
NOT_DETECTED = Source("default: no launch script names a trainer")


def resolve_datasets(settings: Settings, warnings: list[str] | None = None) -> tuple[DatasetSettings, ...]:
    """One DatasetSettings per data root; ConfigError listing every invalid one.

    Folders given as PATHs are searched (config, launch scripts under them, folders holding a
    list); a file given as PATH is linted as what it is (resolve_file_datasets). A file a
    launch script names that cannot be read (a broken dataset JSON or YAML config) is one
    line in `warnings`, and the rest still resolves."""
    problems: list[str] = []
    warnings = warnings if warnings is not None else []
    paths = settings.paths
    folders = tuple(p for p in paths if p.is_dir())
    files = [p for p in paths if not p.is_dir()]
    datasets: list[DatasetSettings] = []
    if folders or settings.cli.data_roots or not files:
        launch = _launch_settings(list(folders), settings.root, warnings)
        datasets = _dataset_settings(settings.cli, settings.config, settings.config_file, settings.cwd,
                                     settings.root, folders, launch, problems)
    if files:
        whole = {ds.data_root for ds in datasets if not ds.clips_only}
        datasets += [ds for ds in resolve_file_datasets(settings, files, problems, warnings)
                     if ds.data_root not in whole]
    if problems:
        raise ConfigError(problems)
    return tuple(datasets)


LAUNCH_SUFFIXES = (".sh", ".bash")


def resolve_file_datasets(settings: Settings, files: list[Path], problems: list[str],
                          warnings: list[str]) -> list[DatasetSettings]:
    """The datasets that files given as PATHs stand for, each with the settings a lint of the
    whole project gives it (config entries, launch scripts under the project root): a list
    file, its dataset; a clip, that clip alone (`clips_only`); a launch script, the datasets
    it names; a Python file, none (the code rules read it)."""
    cli, config, root = settings.cli, settings.config, settings.root
    # Where the project's launch scripts and datasets are looked for: the project root, or the
    # working folder above it (no config, no git: the root is the file's own folder)
    if settings.cwd in root.parents and all(settings.cwd in f.parents for f in files):
        root = settings.cwd
    launch = _launch_settings([root], root, warnings)
    known = {ds.data_root: ds for ds in _dataset_settings(cli, config, settings.config_file, settings.cwd, root,
                                                          (root,), launch, problems)}
    where = Source.in_file(settings.config_file) if settings.config_file else DEFAULT

    def dataset_at(data_root: Path, **values: Any) -> DatasetSettings:
        if data_root in known:
            return known[data_root]
        made = _dataset_settings(_Given(cli, data_root, values), config, settings.config_file, settings.cwd, root,
                                 (), {}, problems)
        known[data_root] = made[0] if made else None
        return known[data_root]

    found: dict[Path, DatasetSettings] = {}
    clips: dict[Path, list[Path]] = {}
    for path in files:
        suffix = path.suffix.lower()
        if suffix in (".py", ".pyi"):
            continue
        if suffix in VIDEO_SUFFIXES:
            owner = max((r for r in known if r in path.parents), key=lambda r: len(r.parts), default=None)
            if is_remote(path):
                found_above, problem = _remote_list_folder_above(path, settings)
                if problem:
                    problems.append(problem)
                    continue
            else:
                found_above = _list_folder_above(path, root)
            data_root = owner or found_above or path.parent
            clips.setdefault(data_root, []).append(path)
            dataset_at(data_root)
        elif suffix == ".txt":
            data_root = path.parent.parent if path.parent.name == "labels" else path.parent  # SAT's labels/
            values = {}
            if path.name not in (*VIDEO_NAMES, *CAPTION_NAMES, *IMAGE_NAMES) and path.parent.name != "labels":
                values["video_column"] = path.name  # a list under another name: the videos
            ds = dataset_at(data_root, **values)
            if ds is not None:
                found[data_root] = ds
        elif suffix in LAUNCH_SUFFIXES:
            for named in read_launch_script(path):
                data_root = resolve_data_root(named, root)
                ds = known.get(data_root) or dataset_at(data_root)
                if ds is not None:
                    found[data_root] = ds
        else:
            problems.append(f"{_shown(path, settings.cwd)}: not a folder, list file (.txt), clip "
                            f"({', '.join(VIDEO_SUFFIXES)}), launch script (.sh) or Python file")
    for data_root, listed in clips.items():
        ds = known.get(data_root)
        if ds is not None and data_root not in found:  # its whole dataset is linted anyway
            found[data_root] = dataclasses.replace(ds, clips_only=tuple(listed))
    return list(found.values())


class _Given:
    """The command line's dataset settings, with one data root and default columns added:
    a dataset named by a file the project resolves no other way."""

    def __init__(self, cli: Any, data_root: Path, values: Mapping[str, Any]):
        self.data_roots = (str(data_root),)
        self.dataset = {**values, **cli.dataset}
        self.source = Source("given as PATH")
        self.sources = {key: self.source for key in values if key not in cli.dataset}


def _list_folder_above(clip: Path, root: Path) -> Path | None:
    """The nearest folder above a clip (up to the project root) that holds a video list."""
    for folder in clip.parents:
        if any((folder / name).is_file() for name in VIDEO_NAMES):
            return folder
        if folder == root or root not in folder.parents:
            return None
    return None


def _remote_list_folder_above(clip: Path, settings: Settings) -> tuple[Path | None, str | None]:
    """The nearest prefix above a clip in an object store that holds a video list: a few
    small requests (a clip given as PATH; a whole root is listed once). (None, why) when the
    clip is not there, as a missing local PATH is a usage error; (None, None) when no list is
    found or the store does not answer (the root's listing then says why)."""
    from cogvid_lint.remote.access import filesystem

    try:
        fs = filesystem(urls.scheme(clip), settings.options.remote_spec())
        if not fs.isfile(urls.key_of(clip)):
            return None, f"{urls.to_url(clip)}: no such object"
        for folder in clip.parents:
            if len(folder.parts) < 3:  # above the bucket (/, @s3, bucket)
                break
            if any(fs.isfile(urls.key_of(folder / name)) for name in VIDEO_NAMES):
                return folder, None
    except Exception:  # noqa: BLE001 - unreachable, denied, no such bucket: said by the root's listing
        pass
    return None, None


def _shown(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


def _dataset_settings(cli, config, config_file, cwd, root, paths, launch, errors) -> list[DatasetSettings]:
    """One DatasetSettings per data root, each key from the highest-precedence source."""
    where = Source.in_file(config_file) if config_file else DEFAULT
    roots: list[tuple[Path, Source, Mapping[str, Any]]] = []  # (root, source, per-dataset config)

    def place(text: str, base: Path, label: str) -> Path | None:
        try:
            return absolute(text, base)
        except ValueError as exc:  # a URL of a scheme we cannot read
            errors.append(f"{label}: key 'data-root': {exc}")
            return None

    if cli.data_roots:
        given = getattr(cli, "source", COMMAND_LINE)
        placed = [(place(r, cwd, "command line"), given, {}) for r in cli.data_roots]
        roots = [item for item in placed if item[0] is not None]
    elif config.data_root is not None:
        entries = config.data_root if isinstance(config.data_root, list) else [config.data_root]
        for entry in entries:
            text, per = (entry.path, entry.dataset_values()) if isinstance(entry, DatasetEntry) else (entry, {})
            path = place(text, config_file.parent, str(config_file))
            if path is not None:
                roots.append((path, where, per))
    elif launch:
        roots = [(path, ls.source("data_root"), {}) for path, ls in launch.items()]
    else:
        roots = [(path, Source(f"found under {path.parent}"), {}) for path in _find_dataset_dirs(paths)]

    result = []
    seen = set()
    for data_root, root_source, per in roots:
        if data_root in seen:
            continue
        seen.add(data_root)
        script = launch.get(data_root)
        values: dict[str, Any] = {}
        sources = {"data_root": root_source}
        for key in DATASET_KEYS:
            if cli.dataset.get(key) is not None:
                values[key], sources[key] = cli.dataset[key], getattr(cli, "sources", {}).get(key, COMMAND_LINE)
            elif per.get(key) is not None:
                values[key], sources[key] = per[key], where
            elif getattr(config, key) is not None:
                values[key], sources[key] = getattr(config, key), where
            elif script is not None and key == "trainer":
                values[key], sources[key] = script.trainer, script.source("trainer" if "trainer" in script.lines
                                                                           else "data_root")
            elif script is not None and key in script.values:
                values[key], sources[key] = script.values[key], script.source(key)
            else:
                values[key], sources[key] = DATASET_DEFAULTS[key], DEFAULT
        if values["trainer"] is None:
            values["trainer"], sources["trainer"] = trainers.DEFAULT, NOT_DETECTED
        profile = trainers.get(str(values["trainer"]))
        if profile is None:
            known = ", ".join(trainers.all_profiles())
            errors.append(f"{sources['trainer']}: key 'trainer': unknown trainer {values['trainer']!r} (known: {known})")
            continue
        values["trainer"] = profile.name
        trainer_options = dict(script.options) if script is not None and script.trainer == profile.name else {}
        resolution = None
        if values["train_resolution"] is not None:
            try:
                resolution = parse_resolution(values["train_resolution"])
            except ValueError as exc:
                errors.append(f"{sources['train_resolution']}: key 'train-resolution': {exc}")
                continue
        values.pop("train_resolution")
        result.append(DatasetSettings(data_root=data_root, train_resolution=resolution, sources=sources,
                                      trainer_options=trainer_options, **values))
    return result


def _launch_settings(tops: list[Path], root: Path, problems: list[str]) -> dict[Path, LaunchSettings]:
    """Launch scripts under the PATHs being linted (not the whole repo: a user who lints
    one folder gets that folder's datasets)."""
    found: dict[Path, LaunchSettings] = {}
    for top in tops:
        for script in find_launch_scripts(top):
            for settings in read_launch_script(script, problems):
                found.setdefault(resolve_data_root(settings, root), settings)
    return found


_MANIFEST_NAMES = ("videos.txt", "video.txt")


def _find_dataset_dirs(paths: tuple[Path, ...], max_depth: int = 3) -> list[Path]:
    """Folders under PATHs that look like a dataset: a video list, or SAT's videos/ + labels/."""
    found = []
    for top in paths:
        if not top.is_dir():
            continue
        for folder, dirs, files in os.walk(top):
            here = Path(folder)
            depth = len(here.relative_to(top).parts)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("node_modules", "__pycache__")
                             and depth < max_depth)
            if any(name in files for name in _MANIFEST_NAMES) or {"videos", "labels"} <= set(dirs):
                found.append(here)
                dirs[:] = []
    return found


