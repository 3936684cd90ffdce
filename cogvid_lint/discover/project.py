"""The project that discovery builds and every check reads: datasets, clips, Python files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable, TypeVar

UNKNOWN: Any = object()  # Clip.stat not taken yet
T = TypeVar("T")

if TYPE_CHECKING:
    from cogvid_lint.probe.content import ContentFeatures
    from cogvid_lint.probe.info import VideoInfo
    from cogvid_lint.settings import DatasetSettings, Settings
    from cogvid_lint.store import Store
    from cogvid_lint.trainers import Profile, Resize, Sample


@dataclass(frozen=True, slots=True)  # slots: one per list line, 100,000s of them
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
    # finetrainers reads lists with `read().splitlines()`: every line is an entry, as written
    # (a blank one an empty caption or a bad path); `blank_lines` are then entries too
    keeps_blank: bool = False


@dataclass(frozen=True, slots=True)
class LayoutNote:
    """What a trainer's loader does with a file of the dataset, found while loading it the
    trainer's way: `text` is its own error when it would stop there (Dataset.stops), or why
    it never reads the file (Dataset.unread). `anchor`: the list line or file behind it."""

    path: Path
    text: str
    line: int | None = None
    anchor: tuple[Path, int | None] | None = None


class Clip:
    """A clip the dataset lists. `path` is resolved lexically (no symlink followed).

    Discovery makes one per list line and a warm run touches most of them only through
    `fspath`, `stem` and `stat`, so the `Path` is built on first use (100,000 clips: 0.4 s
    of pathlib parsing saved) and a `stat` discovery already took is kept.
    """

    __slots__ = ("dataset", "index", "fspath", "entry", "escapes_root", "info", "caption", "content", "_path", "_stat")

    def __init__(self, dataset: "Dataset", index: int, path: Path | str, entry: ManifestLine | None,
                 escapes_root: bool = False, info: "VideoInfo | None" = None, stat: Any = UNKNOWN,
                 caption: ManifestLine | None = None):
        self.dataset = dataset
        self.index = index
        self.fspath: str = os.fspath(path)  # the path as a string: dict keys, os calls, the cache key
        self.entry = entry  # None for layouts without a list file (SAT)
        self.escapes_root = escapes_root
        self.info = info  # filled in by the probe step
        # the caption the trainer pairs with the clip, where the layout pairs it by file (SAT's
        # label, finetrainers' pair file, list line or metadata row); None: by position in
        # Dataset.captions (CogVideo's lists)
        self.caption = caption
        self.content: "ContentFeatures | None" = None  # the content stage's features (CVL5xx runs only)
        self._path = path if isinstance(path, Path) else None
        self._stat = stat  # os.stat result, None (missing), or UNKNOWN (not taken yet)

    def __repr__(self) -> str:
        return f"Clip(index={self.index}, path={self.fspath!r}, escapes_root={self.escapes_root})"

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = Path(self.fspath)
        return self._path

    @property
    def stem(self) -> str:
        return path_stem(self.fspath) if self._path is None else self._path.stem

    @property
    def stat(self) -> os.stat_result | None:
        """os.stat of the clip (links followed), None when it is missing or unreachable;
        taken once a run (by discovery when it can): the probe step and several rules ask
        (10,000 clips: 0.06 s a pass)."""
        if self._stat is UNKNOWN:
            try:
                self._stat = os.stat(self.fspath)
            except (OSError, ValueError):
                self._stat = None
        return self._stat


def path_stem(path: str) -> str:
    """`Path(path).stem` without building the Path: pathlib's rule (the last dot of the last
    component, unless it is its first or last character) on the text after the last `/`."""
    name = path.rpartition("/")[2]
    if os.altsep is not None or not name or name == ".":  # Windows, a trailing `/` or `/.`: pathlib decides
        return Path(path).stem
    i = name.rfind(".")
    return name[:i] if 0 < i < len(name) - 1 else name


@dataclass(eq=False)  # one dataset of one run: compared and hashed by identity
class Dataset:
    root: Path
    settings: "DatasetSettings"
    layout: str  # "cogvideo" | "sat" | "finetrainers"
    captions: Manifest | None = None
    videos: Manifest | None = None
    images: Manifest | None = None
    clips: list[Clip] = field(default_factory=list)
    # layout-specific extras: e.g. SAT label files, column names that were looked for
    missing: list[tuple[str, str, Path]] = field(default_factory=list)  # (column, wanted, folder)
    sat_labels: list[ManifestLine] = field(default_factory=list)
    # the trainer's format within its layout (finetrainers: "metadata.csv", "pairs", "lists", ...)
    form: str = ""
    # where the trainer's loader stops on this dataset, and the files it never reads (LayoutNote)
    stops: list["LayoutNote"] = field(default_factory=list)
    unread: list["LayoutNote"] = field(default_factory=list)
    # fspaths of listed clips that are absent and that git ignores (a CI checkout without the
    # media, discover.gitignored): not missing-media, not checked; the report says so once
    git_ignored: frozenset[str] = frozenset()
    profile: "Profile | None" = None  # the trainer that trains on it (set by discovery)
    # where its files are read from (discover.dataset.LocalFiles, discover.source.RemoteFiles
    # for a data root in an object store); None: the local file system
    files: Any = field(default=None, repr=False)
    _samples: dict[tuple, Any] = field(default_factory=dict, repr=False)  # samples and resizes, by their inputs

    def sample(self, frames: int, fps: float | None) -> "Sample":
        """What the dataset's trainer takes of a clip of `frames` at `fps`; worked out once
        per (frames, fps) in a run: several video rules ask of every clip."""
        key = (frames, fps)
        found = self._samples.get(key)
        if found is None:
            found = self._samples[key] = self.profile.sample(frames, fps, self.settings)
        return found

    def resize(self, width: int, height: int, frames: int | None) -> "Resize | None":
        """How the dataset's trainer resizes a `width`x`height` clip of `frames`; once per
        distinct (width, height, frames) in a run."""
        key = ("resize", width, height, frames)
        if key not in self._samples:
            self._samples[key] = self.profile.resize(width, height, self.settings, frames)
        return self._samples[key]

    @property
    def name(self) -> str:
        return self.root.name or str(self.root)

    def is_dir(self, path: Path) -> bool:
        """Whether `path` is a folder of the dataset's data source (an object store's prefix
        that holds objects)."""
        return self.files.is_dir(path) if self.files is not None else path.is_dir()

    def listdir(self, folder: Path) -> list[str]:
        """os.listdir of the dataset's data source; OSError when `folder` is not one."""
        return self.files.listdir(folder) if self.files is not None else os.listdir(folder)


@dataclass
class PythonFile:
    path: Path
    project: "Project"

    @cached_property
    def data(self) -> bytes:
        return self.path.read_bytes()


@dataclass(eq=False)
class Project:
    root: Path
    settings: "Settings"
    datasets: list[Dataset] = field(default_factory=list)
    python_files: list[PythonFile] = field(default_factory=list)
    store: "Store | None" = None  # cogvid-lint's own store, for facts derived from files
    _derived: dict[tuple, Any] = field(default_factory=dict, repr=False)

    def derive(self, fn: Callable[..., T], *args: Hashable) -> T:
        """`fn(self, *args)`, computed once per run: facts of the project that several checks
        share (the import graph, the sorters, a latent-cache scan). The function and its
        arguments are the key."""
        key = (fn, *args)
        if key not in self._derived:
            self._derived[key] = fn(self, *args)
        return self._derived[key]
