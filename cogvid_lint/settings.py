"""Resolved settings, with where each one came from.

Precedence, key by key: command line > config file (per-dataset entry, then top level) >
training launch scripts found in the repo > defaults. Every setting records its source so
the report can say, e.g., `model = cogvideox1.5-t2v (finetune/train.sh:14)`.
"""

from __future__ import annotations

import os
from glob import escape as glob_escape
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping

from cogvid_lint.config_files import DATASET_KEYS, DatasetEntry, FileConfig, RuleOverride, find_config, read_config
from cogvid_lint.discover.launch import LaunchSettings, find_launch_scripts, read_launch_script, resolve_data_root
from cogvid_lint.errors import ConfigError
from cogvid_lint.findings import Severity
from cogvid_lint.models import DEFAULT_MODEL, ModelSpec, Resolution, lookup_model, parse_resolution

DATASET_DEFAULTS: dict[str, Any] = {
    "layout": "auto",
    "caption_column": None,
    "video_column": None,
    "image_column": None,
    "model": DEFAULT_MODEL,
    "train_resolution": None,
    "purpose": "general",
    "id_token": None,
}


@dataclass(frozen=True)
class CliOptions:
    """Settings given on the command line (None = not given)."""

    paths: tuple[str, ...] = (".",)
    config: str | None = None
    data_roots: tuple[str, ...] = ()
    dataset: Mapping[str, Any] = field(default_factory=dict)  # DATASET_KEYS given on the CLI
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    fail_on: Severity | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # jobs, cache_dir, ... when given


@dataclass(frozen=True)
class DatasetSettings:
    data_root: Path
    layout: str
    caption_column: str | None
    video_column: str | None
    image_column: str | None
    model: str
    train_resolution: Resolution | None
    purpose: str
    id_token: str | None
    sources: Mapping[str, str]

    # cached: the settings are frozen, and every video rule asks once per clip
    @cached_property
    def model_spec(self) -> ModelSpec | None:
        return lookup_model(self.model)

    @cached_property
    def resolution(self) -> Resolution | None:
        """The resolution the trainer will use: configured, else the model's default."""
        if self.train_resolution is not None:
            return self.train_resolution
        spec = self.model_spec
        return spec.default_resolution if spec else None


@dataclass(frozen=True)
class Settings:
    root: Path
    config_file: Path | None
    resolve_datasets: Callable[[], tuple[DatasetSettings, ...]] = field(repr=False, compare=False)
    select: tuple[str, ...] | None
    ignore: tuple[str, ...]
    extend_select: tuple[str, ...]
    per_path_ignores: tuple[tuple[str, tuple[str, ...]], ...]
    rule_overrides: Mapping[str, RuleOverride]
    rules_dir: Path | None
    exclude: tuple[str, ...]
    fail_on: Severity
    paths: tuple[Path, ...]
    options: Mapping[str, Any]  # jobs, probe_timeout, cache_dir, no_cache, fix_speed, fix_crf
    sources: Mapping[str, str]

    @cached_property
    def datasets(self) -> tuple[DatasetSettings, ...]:
        """Resolved on first use (ConfigError if a dataset's settings are invalid): finding
        launch scripts and dataset folders walks the tree, which the code rules never need."""
        return self.resolve_datasets()

    def option(self, key: str, default: Any = None) -> Any:
        value = self.options.get(key)
        return default if value is None else value


def resolve_settings(cli: CliOptions, cwd: Path | None = None) -> Settings:
    cwd = (cwd or Path.cwd()).resolve()
    paths = tuple(_abs(p, cwd) for p in cli.paths) or (cwd,)
    config_file = _abs(cli.config, cwd) if cli.config else find_config(paths[0])
    if cli.config and not config_file.is_file():
        raise ConfigError([f"{config_file}: config file not found"])
    config = read_config(config_file) if config_file else FileConfig()
    config_dir = config_file.parent if config_file else None
    root = config_dir or _git_root(paths[0]) or (paths[0] if paths[0].is_dir() else paths[0].parent)

    errors: list[str] = []
    if config.rules_dir and config_dir and not (config_dir / config.rules_dir).is_dir():
        errors.append(f"{config_file}: key 'rules-dir': {config.rules_dir} is not a directory")

    def resolve_datasets() -> tuple[DatasetSettings, ...]:
        problems: list[str] = []
        launch = _launch_settings([p for p in paths if p.is_dir()], root)
        datasets = _dataset_settings(cli, config, config_file, cwd, root, paths, launch, problems)
        if problems:
            raise ConfigError(problems)
        return tuple(datasets)

    # the resolutions written in the config or on the command line are checked now, even
    # in a run that never resolves its datasets (the code hook): a broken config is reported
    entries = config.data_root if isinstance(config.data_root, list) else [config.data_root]
    for where, value in [("command line", cli.dataset.get("train_resolution")),
                         (str(config_file), config.train_resolution),
                         *((str(config_file), getattr(e, "train_resolution", None)) for e in entries)]:
        try:
            value is None or parse_resolution(value)
        except ValueError as exc:
            errors.append(f"{where}: key 'train-resolution': {exc}")
    if errors:  # report the datasets' problems too, all at once
        try:
            resolve_datasets()
        except ConfigError as exc:
            errors += exc.lines
        raise ConfigError(list(dict.fromkeys(errors)))

    sources = {}
    where = str(config_file) if config_file else "default"
    options = {}
    for key in ("jobs", "probe_timeout", "cache_dir", "no_cache", "fix_speed", "fix_crf"):
        if cli.extra.get(key) is not None:
            options[key], sources[key] = cli.extra[key], "command line"
        elif getattr(config, key, None) is not None:  # no_cache: command line only
            options[key], sources[key] = getattr(config, key), where
    if options.get("cache_dir") and config_dir and "cache_dir" not in cli.extra:
        options["cache_dir"] = str(config_dir / options["cache_dir"])
    return Settings(
        root=root,
        config_file=config_file,
        resolve_datasets=resolve_datasets,
        select=cli.select if cli.select is not None else (tuple(config.select) if config.select is not None else None),
        ignore=tuple(cli.ignore) + tuple(config.ignore or ()),
        extend_select=tuple(cli.extend_select) + tuple(config.extend_select or ()),
        per_path_ignores=tuple(
            # The folder is literal text in the pattern: escape its `[`, `*`, `?`.
            (glob_escape(str(config_dir or root)) + "/" + pattern, tuple(codes))
            for pattern, codes in (config.per_path_ignores or {}).items()
        ),
        rule_overrides=dict(config.rules),
        rules_dir=(config_dir / config.rules_dir) if (config.rules_dir and config_dir) else None,
        exclude=tuple(config.exclude or ()),
        fail_on=cli.fail_on or config.fail_on or Severity.WARNING,
        paths=paths,
        options=options,
        sources=sources,
    )


def _dataset_settings(cli, config, config_file, cwd, root, paths, launch, errors) -> list[DatasetSettings]:
    """One DatasetSettings per data root, each key from the highest-precedence source."""
    where = str(config_file) if config_file else ""
    roots: list[tuple[Path, str, Mapping[str, Any]]] = []  # (root, source, per-dataset config)
    if cli.data_roots:
        roots = [(_abs(r, cwd), "command line", {}) for r in cli.data_roots]
    elif config.data_root is not None:
        entries = config.data_root if isinstance(config.data_root, list) else [config.data_root]
        for entry in entries:
            if isinstance(entry, DatasetEntry):
                per = entry.dataset_values()
                roots.append((_abs(entry.path, config_file.parent), where, per))
            else:
                roots.append((_abs(entry, config_file.parent), where, {}))
    elif launch:
        roots = [(path, ls.source("data_root"), {}) for path, ls in launch.items()]
    else:
        roots = [(path, "found under " + str(path.parent), {}) for path in _find_dataset_dirs(paths)]

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
                values[key], sources[key] = cli.dataset[key], "command line"
            elif per.get(key) is not None:
                values[key], sources[key] = per[key], where
            elif getattr(config, key) is not None:
                values[key], sources[key] = getattr(config, key), where
            elif script is not None and key in script.values:
                values[key], sources[key] = script.values[key], script.source(key)
            else:
                values[key], sources[key] = DATASET_DEFAULTS[key], "default"
        resolution = None
        if values["train_resolution"] is not None:
            try:
                resolution = parse_resolution(values["train_resolution"])
            except ValueError as exc:
                errors.append(f"{sources['train_resolution']}: key 'train-resolution': {exc}")
                continue
        values.pop("train_resolution")
        result.append(DatasetSettings(data_root=data_root, train_resolution=resolution, sources=sources, **values))
    return result


def _launch_settings(tops: list[Path], root: Path) -> dict[Path, LaunchSettings]:
    """Launch scripts under the PATHs being linted (not the whole repo: a user who lints
    one folder gets that folder's datasets)."""
    found: dict[Path, LaunchSettings] = {}
    for top in tops:
        for script in find_launch_scripts(top):
            for settings in read_launch_script(script):
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


def _git_root(path: Path) -> Path | None:
    start = path if path.is_dir() else path.parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _abs(path: str, base: Path) -> Path:
    return Path(os.path.normpath(base / Path(path).expanduser()))
