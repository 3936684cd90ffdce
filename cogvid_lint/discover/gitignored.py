"""Which absent clips git ignores: a CI checkout has the lists but not the media.

A dataset's clips are usually git-ignored, so a CI job's checkout lists clips it does not
have. Those are not missing-media: the clip rules are skipped for them and the report says
so once. A clip that is absent and *not* ignored is still missing.

Git is asked once per work tree (one, in practice) for all the absent clips at once:
`git check-ignore --stdin -z`, which answers with the ignored ones. Tracked files are never
reported ignored by it (the index wins), so a committed clip deleted from the work tree
stays missing. No git, no work tree, or git failing: nothing is marked (every absent clip
is missing, as before).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable, Iterable, Sequence

from cogvid_lint.discover.project import Dataset

# git answers in well under a second; a hung git (a network filesystem, an fsmonitor that
# does not answer) must not hang the lint
GIT_TIMEOUT_S = 60

Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


def mark_git_ignored(datasets: Sequence[Dataset], run: Runner = subprocess.run) -> None:
    """Set each dataset's `git_ignored`: the paths of its listed clips (and listed images)
    that are absent and that git ignores. `run`: subprocess.run (tests pass their own)."""
    by_top: dict[Path, dict[str, list[Dataset]]] = {}
    tops: dict[Path, Path | None] = {}
    for dataset in datasets:
        absent = list(absent_paths(dataset))
        if not absent:
            continue
        top = work_tree(dataset.root, tops)
        if top is None:
            continue
        wanted = by_top.setdefault(top, {})
        for path in absent:
            wanted.setdefault(path, []).append(dataset)
    for top, wanted in by_top.items():
        ignored = check_ignore(top, list(wanted), run)
        found: dict[int, set[str]] = {}
        for path in ignored:
            for dataset in wanted.get(path, ()):
                found.setdefault(id(dataset), set()).add(path)
        for dataset in {id(d): d for ds in wanted.values() for d in ds}.values():
            dataset.git_ignored = frozenset(found.get(id(dataset), ()))


def absent_paths(dataset: Dataset) -> Iterable[str]:
    """The listed clips and images inside the data root that are not there."""
    for clip in dataset.clips:
        if not clip.escapes_root and clip.stat is None:
            yield clip.fspath
    images = dataset.images
    if images is not None and images.error is None:
        base = images.path.parent
        for entry in images.entries:
            path = os.path.normpath(base / entry.text)
            if not os.path.lexists(path):
                yield path


def work_tree(folder: Path, known: dict[Path, Path | None]) -> Path | None:
    """The top of the git work tree holding `folder` (or the folder it would be in, when it is
    missing), found by the `.git` entry git itself looks for; None outside any."""
    here = Path(os.path.abspath(folder))
    seen = []
    top: Path | None = None
    while True:
        if here in known:
            top = known[here]
            break
        seen.append(here)
        if os.path.lexists(here / ".git"):
            top = here
            break
        if here.parent == here:
            break
        here = here.parent
    for folder_seen in seen:
        known[folder_seen] = top
    return top


def check_ignore(top: Path, paths: list[str], run: Runner) -> set[str]:
    """The `paths` git ignores in the work tree at `top`; empty when git cannot tell."""
    # relative to the top, which git is run in: an absolute path through a symlinked folder
    # (/tmp, /var on macOS) would be "outside the repository" to git, which resolves its top
    base = os.path.abspath(top)
    asked = {os.fsencode(os.path.relpath(os.path.abspath(p), base)): p for p in paths if "\0" not in p}
    if not asked:
        return set()
    stdin = b"".join(rel + b"\0" for rel in asked)
    try:
        done = run(["git", "-C", os.fspath(top), "check-ignore", "--stdin", "-z"], input=stdin,
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return set()
    if done.returncode not in (0, 1):  # 1: none ignored; 128: not a work tree after all, a bad path
        return set()
    return {asked[out] for out in done.stdout.split(b"\0") if out in asked}
