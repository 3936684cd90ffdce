"""Build a `Dataset` from its settings: find the layout and list files, resolve the clips."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from cogvid_lint.discover.manifest import read_manifest
from cogvid_lint.discover.project import Clip, Dataset, ManifestLine
from cogvid_lint.fsutil import is_inside

if TYPE_CHECKING:  # settings imports discover.launch: a runtime import here is circular
    from cogvid_lint.settings import DatasetSettings

# The names trainers use: CogVideo finetune, its launch scripts, diffusers and finetrainers.
CAPTION_NAMES = ("prompts.txt", "prompt.txt", "captions.txt", "caption.txt")
VIDEO_NAMES = ("videos.txt", "video.txt")
IMAGE_NAMES = ("images.txt", "image.txt")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
BACKUP_DIR = ".cogvid-lint"


def load_dataset(settings: DatasetSettings) -> Dataset:
    root = settings.data_root
    layout = settings.layout
    if layout == "auto":
        layout = _detect_layout(root, settings)
    dataset = Dataset(root=root, settings=settings, layout=layout)
    if layout == "sat":
        _load_sat(dataset, RealPaths())
    else:
        _load_cogvideo(dataset, RealPaths())
    return dataset


def _detect_layout(root: Path, settings: DatasetSettings) -> str:
    if settings.video_column or settings.caption_column or _first_existing(root, VIDEO_NAMES):
        return "cogvideo"
    if (root / "videos").is_dir() and (root / "labels").is_dir():
        return "sat"
    return "cogvideo"


def _first_existing(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (root / name).is_file():
            return root / name
    return None


def _column(dataset: Dataset, column: str, configured: str | None, names: tuple[str, ...], required: bool):
    root = dataset.root
    if configured:
        path = root / configured
        if path.is_file():
            return read_manifest(path)
        dataset.missing.append((column, configured, root))
        return None
    found = _first_existing(root, names)
    if found is not None:
        return read_manifest(found)
    if required:
        dataset.missing.append((column, names[0], root))
    return None


def _load_cogvideo(dataset: Dataset, realpath: RealPaths) -> None:
    settings = dataset.settings
    dataset.captions = _column(dataset, "caption_column", settings.caption_column, CAPTION_NAMES, True)
    dataset.videos = _column(dataset, "video_column", settings.video_column, VIDEO_NAMES, True)
    spec = settings.model_spec
    wants_images = settings.image_column is not None
    dataset.images = _column(dataset, "image_column", settings.image_column, IMAGE_NAMES, wants_images)
    if spec is not None and spec.kind == "t2v" and not wants_images:
        dataset.images = None
    if dataset.videos is not None and dataset.videos.error is None:
        base = dataset.videos.path.parent
        dataset.clips = [
            _make_clip(dataset, index, base, entry, realpath) for index, entry in enumerate(dataset.videos.entries)
        ]


def _make_clip(dataset: Dataset, index: int, base: Path, entry: ManifestLine, realpath: RealPaths) -> Clip:
    # The trainer does `video_path.parent / line.strip()`: absolute lines stay absolute.
    path = Path(os.path.normpath(os.path.join(base, entry.text)))
    return Clip(dataset=dataset, index=index, path=path, entry=entry,
                escapes_root=escapes(path, dataset.root, realpath))


class RealPaths:
    """os.path.realpath with folders memoized, for the many clips of one dataset.

    A path's real path is its folder's real path plus its name unless it is itself a
    link: one lstat per clip instead of one per component (100,000 clips: 10 s saved).
    """

    def __init__(self) -> None:
        self._known: dict[str, str] = {}  # every answer: the root is asked about with each clip

    def __call__(self, path: str) -> str:
        real = self._known.get(path)
        if real is None:
            folder, name = os.path.split(path)
            base = self._known.get(folder)
            if base is None:
                base = self._known[folder] = os.path.realpath(folder)
            real = self._known[path] = os.path.realpath(path) if os.path.islink(path) else os.path.join(base, name)
        return real


def escapes(path: Path, root: Path, realpath: Callable[[str], str] = os.path.realpath) -> bool:
    """True when `path` lies outside `root`, lexically or through a symlink."""
    if not is_inside(path, root):
        return True
    try:
        return not is_inside(realpath(os.fspath(path)), realpath(os.fspath(root)))
    except (OSError, RuntimeError, ValueError):
        return True



def _load_sat(dataset: Dataset, realpath: RealPaths) -> None:
    """SAT layout: videos/<n>.<ext> with labels/<n>.txt holding each caption."""
    videos_dir, labels_dir = dataset.root / "videos", dataset.root / "labels"
    names = sorted(os.listdir(videos_dir)) if videos_dir.is_dir() else []
    clips = [n for n in names if n.lower().endswith(VIDEO_SUFFIXES)]
    for index, name in enumerate(clips):
        path = videos_dir / name
        dataset.clips.append(Clip(dataset, index, path, None, escapes_root=escapes(path, dataset.root, realpath)))
    if labels_dir.is_dir():
        for name in sorted(os.listdir(labels_dir)):
            if name.endswith(".txt"):
                dataset.sat_labels.append(ManifestLine(labels_dir / name, 1, Path(name).stem))
    if not videos_dir.is_dir():
        dataset.missing.append(("video_column", "videos/", dataset.root))
    if not labels_dir.is_dir():
        dataset.missing.append(("caption_column", "labels/", dataset.root))
