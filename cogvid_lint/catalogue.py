"""The rule catalogue: `rules/*.yaml` (and a user's `rules-dir`), validated with pydantic once.

Every problem in every file is collected and reported at once, one line each naming the
file and the key, so a user fixes a broken rules folder in one pass.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Literal

from cogvid_lint.bounded import short
from cogvid_lint.errors import STRICT, ConfigError, format_validation_error, type_adapter
from cogvid_lint.findings import Severity

Target = Literal["dataset", "video", "training", "cache", "python", "content"]
ParamType = Literal["int", "float", "bool", "str", "list"]

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "list": (list,),
}

# Plain frozen dataclasses: pydantic validates them (types, Literals, unknown keys) when a
# rule file is read, and `__post_init__` adds the checks types cannot say. A remembered
# catalogue (cogvid_lint.remembered) is unpickled without importing pydantic at all.


def _require(ok: bool, key: str, problem: str) -> None:
    if not ok:
        raise ValueError(f"key {key!r}: {problem}")


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    __pydantic_config__ = STRICT
    type: ParamType
    default: Any = None
    description: str = ""

    def __post_init__(self) -> None:
        _require(self.default is None or is_param_type(self.default, self.type), "default",
                 f"{short(self.default)} is not of type {self.type}")


@dataclass(frozen=True, kw_only=True)
class Docs:
    __pydantic_config__ = STRICT
    what: str
    why: str
    example: str
    fix: str

    def __post_init__(self) -> None:
        for key in ("what", "why", "example", "fix"):
            _require(bool(getattr(self, key)), key, "must not be empty")


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One comparison of a user rule: `field op value` (or `field op params[param]`)."""

    __pydantic_config__ = STRICT
    field: str
    op: Literal["<", "<=", ">", ">=", "==", "!=", "in", "not-in", "matches"]
    value: Any = None
    param: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.param is None):
            raise ValueError("give exactly one of 'value' and 'param'")


@dataclass(frozen=True, kw_only=True)
class RuleSpec:
    __pydantic_config__ = STRICT
    code: str
    name: str
    target: Target
    severity: Severity
    check: str | None = None
    when: tuple[Condition, ...] = ()
    params: dict[str, ParamSpec] = field(default_factory=dict)
    message: str
    summary: str
    hint: str = ""
    fix: Literal["none", "safe", "unsafe"] = "none"
    # Off unless a selector names it (its code, a prefix with its family digit such as CVL5,
    # or its name): `ALL` and a bare `CVL` do not. For rules that cost a decode per clip.
    opt_in: bool = False
    docs: Docs
    source: str = ""  # the file it came from; set by the loader

    def __post_init__(self) -> None:
        _require(re.fullmatch(r"[A-Z]{2,8}[0-9]{3,4}", self.code) is not None, "code",
                 f"{short(self.code)} must be 2-8 capital letters and 3-4 digits, like CVL105")
        _require(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", self.name) is not None, "name",
                 f"{short(self.name)} must be kebab-case, like aspect-mismatch")
        _require(bool(self.message), "message", "must not be empty")
        _require(bool(self.summary), "summary", "must not be empty")
        for key in ("message", "hint"):
            try:
                placeholders(getattr(self, key))
            except ValueError as exc:
                raise ValueError(f"key {key!r}: not a valid format string ({exc}); "
                                 "write {{ and }} for a literal brace") from None
        for name in self.params:
            _require(re.fullmatch(r"[a-z][a-z0-9_]*", name) is not None, "params", f"parameter name {name!r} must be snake_case")
        if (self.check is None) == (not self.when):
            raise ValueError("a rule needs exactly one of 'check' (a registered key) or 'when' (conditions)")
        for cond in self.when:
            _require(cond.param is None or cond.param in self.params, "when",
                     f"condition on {cond.field!r} names unknown parameter {cond.param!r}")

    def default_params(self) -> dict[str, Any]:
        return {name: spec.default for name, spec in self.params.items()}


def placeholders(template: str) -> list[str]:
    """The names a message or hint asks for, in order: `{entry!r}` and `{entry.name}` ask for
    entry, `{}` for "", `{x:>{width}}` for x and width. ValueError when `template` is not a
    valid format string."""
    names = []
    for _, field_name, spec, conversion in string.Formatter().parse(template):
        if conversion not in (None, "r", "s", "a"):  # str.format would refuse the whole message
            raise ValueError(f"unknown conversion !{conversion}")
        if field_name is not None:
            names.append(re.match(r"[^.\[]*", field_name).group())
            names += placeholders(spec or "")
    return names


def unfilled_placeholders(rule: RuleSpec, filled: Collection[str]) -> list[str]:
    """One line per name in the rule's message or hint that neither its check (or its
    conditions), which fills `filled`, nor its parameters fill: the user would read `{name}`.
    (The catalogue imports no check: the engine, which attaches them, passes `filled`.)"""
    filler = f"check {rule.check!r} (it fills" if rule.check is not None else "its conditions (they fill"
    known = set(filled) | set(rule.params)
    lines = []
    for key in ("message", "hint"):
        for name in dict.fromkeys(placeholders(getattr(rule, key))):
            if name not in known:
                lines.append(f"{rule.source}: rule {rule.code}: key {key!r}: placeholder {{{name}}} is not filled "
                             f"by {filler}: {', '.join(sorted(filled)) or 'nothing'}; "
                             f"parameters: {', '.join(rule.params) or 'none'})")
    return lines


def is_param_type(value: Any, type_name: str) -> bool:
    if type_name in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, _PY_TYPES[type_name])


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
    """The valid rules of `directory` and one line per problem in the others; remembered
    (cogvid_lint.remembered) while no rule file, nor this schema, changes."""
    from cogvid_lint.remembered import remembered

    files = _rule_files(directory)
    if files is None:
        return [], [f"{directory}: rules directory not found"]
    # the folder itself: its mtime changes when a rule file is added, removed or renamed
    sources = [__file__, directory, *files]
    return remembered("user-rules" if user else "rules", sources, lambda: _validate_rules(files, user))


def _rule_files(directory: Path) -> list[Path] | None:
    try:
        with os.scandir(directory) as entries:
            names = [e.name for e in entries if e.name.endswith((".yaml", ".yml"))]
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [directory / name for name in sorted(names)]


def _validate_rules(files: list[Path], user: bool) -> tuple[list[RuleSpec], list[str]]:
    from pydantic import ValidationError

    from cogvid_lint.bounded import BadDocument, load_yaml, read_text

    errors: list[str] = []
    rules: list[RuleSpec] = []
    for path in files:
        try:
            data = load_yaml(read_text(path))  # bounded: size, nesting, alias expansion
        except BadDocument as exc:
            errors.append(f"{path}: cannot read rule: {_one_line(exc)}")
            continue
        if not isinstance(data, dict):
            errors.append(f"{path}: a rule file must hold a mapping")
            continue
        try:
            rule = type_adapter(RuleSpec).validate_python({**data, "source": str(path)})
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


SECTIONS = (("what", "What it does"), ("why", "Why is this bad"), ("example", "Example"), ("fix", "Fix"))


def rule_text(rule: RuleSpec) -> str:
    opt_in = (f" Opt-in: runs only when a selector names it, by code, prefix or name (not ALL; `--extend-select {rule.code[:-2]}` or "
              f"`extend-select: [{rule.code[:-2]}]` in the config).") if rule.opt_in else ""
    lines = [f"# {rule.name} ({rule.code})", "",
             f"Target: {rule.target}. Default severity: {rule.severity.value}. Fix: {rule.fix}.{opt_in}", "",
             f"Message: {rule.message}", ""]
    for key, title in SECTIONS:
        lines += [f"## {title}", getattr(rule.docs, key).rstrip(), ""]
    if rule.params:
        lines.append("## Parameters")
        for name, spec in rule.params.items():
            lines.append(f"- `{name}` ({spec.type}, default {spec.default!r}): {spec.description}")
        lines.append("")
    return "\n".join(lines)
