"""The rule catalogue: `rules/*.yaml` (and a user's `rules-dir`), validated with pydantic.

Every problem in every file is collected and reported at once, one line each naming the
file and the key, so a user fixes a broken rules folder in one pass.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cogvid_lint.errors import ConfigError, format_validation_error
from cogvid_lint.findings import Severity

Target = Literal["dataset", "video", "training", "cache", "python"]
ParamType = Literal["int", "float", "bool", "str", "list"]

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "list": (list,),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParamSpec(_Strict):
    type: ParamType
    default: Any = None
    description: str = ""

    @model_validator(mode="after")
    def _default_has_type(self) -> "ParamSpec":
        if self.default is not None and not is_param_type(self.default, self.type):
            raise ValueError(f"default {self.default!r} is not of type {self.type}")
        return self


class Docs(_Strict):
    what: str = Field(min_length=1)
    why: str = Field(min_length=1)
    example: str = Field(min_length=1)
    fix: str = Field(min_length=1)


class Condition(_Strict):
    """One comparison of a user rule: `field op value` (or `field op params[param]`)."""

    field: str
    op: Literal["<", "<=", ">", ">=", "==", "!=", "in", "not-in", "matches"]
    value: Any = None
    param: str | None = None

    @model_validator(mode="after")
    def _one_operand(self) -> "Condition":
        if (self.value is None) == (self.param is None):
            raise ValueError("give exactly one of 'value' and 'param'")
        return self


class RuleSpec(_Strict):
    code: str = Field(pattern=r"^[A-Z]{2,8}[0-9]{3,4}$")
    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    target: Target
    severity: Severity
    check: str | None = None
    when: tuple[Condition, ...] = ()
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    message: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    hint: str = ""
    fix: Literal["none", "safe", "unsafe"] = "none"
    docs: Docs
    source: str = ""  # the file it came from; set by the loader

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict[str, ParamSpec]) -> dict[str, ParamSpec]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"parameter name {name!r} must be snake_case")
        return value

    @model_validator(mode="after")
    def _check_or_conditions(self) -> "RuleSpec":
        if (self.check is None) == (not self.when):
            raise ValueError("a rule needs exactly one of 'check' (a registered key) or 'when' (conditions)")
        for cond in self.when:
            if cond.param is not None and cond.param not in self.params:
                raise ValueError(f"condition on {cond.field!r} names unknown parameter {cond.param!r}")
        return self

    def default_params(self) -> dict[str, Any]:
        return {name: spec.default for name, spec in self.params.items()}


def is_param_type(value: Any, type_name: str) -> bool:
    if type_name in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, _PY_TYPES[type_name])


# libyaml's loader when PyYAML was built with it: the same documents, 12x faster (every run
# reads the whole catalogue, the pre-commit code hook included).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BUILTIN_RULES_DIR = Path(__file__).resolve().parent / "rules"


def builtin_rules_dir() -> Path:
    """The catalogue shipped with the package (wheel), or the repo's `rules/` (editable)."""
    if BUILTIN_RULES_DIR.is_dir():
        return BUILTIN_RULES_DIR
    return Path(__file__).resolve().parent.parent / "rules"


def load_rules(directory: Path, *, user: bool = False) -> list[RuleSpec]:
    """Load and validate every `*.yaml` in `directory`; raise one ConfigError listing all problems."""
    rules, errors = read_rules(directory, user=user)
    if errors:
        raise ConfigError(errors)
    return rules


def read_rules(directory: Path, *, user: bool = False) -> tuple[list[RuleSpec], list[str]]:
    """The valid rules of `directory` and one line per problem in the others."""
    errors: list[str] = []
    rules: list[RuleSpec] = []
    if not directory.is_dir():
        return [], [f"{directory}: rules directory not found"]
    for path in sorted(directory.glob("*.y*ml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            errors.append(f"{path}: cannot read rule: {_one_line(exc)}")
            continue
        if not isinstance(data, dict):
            errors.append(f"{path}: a rule file must hold a mapping")
            continue
        try:
            rule = RuleSpec.model_validate({**data, "source": str(path)})
        except ValidationError as exc:
            errors.extend(format_validation_error(exc, prefix=f"{path}: rule {data.get('code', '?')}"))
            continue
        expected = f"{rule.code}-{rule.name}"
        if path.stem != expected and not user:
            errors.append(f"{path}: rule {rule.code}: file must be named {expected}.yaml")
        rules.append(rule)
    seen: dict[str, str] = {}
    for rule in rules:
        for ident in (rule.code, rule.name):
            if ident in seen:
                errors.append(f"{rule.source}: rule {rule.code}: {ident!r} already defined in {seen[ident]}")
            seen[ident] = rule.source
    return rules, errors


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
