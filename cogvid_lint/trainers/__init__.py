"""Trainer profiles: one module per trainer, each with a `PROFILES` tuple (see base.Profile).

Adding a trainer is one module here plus its tests: the registry below finds every module
of this package.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Sequence

from cogvid_lint.trainers.base import Launch, Profile, Resize, Sample

__all__ = ["DEFAULT", "Launch", "Profile", "Resize", "Sample", "all_profiles", "detect", "get", "names_entry"]

DEFAULT = "finetune"  # nothing detected, nothing configured: CogVideo's finetune/


def all_profiles() -> dict[str, Profile]:
    """Every profile by name, in the order detection tries them (most specific first)."""
    found: list[Profile] = []
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base"):
        found += importlib.import_module(f"{__name__}.{module}").PROFILES
    found.sort(key=lambda p: (-len(p.launch.requires), p.name))
    return {p.name: p for p in found}


def get(name: str) -> Profile | None:
    return all_profiles().get(name.strip().lower())


def detect(tokens: Sequence[str]) -> Profile | None:
    """The trainer a launch command runs: a token naming its entry point (a script path or a
    module), with the flags it requires and none it excludes."""
    flags = {t.split("=", 1)[0] for t in tokens if t.startswith("--")}
    for profile in all_profiles().values():
        launch = profile.launch
        if not all(flag in flags for flag in launch.requires) or any(flag in flags for flag in launch.excludes):
            continue
        if any(names_entry(token, entry) for token in tokens for entry in launch.entry_points):
            return profile
    return None


def names_entry(token: str, entry: str) -> bool:
    token = token.replace("\\", "/")
    if "/" not in entry and "." not in entry:  # a module or package name: `-m finetrainers`, finetrainers/train.py
        return token == entry or f"/{entry}/" in f"/{token}"
    return token == entry or token.endswith("/" + entry)
