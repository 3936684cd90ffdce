"""Find and read configuration files: `cogvid-lint.yaml`, `.cogvid-lint.yaml`, pyproject.toml.

The schema is pydantic (`FileConfig`); every problem is collected and reported as one line
naming the file and the key, with a did-you-mean for unknown keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Union

from cogvid_lint.bounded import short
from cogvid_lint.errors import STRICT, ConfigError, format_validation_error, type_adapter
from cogvid_lint.findings import Severity

CONFIG_NAMES = ("cogvid-lint.yaml", ".cogvid-lint.yaml", "cogvid-lint.yml", ".cogvid-lint.yml")


def _kebab(name: str) -> str:
    return name.replace("_", "-")


# Plain frozen dataclasses that pydantic validates (kebab-case keys, unknown keys refused)
# when a file is read; a validated config is remembered (cogvid_lint.remembered) so that
# runs on an unchanged config import neither pydantic nor PyYAML.
_STRICT_KEBAB = {**STRICT, "alias_generator": _kebab, "populate_by_name": True}

Layout = Literal["auto", "cogvideo", "sat", "finetrainers"]
Purpose = Literal["style", "concept", "general"]


@dataclass(frozen=True, kw_only=True)
class DatasetKeys:
    """Keys that may be set for all datasets or per dataset."""

    __pydantic_config__ = _STRICT_KEBAB
    layout: Layout | None = None
    caption_column: str | None = None
    video_column: str | None = None
    image_column: str | None = None
    model: str | None = None
    train_resolution: str | None = None
    purpose: Purpose | None = None
    id_token: str | None = None
    trainer: str | None = None  # a trainer profile's name (cogvid_lint.trainers); default: detected


DATASET_KEYS = tuple(f.name for f in fields(DatasetKeys))


@dataclass(frozen=True, kw_only=True)
class DatasetEntry(DatasetKeys):
    path: str

    def dataset_values(self) -> dict[str, Any]:
        """The per-dataset keys this entry sets."""
        return {key: getattr(self, key) for key in DATASET_KEYS if getattr(self, key) is not None}


@dataclass(frozen=True, kw_only=True)
class RuleOverride:
    __pydantic_config__ = _STRICT_KEBAB
    severity: Severity | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _at_least(value: float | None, low: float, key: str, inclusive: bool = True) -> None:
    if value is not None and (value < low or (value == low and not inclusive)):
        raise ValueError(f"key {key!r}: must be {'>=' if inclusive else '>'} {low}, got {short(value)}")


@dataclass(frozen=True, kw_only=True)
class FileConfig(DatasetKeys):
    data_root: Union[str, list[Union[str, DatasetEntry]], None] = None
    select: list[str] | None = None
    ignore: list[str] | None = None
    extend_select: list[str] | None = None
    per_path_ignores: dict[str, list[str]] | None = None
    rules: dict[str, RuleOverride] = field(default_factory=dict)
    rules_dir: str | None = None
    exclude: list[str] | None = None
    fail_on: Severity | None = None
    jobs: int | None = None
    probe_timeout: float | None = None
    cache_dir: str | None = None
    fix_speed: bool | None = None
    fix_crf: int | None = None
    remote_endpoint: str | None = None
    remote_profile: str | None = None
    remote_anon: bool | None = None
    remote_fetch_limit_mib: int | None = None
    engine: Literal["local", "ray"] | None = None
    ray_address: str | None = None
    ray_retries: int | None = None

    def __post_init__(self) -> None:
        _at_least(self.remote_fetch_limit_mib, 1, "remote-fetch-limit-mib")
        _at_least(self.ray_retries, 0, "ray-retries")
        _at_least(self.jobs, 0, "jobs")
        _at_least(self.probe_timeout, 0, "probe-timeout", inclusive=False)
        _at_least(self.fix_crf, 0, "fix-crf")
        if self.fix_crf is not None and self.fix_crf > 51:
            raise ValueError(f"key 'fix-crf': must be <= 51, got {short(self.fix_crf)}")


def _all_keys() -> list[str]:
    keys = set()
    for model in (FileConfig, DatasetEntry, RuleOverride):
        keys.update(_kebab(f.name) for f in fields(model))
    return sorted(keys)


def find_config(start: Path) -> Path | None:
    """The nearest config file at or above `start`: a cogvid-lint.yaml, or a pyproject.toml
    that has a [tool.cogvid-lint] table."""
    start = start.resolve()
    for folder in (start, *start.parents) if start.is_dir() else start.parents:
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            from cogvid_lint.bounded import BadDocument, load_toml, read_text, warn

            text = ""
            try:
                text = read_text(pyproject)
                if "cogvid-lint" in _table(load_toml(text), "tool"):
                    return pyproject
            except BadDocument as exc:
                if "tool.cogvid-lint" in text:  # ours but broken: report it rather than ignore it
                    return pyproject
                warn(f"{pyproject}: ignored: {exc}")  # a file of other tools': not ours to fail on
    return None


def _table(data: Any, key: str) -> dict:
    value = data.get(key, {}) if isinstance(data, dict) else {}
    return value if isinstance(value, dict) else {}


def read_config(path: Path) -> FileConfig:
    """Load and validate one config file; ConfigError with one line per problem."""
    from cogvid_lint.remembered import remembered

    return remembered("config", [__file__, path], lambda: _validate_config(path))


def _validate_config(path: Path) -> FileConfig:
    # bounded: size, nesting and alias expansion (a hostile config must not hang the run)
    from cogvid_lint.bounded import BadDocument, load_toml, load_yaml, read_text

    try:
        text = read_text(path)
    except BadDocument as exc:
        raise ConfigError([f"{path}: cannot read config: {exc}"]) from None
    if path.suffix == ".toml":
        try:
            data: Any = load_toml(text)
        except BadDocument as exc:
            raise ConfigError([f"{path}: invalid TOML: {exc}"]) from None
        if path.name == "pyproject.toml":
            data = _table(_table(data, "tool"), "cogvid-lint")
    else:
        try:
            data = load_yaml(text)
        except BadDocument as exc:
            raise ConfigError([f"{path}: invalid YAML: {exc}"]) from None
        data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the configuration must be a mapping of keys, not {type(data).__name__}"])
    from pydantic import ValidationError

    try:
        return type_adapter(FileConfig).validate_python(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, prefix=str(path), known=_all_keys())) from None
