"""Per-clip rule results in the store, where they pay: the clips the video rules found
nothing on.

A warm re-lint of an unchanged dataset runs every video rule on every clip again, although
the answer can only change when the clip, its probe facts, the rules (code, parameters,
severity) or the dataset's settings change. So a clip on which no video rule reported
anything is remembered as clean under its stat key and a version covering all of those, and
is not checked again while they hold; a clip with findings is always checked afresh (its
findings carry list anchors and fixes, cheaper to make again than to store).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cogvid_lint.store import StatKey, Store

if TYPE_CHECKING:
    from cogvid_lint.discover.project import Clip, Dataset

KIND = "clean_clips"
_PACKAGE = Path(__file__).resolve().parent
# What a video rule's verdict on a clip is computed by, besides its parameters.
_SOURCES = ("checks/video.py", "checks/common.py", "wording.py", "models.py", "engine.py", "trainers")


def code_version() -> str:
    digest = hashlib.sha256()
    for name in _SOURCES:
        path = _PACKAGE / name
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for file in files:
            try:
                digest.update(file.name.encode() + file.read_bytes())
            except OSError:
                digest.update(b"-")
    return digest.hexdigest()


class CleanClips:
    """The clean clips of one run: `known` (from the store) and those found clean now,
    stored by `close()`. `rules`: the (code, severity, params) of the video rules that run;
    `probe_version`: what answered the clips' probe facts."""

    def __init__(self, store: Store, keys: Mapping[int, StatKey], datasets: Sequence[Dataset],
                 rules: Sequence[tuple[str, str, Mapping[str, Any]]], probe_version: str):
        self.store = store
        self.keys = keys  # id(clip) -> the stat key its facts are stored under
        code = code_version()
        rules_text = json.dumps(sorted((c, s, dict(p)) for c, s, p in rules), sort_keys=True, default=str)
        self._versions = {id(ds): _dataset_version(code, rules_text, probe_version, ds) for ds in datasets}
        self.versions: dict[str, str] = {}  # file -> the version its verdict is stored under
        self.known: set[str] = set()
        self.fresh: list[StatKey] = []

    def look_up(self, clips: Iterable[Clip]) -> None:
        """Read what the store knows of these clips' files (once, before they are checked)."""
        keys = []
        for clip in clips:
            key = self.keys.get(id(clip))
            if key is not None:
                self.versions[key.path] = self._versions[id(clip.dataset)]
                keys.append(key)
        if keys and self.store.usable:
            self.known = set(self.store.lookup(KIND, self.versions, keys))

    def is_clean(self, clip: Clip) -> bool:
        key = self.keys.get(id(clip))
        return key is not None and key.path in self.known

    def found_clean(self, clip: Clip) -> None:
        key = self.keys.get(id(clip))
        if key is not None and key.path not in self.known:
            self.fresh.append(key)

    def forget(self, paths: Iterable[str]) -> None:
        """No verdict is kept on these files (their facts were not stored either)."""
        paths = set(paths)
        if paths:
            self.fresh = [key for key in self.fresh if key.path not in paths]

    def close(self) -> None:
        fresh, self.fresh = self.fresh, []
        if fresh and self.store.usable:
            self.store.put(KIND, self.versions, ((key, "1") for key in fresh))


def _dataset_version(code: str, rules: str, probe_version: str, dataset: Dataset) -> str:
    ds = dataset.settings
    shaping = json.dumps([dataset.profile.name, dict(ds.trainer_options or {}), str(ds.resolution), ds.model,
                          dataset.layout, repr(dataset.settings)], sort_keys=True, default=str)
    return hashlib.sha256(f"{code}\0{rules}\0{probe_version}\0{shaping}".encode()).hexdigest()[:24]
