"""Resolved settings, with where each one came from.

Precedence, key by key: command line > config file (per-dataset entry, then top level) >
training launch scripts found in the repo > defaults. Every setting records its source so
the report can say, e.g., `model = cogvideox1.5-t2v (finetune/train.sh:14)`.
"""

from __future__ import annotations

import os
from glob import escape as glob_escape
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

from cogvid_lint import defaults
from cogvid_lint.config_files import DATASET_KEYS, DatasetEntry, FileConfig, RuleOverride, find_config, read_config
from cogvid_lint.errors import ConfigError
from cogvid_lint.findings import Severity
from cogvid_lint.remote.urls import is_url, to_path
from cogvid_lint.models import DEFAULT_MODEL, ModelSpec, Resolution, known_model_names, lookup_model, parse_resolution

DATASET_DEFAULTS: dict[str, Any] = {
    "layout": "auto",
    "caption_column": None,
    "video_column": None,
    "image_column": None,
    "model": DEFAULT_MODEL,
    "train_resolution": None,
    "purpose": "general",
    "id_token": None,
    "trainer": None,  # detected from the launch scripts, else trainers.DEFAULT
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


class Source(NamedTuple):
    """Where a setting came from: a file (and its line, when known), or `what` alone
    ("command line", "default", "found under data")."""

    what: str
    file: Path | None = None
    line: int | None = None

    @classmethod
    def in_file(cls, file: Path, line: int | None = None) -> Source:
        return cls("file", Path(file), line)

    def shown(self, relpath: Callable[[Path], str] = str) -> str:
        """`file:line`, `file`, or what it is; `relpath` shortens the file's path."""
        if self.file is None:
            return self.what
        return f"{relpath(self.file)}:{self.line}" if self.line else relpath(self.file)

    def __str__(self) -> str:
        return self.shown()


DEFAULT = Source("default")
COMMAND_LINE = Source("command line")


@dataclass(frozen=True)
class Options:
    """How a run works, not what it checks: CLI > config file > these defaults."""

    jobs: int = 0  # probe workers; 0: every available CPU
    probe_timeout: float = defaults.PROBE_TIMEOUT_S
    cache_dir: str | None = None  # cogvid-lint's store; None: .cogvid_lint_cache/ at the project root
    no_cache: bool = False  # command line only
    fix_speed: bool = False
    fix_crf: int = defaults.CRF
    # Data roots in object storage (s3://, gs://, az://): where the store is and how to sign
    # in are the filesystem's (its environment variables and files); only these may be set.
    remote_endpoint: str | None = None  # e.g. a MinIO or other S3-compatible server
    remote_profile: str | None = None  # a named profile of the filesystem's credentials file
    remote_anon: bool = False  # public buckets: no credentials at all
    remote_fetch_limit_mib: int = defaults.REMOTE_FETCH_LIMIT_MIB
    # where the probe and content stages run: `local` (this machine's worker pool) or `ray`
    engine: str = "local"
    ray_address: str | None = None  # None: RAY_ADDRESS, else a local Ray instance
    ray_retries: int = defaults.RAY_RETRIES

    def remote_spec(self):
        """The picklable RemoteSpec the discovery and the probe workers reach the stores with."""
        from cogvid_lint.remote.access import RemoteSpec

        return RemoteSpec(endpoint=self.remote_endpoint, profile=self.remote_profile, anon=self.remote_anon,
                          fetch_limit=self.remote_fetch_limit_mib << 20, timeout=self.probe_timeout)


OPTION_KEYS = tuple(f.name for f in fields(Options))


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
    sources: Mapping[str, Source]
    trainer: str | None = None  # the profile's name (cogvid_lint.trainers); resolved by discovery
    trainer_options: Mapping[str, Any] = field(default_factory=dict)  # read from the launch command
    # Clips given as PATHs: only they are linted (by the video rules), not the whole dataset
    clips_only: tuple[Path, ...] = ()

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
    select: tuple[str, ...] | None
    ignore: tuple[str, ...]
    extend_select: tuple[str, ...]
    per_path_ignores: tuple[tuple[str, tuple[str, ...]], ...]
    rule_overrides: Mapping[str, RuleOverride]
    rules_dir: Path | None
    exclude: tuple[str, ...]
    fail_on: Severity
    paths: tuple[Path, ...]
    options: Options
    sources: Mapping[str, Source]  # option key -> where it came from
    # What the datasets are resolved from (cogvid_lint.discover.datasets): the command line's
    # dataset keys and data roots, the config file's, and the folder relative paths start at.
    cli: CliOptions = field(default_factory=CliOptions, repr=False)
    config: FileConfig = field(default_factory=FileConfig, repr=False)
    cwd: Path = field(default_factory=Path.cwd, repr=False)

    @cached_property
    def display_root(self) -> Path:
        """The folder paths are shown relative to: the working folder, or the project root
        when a PATH lies outside the working folder (`cd finetune && cogvid-lint ..`)."""
        if all(_within(path, self.cwd) for path in self.paths):
            return self.cwd
        return self.root


def resolve_settings(cli: CliOptions, cwd: Path | None = None) -> Settings:
    cwd = (cwd or Path.cwd()).resolve()
    paths = tuple(absolute(p, cwd) for p in cli.paths) or (cwd,)
    config_file = absolute(cli.config, cwd) if cli.config else find_config(paths[0])
    if cli.config and not config_file.is_file():
        raise ConfigError([f"{config_file}: config file not found"])
    config = read_config(config_file) if config_file else FileConfig()
    config_dir = config_file.parent if config_file else None
    root = config_dir or _git_root(paths[0]) or (paths[0] if paths[0].is_dir() else paths[0].parent)

    errors: list[str] = []
    if config.rules_dir and config_dir and not (config_dir / config.rules_dir).is_dir():
        errors.append(f"{config_file}: key 'rules-dir': {config.rules_dir} is not a directory")

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
    # a model name written in the config: a typo would disable the rules that need the model
    # (frames, speed) behind one CVL204 finding; it is the config's error, as a typo in --model is
    for entry in entries if config.data_root is not None else ():
        if isinstance(entry, DatasetEntry) and entry.model is not None and lookup_model(entry.model) is None:
            errors.append(f"{config_file}: key 'data-root' entry {entry.path!r}: key 'model': {_unknown_model(entry.model)}")
    if config.model is not None and lookup_model(config.model) is None:
        errors.append(f"{config_file}: key 'model': {_unknown_model(config.model)}")
    if errors:
        raise ConfigError(list(dict.fromkeys(errors)))

    sources: dict[str, Source] = {}
    where = Source.in_file(config_file) if config_file else DEFAULT
    options = {}
    for key in OPTION_KEYS:
        if cli.extra.get(key) is not None:
            options[key], sources[key] = cli.extra[key], COMMAND_LINE
        elif getattr(config, key, None) is not None:  # no_cache: command line only
            options[key], sources[key] = getattr(config, key), where
    if options.get("cache_dir") and config_dir and "cache_dir" not in cli.extra:
        options["cache_dir"] = str(config_dir / options["cache_dir"])
    return Settings(
        root=root,
        config_file=config_file,
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
        options=Options(**options),
        sources=sources,
        cli=cli,
        config=config,
        cwd=cwd,
    )


def _unknown_model(name: str) -> str:
    import difflib

    known = known_model_names()
    close = difflib.get_close_matches(name.strip().lower(), known, n=1)
    return f"unknown model {name!r}" + (f" (did you mean {close[0]}?)" if close else "") + f"; known: {', '.join(known)}"


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _git_root(path: Path) -> Path | None:
    start = path if path.is_dir() else path.parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def absolute(path: str, base: Path) -> Path:
    """`path` made absolute against `base`; a URL (s3://, gs://, file://) is the path that
    stands for it (remote.urls), a URL of an unknown scheme a ValueError."""
    if is_url(path):
        return to_path(path)
    return Path(os.path.normpath(base / Path(path).expanduser()))
