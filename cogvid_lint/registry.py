"""Check functions, registered by the key a rule's YAML names in `check:`.

A check is `fn(subject, ctx) -> Iterable[Finding]`. The subject depends on the rule's
target: a `Dataset` (targets dataset, training, cache), a `Clip` (video) or a
`PythonFile` (python). The engine stamps code, name and severity; a check never knows
which rule it serves, so one check can back several rules (and user rules).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:
    from cogvid_lint.discover.project import Dataset, Project
    from cogvid_lint.findings import Finding
    from cogvid_lint.settings import Settings

CheckFn = Callable[[Any, "RuleContext"], "Iterable[Finding]"]

_CHECKS: dict[str, CheckFn] = {}


@dataclass(frozen=True)
class RuleContext:
    """What a check may read besides its subject."""

    params: Mapping[str, Any]
    project: "Project"
    dataset: "Dataset | None" = None
    settings: "Settings | None" = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # path -> content digest (None: unreadable) of the files the check's `content_digests`
    # selector named, from the store or hashed by the engine before the check runs
    digests: Mapping[str, str | None] = field(default_factory=dict)


def check(key: str, args: Iterable[str] = (), *,
          content_digests: Callable[["Dataset"], list] | None = None,
          probe_facts: bool = False, content_features: bool = False,
          content_tier: str = "full") -> Callable[[CheckFn], CheckFn]:
    """Register a check under `key`. `args`: the message arguments (Finding.args keys) that
    every finding of it fills. A rule's message and hint may name only these and the rule's
    parameters: engine.activate refuses any other name, which would be shown as `{name}`.
    `content_digests(dataset)`: the (path, os.stat) of the files whose content digests the
    check reads from `ctx.digests` (a dataset check).
    `probe_facts`: a dataset check that reads its clips' probe facts (`clip.info`): the
    clips are probed when it runs, and the engine runs it once the probe stream is finished
    (every clip's `info` filled in, None only for clips not probed: missing, outside).
    `content_features`: a dataset check that reads its clips' content features
    (`clip.content`, probe/content.py): the content stage runs, and the check runs once it
    is finished (None for clips it could not decode or did not sample). Implies
    `probe_facts`. (A check of target `content` gets them for its clip anyway.)
    `content_tier`: the least of the clip's frames a check of target `content` reads
    (probe/content.py TIERS: "first" sampled frame, "keyframes", "full"): when every
    selected pixel rule needs less than the full decode, the content stage decodes less."""

    def register(fn: CheckFn) -> CheckFn:
        if key in _CHECKS and _CHECKS[key] is not fn:
            raise ValueError(f"check key {key!r} registered twice")
        declare_args(fn, args)
        if content_digests is not None:
            fn.content_digests = content_digests  # type: ignore[attr-defined]
        if probe_facts or content_features:
            fn.probe_facts = True  # type: ignore[attr-defined]
        if content_features:
            fn.content_features = True  # type: ignore[attr-defined]
        fn.content_tier = content_tier  # type: ignore[attr-defined]
        _CHECKS[key] = fn
        return fn

    return register


def declare_args(fn: CheckFn, args: Iterable[str]) -> CheckFn:
    """Record on `fn` the message arguments it fills (also for checks built per rule, as a
    user rule's conditions are, which have no registry key)."""
    if isinstance(args, str):  # ("entry") for ("entry",): it would declare e, n, t, r, y
        raise TypeError(f"message arguments must be a sequence of names, not the string {args!r}")
    fn.message_args = frozenset(args)  # type: ignore[attr-defined]
    return fn


def reads_probe_facts(fn: CheckFn) -> bool:
    """Whether `fn` declared that it reads the clips' probe facts (a dataset check)."""
    return getattr(fn, "probe_facts", False)


def reads_content_features(fn: CheckFn) -> bool:
    """Whether `fn` declared that it reads the clips' content features (a dataset check)."""
    return getattr(fn, "content_features", False)


def content_tier(fn: CheckFn) -> str:
    """The content tier `fn` declared it reads (full when it declared none)."""
    return getattr(fn, "content_tier", "full")


def message_args(fn: CheckFn) -> frozenset[str]:
    """The message arguments `fn` declared; none when it declared nothing."""
    return getattr(fn, "message_args", frozenset())


# The modules of `cogvid_lint.checks` that register the checks of each target: a run
# imports only its targets' modules (the pre-commit code hook never imports the video or
# cache checks). A test loads each target alone and finds every check its rules name.
MODULES_BY_TARGET = {
    "dataset": ("dataset", "captions", "content"),  # content: the near-duplicate check reads every clip's hash
    "video": ("video",),
    "content": ("content",),
    "training": ("training",),
    "cache": ("cache",),
    "python": ("python_rules",),
}


def load_checks(targets: Iterable[str] | None = None) -> Mapping[str, CheckFn]:
    """Import the check modules of `targets` (default: every module of `cogvid_lint.checks`);
    each registers its checks."""
    import cogvid_lint.checks as package

    if targets is None:
        names = [module.name for module in pkgutil.iter_modules(package.__path__)]
    else:
        names = [name for target in targets for name in MODULES_BY_TARGET.get(target, ())]
    for name in names:
        importlib.import_module(f"{package.__name__}.{name}")
    return dict(_CHECKS)
