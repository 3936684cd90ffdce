"""Find and read configuration files: `cogvid-lint.yaml`, `.cogvid-lint.yaml`, pyproject.toml.

The schema is pydantic (`FileConfig`); every problem is collected and reported as one line
naming the file and the key, with a did-you-mean for unknown keys.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cogvid_lint.errors import ConfigError, format_validation_error
from cogvid_lint.findings import Severity

CONFIG_NAMES = ("cogvid-lint.yaml", ".cogvid-lint.yaml", "cogvid-lint.yml", ".cogvid-lint.yml")


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=_kebab, populate_by_name=True, frozen=True)


Layout = Literal["auto", "cogvideo", "sat"]
Purpose = Literal["style", "concept", "general"]


class DatasetKeys(_Model):
    """Keys that may be set for all datasets or per dataset."""

    layout: Layout | None = None
    caption_column: str | None = None
    video_column: str | None = None
    image_column: str | None = None
    model: str | None = None
    train_resolution: str | None = None
    purpose: Purpose | None = None
    id_token: str | None = None


DATASET_KEYS = tuple(DatasetKeys.model_fields)


class DatasetEntry(DatasetKeys):
    path: str


class RuleOverride(_Model):
    severity: Severity | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class FileConfig(DatasetKeys):
    data_root: Union[str, list[Union[str, DatasetEntry]], None] = None
    select: list[str] | None = None
    ignore: list[str] | None = None
    extend_select: list[str] | None = None
    per_path_ignores: dict[str, list[str]] | None = None
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    rules_dir: str | None = None
    exclude: list[str] | None = None
    fail_on: Severity | None = None
    jobs: int | None = Field(default=None, ge=0)
    probe_timeout: float | None = Field(default=None, gt=0)
    cache_dir: str | None = None
    fix_speed: bool | None = None
    fix_crf: int | None = Field(default=None, ge=0, le=51)


def _all_keys() -> list[str]:
    keys = set()
    for model in (FileConfig, DatasetEntry, RuleOverride):
        keys.update(_kebab(name) for name in model.model_fields)
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
            try:
                text = pyproject.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            try:
                if "cogvid-lint" in tomllib.loads(text).get("tool", {}):
                    return pyproject
            except tomllib.TOMLDecodeError:
                if "tool.cogvid-lint" in text:  # ours but broken: report it rather than ignore it
                    return pyproject
    return None


def read_config(path: Path) -> FileConfig:
    """Load and validate one config file; ConfigError with one line per problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read config: {exc.__class__.__name__}: {exc}"]) from None
    if path.suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: invalid TOML: {exc}"]) from None
        if path.name == "pyproject.toml":
            data = data.get("tool", {}).get("cogvid-lint", {})
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError([f"{path}: invalid YAML: {' '.join(str(exc).split())}"]) from None
        data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the configuration must be a mapping of keys, not {type(data).__name__}"])
    try:
        return FileConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, prefix=str(path), known=_all_keys())) from None
