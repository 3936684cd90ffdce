"""The project that discovery builds and every check reads: datasets, clips, Python files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from cogvid_lint.probe.info import VideoInfo
    from cogvid_lint.settings import DatasetSettings, Settings


@dataclass(frozen=True)
class ManifestLine:
    """One non-blank line of a manifest, as the trainer keeps it (stripped)."""

    file: Path
    line: int  # 1-based line number in the file
    text: str


@dataclass(frozen=True)
class Manifest:
    """A caption/video/image list file as read the trainer's way.

    `entries` are the non-blank stripped lines (what the trainer counts); `blank_lines`
    are the 1-based numbers of blank lines it silently drops; `error` is set when the
    trainer could not read it at all (not UTF-8, NUL byte, unreadable).
    """

    path: Path
    entries: tuple[ManifestLine, ...] = ()
    blank_lines: tuple[int, ...] = ()
    has_bom: bool = False
    error: str | None = None


@dataclass
class Clip:
    """A clip the dataset lists. `path` is resolved lexically (no symlink followed)."""

    dataset: "Dataset"
    index: int
    path: Path
    entry: ManifestLine | None  # None for layouts without a list file (SAT)
    escapes_root: bool = False
    info: "VideoInfo | None" = None  # filled in by the probe step

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def exists(self) -> bool:
        return not self.escapes_root and self.path.is_file()

    @cached_property
    def stat(self) -> os.stat_result | None:
        """os.stat of the clip (links followed), None when it is missing or unreachable;
        taken once a run: the probe step and several rules ask (10,000 clips: 0.06 s a pass)."""
        try:
            return os.stat(self.path)
        except (OSError, ValueError):
            return None


@dataclass
class Dataset:
    root: Path
    settings: "DatasetSettings"
    layout: str  # "cogvideo" | "sat"
    captions: Manifest | None = None
    videos: Manifest | None = None
    images: Manifest | None = None
    clips: list[Clip] = field(default_factory=list)
    # layout-specific extras: e.g. SAT label files, column names that were looked for
    missing: list[tuple[str, str, Path]] = field(default_factory=list)  # (column, wanted, folder)
    sat_labels: list[ManifestLine] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.root.name or str(self.root)


@dataclass
class PythonFile:
    path: Path
    project: "Project"

    @cached_property
    def data(self) -> bytes:
        return self.path.read_bytes()


@dataclass
class Project:
    root: Path
    settings: "Settings"
    datasets: list[Dataset] = field(default_factory=list)
    python_files: list[PythonFile] = field(default_factory=list)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: str, factory: Callable[[], Any]) -> Any:
        """Per-run memo for facts several checks share (import graph, sorter config)."""
        if key not in self._memo:
            self._memo[key] = factory()
        return self._memo[key]
