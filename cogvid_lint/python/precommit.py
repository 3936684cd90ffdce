"""Import sorters run from `.pre-commit-config.yaml`: an isort hook (any args), or a ruff
hook (`ruff` / `ruff-check`, or a local `entry: ruff ...`) whose `--select` /
`--extend-select` selects `I`; without `--select` the hook uses the ruff configuration.
Top-level and per-hook `files` / `exclude` regexes are kept on the `Sorter`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from cogvid_lint.bounded import Unreadable, warn
from cogvid_lint.python.sorter import (
    Sorter,
    _as_list,
    _isort_skips,
    isort_settings,
    ruff_selects_sorting,
    ruff_settings,
)


def _cli_values(args: list[str], *flags: str) -> tuple[str, ...] | None:
    found: list[str] | None = None
    for i, arg in enumerate(args):
        for flag in flags:
            value = None
            if arg == flag and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(flag + "="):
                value = arg.split("=", 1)[1]
            if value is not None:
                found = (found or []) + list(_as_list(value))
    return None if found is None else tuple(found)



def _read_yaml(path: Path) -> Any:
    # PyYAML only when the file changed: remembered keeps it out of the hook's start-up
    from cogvid_lint.bounded import BadDocument, Unreadable, load_yaml, read_text

    try:
        return load_yaml(read_text(path))  # bounded: size, nesting, alias expansion
    except BadDocument as exc:
        return Unreadable(str(exc))  # remembered too, so that every run warns


def pre_commit_sorters(root: Path, isort_conf: tuple[str, dict[str, Any]] | None,
                       ruff_conf: tuple[str, dict[str, Any]] | None) -> list[Sorter]:
    path = root / ".pre-commit-config.yaml"
    if not path.is_file():
        return []
    from cogvid_lint.remembered import remembered

    data = remembered("pre-commit-config", [path], lambda: _read_yaml(path))
    if isinstance(data, Unreadable):  # pre-commit's file, not ours: say so, and go on without it
        warn(f"{path}: ignored: {data.reason}")
    if not isinstance(data, dict):
        return []
    top_files, top_exclude = str(data.get("files") or ""), str(data.get("exclude") or "")
    out: list[Sorter] = []
    for repo in data.get("repos") or ():
        if not isinstance(repo, dict):
            continue
        for hook in repo.get("hooks") or ():
            if not isinstance(hook, dict):
                continue
            hook_id = str(hook.get("id", ""))
            entry = str(hook.get("entry", ""))
            args = [str(a) for a in (hook.get("args") or []) if a is not None]
            try:
                args = shlex.split(entry)[1:] + args if entry else args
            except ValueError:
                pass
            words = entry.split()
            include = (top_files, str(hook.get("files") or ""))
            exclude = (top_exclude, str(hook.get("exclude") or ""))
            origin = f".pre-commit-config.yaml hook {hook_id!r}"
            if hook_id == "isort" or (words and words[0].endswith("isort")):
                raw = isort_conf[1] if isort_conf else {}
                out.append(Sorter("isort", origin, isort_settings(root, raw, args), include, exclude,
                                  _isort_skips(raw)))
            elif hook_id in ("ruff", "ruff-check") or (words and words[0].endswith("ruff") and "format" not in words):
                conf = ruff_conf[1] if ruff_conf else {}
                cli_select = _cli_values(args, "--select")
                cli_extend = _cli_values(args, "--extend-select") or ()
                if ruff_selects_sorting(conf, cli_select, cli_extend):
                    settings, excl, ignored = ruff_settings(root, conf)
                    out.append(Sorter("ruff", origin, settings, include, exclude, excl, ignored))
    return out
