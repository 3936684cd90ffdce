"""Does the repository run an import sorter, and where would it put torch and decord?

A sorter runs when isort is configured (`[tool.isort]`, `.isort.cfg`, `setup.cfg` or
`tox.ini` `[isort]`), when ruff selects the `I` rules (`select`/`extend-select` in
`[tool.ruff]`/`[tool.ruff.lint]`, `ruff.toml`, `.ruff.toml`), or when
`.pre-commit-config.yaml` has an isort hook or a ruff hook whose `--select` (or, without
one, the ruff configuration) selects `I`. Each sorter carries the settings that decide
the order of two imports: sections, `force_sort_within_sections`, `from_first`,
`length_sort`, `force_to_top`, `no_sections`.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

_ISORT_PROFILES_FSS = {"google", "open_stack", "appnexus"}
_DEFAULT_SECTIONS = ("future", "stdlib", "thirdparty", "firstparty", "localfolder")
_RUFF_SECTION = {
    "future": "future",
    "standard-library": "stdlib",
    "third-party": "thirdparty",
    "first-party": "firstparty",
    "local-folder": "localfolder",
}


@dataclass(frozen=True)
class SortSettings:
    force_sort_within_sections: bool = False
    from_first: bool = False
    length_sort: bool = False
    force_to_top: tuple[str, ...] = ()
    no_sections: bool = False
    sections: tuple[str, ...] = _DEFAULT_SECTIONS
    known: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (section, patterns), first match wins
    default_section: str = "thirdparty"
    src_paths: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Sorter:
    tool: str  # "isort" | "ruff"
    origin: str
    settings: SortSettings
    include: tuple[str, ...] = ()  # pre-commit `files` regexes (all must match)
    exclude: tuple[str, ...] = ()  # pre-commit `exclude` regexes / skip globs
    skip_globs: tuple[str, ...] = ()
    ignored_globs: tuple[str, ...] = field(default=())  # ruff per-file-ignores covering I001

    def applies_to(self, rel: str) -> bool:
        if any(not re.search(p, rel) for p in self.include if p):
            return False
        if any(re.search(p, rel) for p in self.exclude if p and p != "^$"):
            return False
        path = PurePosixPath(rel)
        for glob in self.skip_globs + self.ignored_globs:
            g = glob.strip().rstrip("/")
            if not g:
                continue
            if fnmatch.fnmatchcase(rel, g) or path.match(g) or g in path.parts or fnmatch.fnmatchcase(path.name, g):
                return False
        return True

    def section_of(self, module: str, level: int) -> int:
        s = self.settings
        if s.no_sections:
            return 0
        name = _place(module, level, s)
        sections = [x.lower() for x in s.sections]
        return sections.index(name) if name in sections else len(sections)

    def sort_key(self, module: str, level: int, is_from: bool) -> tuple:
        s = self.settings
        top = 0 if any(module == t or module.startswith(t + ".") for t in s.force_to_top) else 1
        name = ("." * level + module).lower()
        name_key = (len(name), name) if s.length_sort else (0, name)
        kind = 0 if s.force_sort_within_sections else (0 if is_from == s.from_first else 1)
        return (self.section_of(module, level), kind, top, name_key)


def _place(module: str, level: int, s: SortSettings) -> str:
    if level:
        return "localfolder"
    if module == "__future__":
        return "future"
    for section, patterns in s.known:
        for pattern in patterns:
            if module == pattern or module.startswith(pattern + ".") or fnmatch.fnmatchcase(module, pattern):
                return section
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return "stdlib"
    for src in s.src_paths:
        if (src / top).is_dir() or (src / f"{top}.py").is_file():
            return "firstparty"
    return s.default_section


# ---------------------------------------------------------------- reading the configs


def _load_toml(path: Path) -> dict[str, Any] | None:
    from cogvid_lint.bounded import BadDocument, load_toml, read_text  # only when a file mentions decord

    try:
        return load_toml(read_text(path))  # bounded: size, nesting, integers past the digit limit
    except BadDocument:
        return None


def _load_ini(path: Path, sections: Iterable[str]) -> dict[str, str] | None:
    import configparser

    if not path.is_file():
        return None
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    for name in sections:
        if parser.has_section(name):
            return dict(parser.items(name))
    return None


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in re.split(r"[,\n]", value) if v.strip())
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value)
    return ()


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _isort_config(root: Path) -> tuple[str, dict[str, Any]] | None:
    """isort's own settings file, in isort's precedence order."""
    cfg = _load_ini(root / ".isort.cfg", ("settings", "isort"))
    if cfg is not None:
        return ".isort.cfg", cfg
    data = _load_toml(root / "pyproject.toml")
    if data and isinstance(data.get("tool"), dict) and isinstance(data["tool"].get("isort"), dict):
        return "pyproject.toml [tool.isort]", data["tool"]["isort"]
    for name in ("setup.cfg", "tox.ini"):
        cfg = _load_ini(root / name, ("isort", "tool:isort"))
        if cfg is not None:
            return f"{name} [isort]", cfg
    return None


def isort_settings(root: Path, raw: dict[str, Any], extra_args: list[str] = ()) -> SortSettings:
    opts = {str(k).replace("-", "_").lower(): v for k, v in raw.items()}
    profile = str(opts.get("profile", "")).strip().lower()
    args = list(extra_args)
    for i, arg in enumerate(args):
        if arg.startswith("--profile="):
            profile = arg.split("=", 1)[1].lower()
        elif arg == "--profile" and i + 1 < len(args):
            profile = args[i + 1].lower()
    fss = _as_bool(opts.get("force_sort_within_sections", profile in _ISORT_PROFILES_FSS))
    fss = fss or any(a in ("--fss", "--force-sort-within-sections") for a in args)
    length = _as_bool(opts.get("length_sort", False)) or any(a in ("--ls", "--length-sort") for a in args)
    sections = _as_list(opts.get("sections")) or (
        ("future", "stdlib", "thirdparty", "firstparty", "application", "localfolder")
        if profile == "appnexus"
        else _DEFAULT_SECTIONS
    )
    sections = tuple(s.lower() for s in sections)
    known: list[tuple[str, tuple[str, ...]]] = []
    for section in sections:
        key = {
            "stdlib": "known_standard_library",
            "thirdparty": "known_third_party",
            "firstparty": "known_first_party",
            "localfolder": "known_local_folder",
        }.get(section, f"known_{section}")
        patterns = _as_list(opts.get(key))
        if section == "stdlib":
            patterns += _as_list(opts.get("extra_standard_library"))
        if patterns:
            known.append((section, patterns))
    srcs = _as_list(opts.get("src_paths")) or (".", "src")
    return SortSettings(
        force_sort_within_sections=fss,
        from_first=_as_bool(opts.get("from_first", False)),
        length_sort=length,
        force_to_top=_as_list(opts.get("force_to_top")),
        no_sections=_as_bool(opts.get("no_sections", False)),
        sections=sections,
        known=tuple(known),
        default_section=str(opts.get("default_section", "THIRDPARTY")).lower(),
        src_paths=tuple(root / p for p in srcs),
    )


def _ruff_config(root: Path) -> tuple[str, dict[str, Any]] | None:
    """ruff's settings (the `lint` part merged over the top level), in ruff's precedence."""
    for name in (".ruff.toml", "ruff.toml"):
        data = _load_toml(root / name)
        if data is not None:
            return name, data
    data = _load_toml(root / "pyproject.toml")
    if data and isinstance(data.get("tool"), dict) and isinstance(data["tool"].get("ruff"), dict):
        return "pyproject.toml [tool.ruff]", data["tool"]["ruff"]
    return None


def _lint_table(conf: dict[str, Any]) -> dict[str, Any]:
    merged = {k: v for k, v in conf.items() if k != "lint"}
    lint = conf.get("lint")
    if isinstance(lint, dict):
        merged.update(lint)
    return merged


def _selects_i001(selectors: Iterable[str]) -> bool:
    return any(s == "ALL" or (s.startswith("I") and "I001".startswith(s)) for s in selectors)


def ruff_selects_sorting(conf: dict[str, Any], cli_select: tuple[str, ...] | None = None,
                         cli_extend: tuple[str, ...] = ()) -> bool:
    lint = _lint_table(conf)
    select = cli_select if cli_select is not None else _as_list(lint.get("select"))
    chosen = select + _as_list(lint.get("extend-select")) + cli_extend
    ignored = _as_list(lint.get("ignore")) + _as_list(lint.get("extend-ignore"))
    return _selects_i001(chosen) and not _selects_i001(ignored)


def ruff_settings(root: Path, conf: dict[str, Any]) -> tuple[SortSettings, tuple[str, ...], tuple[str, ...]]:
    lint = _lint_table(conf)
    iso = lint.get("isort") if isinstance(lint.get("isort"), dict) else {}
    order = tuple(_RUFF_SECTION.get(s, s.lower()) for s in _as_list(iso.get("section-order"))) or _DEFAULT_SECTIONS
    known: list[tuple[str, tuple[str, ...]]] = []
    custom = iso.get("sections") if isinstance(iso.get("sections"), dict) else {}
    for name, patterns in custom.items():
        known.append((name.lower(), _as_list(patterns)))
    for key, section in (("known-first-party", "firstparty"), ("known-third-party", "thirdparty"),
                         ("known-local-folder", "localfolder"), ("extra-standard-library", "stdlib")):
        if iso.get(key):
            known.append((section, _as_list(iso.get(key))))
    srcs = _as_list(conf.get("src")) or (".", "src")
    settings = SortSettings(
        force_sort_within_sections=_as_bool(iso.get("force-sort-within-sections", False)),
        from_first=_as_bool(iso.get("from-first", False)),
        length_sort=_as_bool(iso.get("length-sort", False)),
        force_to_top=_as_list(iso.get("force-to-top")),
        no_sections=_as_bool(iso.get("no-sections", False)),
        sections=order,
        known=tuple(known),
        default_section=_RUFF_SECTION.get(str(iso.get("default-section", "third-party")), "thirdparty"),
        src_paths=tuple(root / p for p in srcs),
    )
    excludes = _as_list(conf.get("exclude")) + _as_list(conf.get("extend-exclude"))
    ignored: list[str] = []
    for key in ("per-file-ignores", "extend-per-file-ignores"):
        table = lint.get(key)
        if isinstance(table, dict):
            ignored.extend(p for p, codes in table.items() if _selects_i001(_as_list(codes)))
    return settings, excludes, tuple(ignored)


def _isort_skips(opts: dict[str, Any]) -> tuple[str, ...]:
    o = {str(k).replace("-", "_").lower(): v for k, v in opts.items()}
    return sum((_as_list(o.get(k)) for k in ("skip", "extend_skip", "skip_glob", "extend_skip_glob")), ())
