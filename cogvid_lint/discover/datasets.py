"""Each dataset's settings, key by key from the highest-precedence source: the command line,
the config file (per-dataset entry, then top level), the training launch scripts found under
the linted PATHs, the defaults. Part of discovery: finding launch scripts and dataset
folders walks the tree, which settings never do (and the code rules never need).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from cogvid_lint import trainers
from cogvid_lint.config_files import DATASET_KEYS, DatasetEntry
from cogvid_lint.discover.launch import LaunchSettings, find_launch_scripts, read_launch_script, resolve_data_root
from cogvid_lint.errors import ConfigError
from cogvid_lint.models import parse_resolution
from cogvid_lint.settings import COMMAND_LINE, DATASET_DEFAULTS, DEFAULT, DatasetSettings, Settings, Source, absolute


# The trainer's source when no launch script names one and none is configured.
NOT_DETECTED = Source("default: no launch script names a trainer")


def resolve_datasets(settings: Settings, warnings: list[str] | None = None) -> tuple[DatasetSettings, ...]:
    """One DatasetSettings per data root; ConfigError listing every invalid one. A file a
    launch script names that cannot be read (a broken dataset JSON or YAML config) is one
    line in `warnings`, and the rest still resolves."""
    problems: list[str] = []
    paths = settings.paths
    launch = _launch_settings([p for p in paths if p.is_dir()], settings.root,
                              warnings if warnings is not None else [])
    datasets = _dataset_settings(settings.cli, settings.config, settings.config_file, settings.cwd, settings.root,
                                 paths, launch, problems)
    if problems:
        raise ConfigError(problems)
    return tuple(datasets)


def _dataset_settings(cli, config, config_file, cwd, root, paths, launch, errors) -> list[DatasetSettings]:
    """One DatasetSettings per data root, each key from the highest-precedence source."""
    where = Source.in_file(config_file) if config_file else DEFAULT
    roots: list[tuple[Path, Source, Mapping[str, Any]]] = []  # (root, source, per-dataset config)
    if cli.data_roots:
        roots = [(absolute(r, cwd), COMMAND_LINE, {}) for r in cli.data_roots]
    elif config.data_root is not None:
        entries = config.data_root if isinstance(config.data_root, list) else [config.data_root]
        for entry in entries:
            if isinstance(entry, DatasetEntry):
                per = entry.dataset_values()
                roots.append((absolute(entry.path, config_file.parent), where, per))
            else:
                roots.append((absolute(entry, config_file.parent), where, {}))
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
                values[key], sources[key] = cli.dataset[key], COMMAND_LINE
            elif per.get(key) is not None:
                values[key], sources[key] = per[key], where
            elif getattr(config, key) is not None:
                values[key], sources[key] = getattr(config, key), where
            elif script is not None and key == "trainer":
                values[key], sources[key] = script.trainer, script.source("data_root")
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


