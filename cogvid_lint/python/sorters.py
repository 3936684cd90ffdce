"""Every import sorter a repository runs: configured (isort, ruff) or run as a pre-commit hook."""

from __future__ import annotations

from pathlib import Path

from cogvid_lint.python.precommit import pre_commit_sorters
from cogvid_lint.python.sorter import (Sorter, _isort_config, _isort_skips, _ruff_config, isort_settings,
                                       ruff_selects_sorting, ruff_settings)


def detect_sorters(root: Path) -> tuple[Sorter, ...]:
    """Every import sorter the repository runs (configured or hooked), with its settings."""
    found: list[Sorter] = []
    isort_conf = _isort_config(root)
    ruff_conf = _ruff_config(root)
    if isort_conf:
        origin, raw = isort_conf
        found.append(Sorter("isort", origin, isort_settings(root, raw), skip_globs=_isort_skips(raw)))
    if ruff_conf and ruff_selects_sorting(ruff_conf[1]):
        settings, excl, ignored = ruff_settings(root, ruff_conf[1])
        found.append(Sorter("ruff", ruff_conf[0], settings, skip_globs=excl, ignored_globs=ignored))
    found.extend(pre_commit_sorters(root, isort_conf, ruff_conf))
    return tuple(found)
