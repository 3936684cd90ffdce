"""Build a `Dataset` from its settings: find the layout and list files, resolve the clips."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from cogvid_lint import trainers
from cogvid_lint.discover.layouts import load_finetrainers, load_sat
from cogvid_lint.discover.manifest import read_manifest
from cogvid_lint.discover.project import UNKNOWN, Clip, Dataset, ManifestLine
from cogvid_lint.fsutil import Under, is_inside, plain_path
from cogvid_lint.gcpause import gc_paused
from cogvid_lint.remote.urls import to_url

if TYPE_CHECKING:  # settings imports discover.launch: a runtime import here is circular
    from cogvid_lint.settings import DatasetSettings

# The names trainers use: CogVideo finetune, its launch scripts, diffusers and finetrainers.
CAPTION_NAMES = ("prompts.txt", "prompt.txt", "captions.txt", "caption.txt")
VIDEO_NAMES = ("videos.txt", "video.txt")
IMAGE_NAMES = ("images.txt", "image.txt")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
BACKUP_DIR = ".cogvid-lint"
POSIX = os.name == "posix"


@gc_paused()  # a Clip (and a ManifestLine) per list line, kept for the whole run
def load_dataset(settings: DatasetSettings, files: Any = None) -> Dataset:
    """`files`: where the dataset's files are read from (LocalFiles, or discover.source's
    RemoteFiles for a data root in an object store)."""
    root = settings.data_root
    files = files if files is not None else LocalFiles()
    profile = trainers.get(settings.trainer or trainers.DEFAULT)
    layout = settings.layout
    if layout == "auto":
        layout = profile.layout if profile.layout != "cogvideo" else _detect_layout(root, settings, files)
    dataset = Dataset(root=root, settings=settings, layout=layout, profile=profile, files=files)
    if files.remote and layout != "cogvideo":
        from cogvid_lint.remote.access import RemoteError

        # SAT's walk and finetrainers' metadata forms read the local file system still
        raise RemoteError(f"{to_url(root)}: the {layout} layout is not read from object storage yet "
                          "(lists: prompts.txt + videos.txt); lint a local copy")
    if layout == "sat":
        load_sat(dataset, files, SKIP_WALK)
    elif layout == "finetrainers":
        load_finetrainers(dataset, files)
    else:
        _load_cogvideo(dataset, files)
    return dataset


# Folders SAT's walk would enter that are cogvid-lint's own (a media fix's backups)
SKIP_WALK = frozenset({BACKUP_DIR, ".cogvid_lint_cache"})


def _detect_layout(root: Path, settings: DatasetSettings, files: Any) -> str:
    if settings.video_column or settings.caption_column or _first_existing(root, VIDEO_NAMES, files):
        return "cogvideo"
    if files.is_dir(root / "videos") and files.is_dir(root / "labels"):
        return "sat"
    return "cogvideo"


def _first_existing(root: Path, names: tuple[str, ...], files: Any) -> Path | None:
    for name in names:
        if files.is_file(root / name):
            return root / name
    return None


def _column(dataset: Dataset, column: str, configured: str | None, names: tuple[str, ...], required: bool,
            files: Any):
    root = dataset.root
    if configured:
        path = root / configured
        if files.is_file(path):
            return files.read_manifest(path)
        dataset.missing.append((column, configured, root))
        return None
    found = _first_existing(root, names, files)
    if found is not None:
        return files.read_manifest(found)
    if required:
        dataset.missing.append((column, names[0], root))
    return None


def _load_cogvideo(dataset: Dataset, realpath: LocalFiles) -> None:
    settings = dataset.settings
    dataset.captions = _column(dataset, "caption_column", settings.caption_column, CAPTION_NAMES, True, realpath)
    dataset.videos = _column(dataset, "video_column", settings.video_column, VIDEO_NAMES, True, realpath)
    spec = settings.model_spec
    wants_images = settings.image_column is not None
    dataset.images = _column(dataset, "image_column", settings.image_column, IMAGE_NAMES, wants_images, realpath)
    if spec is not None and spec.kind == "t2v" and not wants_images:
        dataset.images = None
    if dataset.videos is not None and dataset.videos.error is None:
        # CogVideo finetune/ joins a line to the list file's folder; diffusers, finetrainers v0
        # and cogvideox-factory to the data root (they differ for a list in a sub-folder)
        lists_base = dataset.root if dataset.profile.list_entries_from == "root" else dataset.videos.path.parent
        base, root = os.fspath(lists_base), os.fspath(dataset.root)
        join, normpath = os.path.join, os.path.normpath
        # Under a plain base inside the root, a plain relative line needs neither normpath nor
        # the lexical inside-test (100,000 lines: 0.1 s)
        plain_base = plain_path(base) == base != "/" and is_inside(base, root)
        clips = dataset.clips = []
        for index, entry in enumerate(dataset.videos.entries):
            # `base / line.strip()`: absolute lines stay absolute.
            text = entry.text
            if plain_base and plain_relative(text):
                path = f"{base}/{text}"
                outside, st = realpath.place(path, root, lexically_inside=True)
            else:
                path = normpath(join(base, text))
                outside, st = realpath.place(path, root)
            clips.append(Clip(dataset, index, path, entry, outside, None, st))


def plain_relative(text: str) -> bool:
    """A relative path with no `.`, `..` or empty component: joined onto a plain path with
    one `/`, it is already what os.path.normpath would make of it."""
    return text[:1] not in ("/", ".", "") and "/." not in text and "//" not in text and text[-1] != "/"


class RealPaths:
    """os.path.realpath with folders memoized, for the many clips of one dataset.

    A path's real path is its folder's real path plus its name unless it is itself a
    link: one lstat per clip instead of one per component (100,000 clips: 10 s saved).
    """

    def __init__(self) -> None:
        self._known: dict[str, str] = {}  # every answer: the root is asked about with each clip
        self._under: dict[str, Under] = {}  # the roots and their real paths, as inside-tests
        self._folders: dict[tuple[str, str], tuple[str, str, bool]] = {}  # see place()
        self._placed: dict[str, dict[str, tuple[bool, Any]]] = {}  # root -> path -> place(path, root)

    def __call__(self, path: str) -> str:
        real = self._known.get(path)
        if real is None:
            folder, name = os.path.split(path)
            base = self._folder(folder)
            real = self._known[path] = os.path.realpath(path) if os.path.islink(path) else _join(base, name)
        return real

    def _folder(self, folder: str) -> str:
        base = self._known.get(folder)
        if base is None:
            base = self._known[folder] = os.path.realpath(folder)
        return base

    def place(self, path: str, root: str, lexically_inside: bool = False) -> tuple[bool, Any]:
        """(does `path` escape `root`, lexically or through a symlink?, its os.stat, None when
        it is missing, or UNKNOWN): `escapes(path, root, self)` with one lstat, which tells a
        link and is the stat of anything else, so a warm run stats each clip once. Whether a
        folder's real path is inside the root's is worked out once per folder.
        `lexically_inside`: the caller knows `path` is below `root` as written."""
        placed = self._placed.get(root)
        if placed is None:
            placed = self._placed[root] = {}
        known = placed.get(path)  # a clip listed twice is looked at once
        if known is None:
            known = placed[path] = self._place(path, root, lexically_inside)
        return known

    def _place(self, path: str, root: str, lexically_inside: bool) -> tuple[bool, Any]:
        if not lexically_inside and not self._inside(root)(path):
            return True, UNKNOWN
        folder, name = os.path.split(path)
        try:
            known = self._folders.get((folder, root))
            if known is None:
                base, real_root = self._folder(folder), self(root)
                known = self._folders[folder, root] = (base, real_root, self._inside(real_root)(base))
            try:
                st = os.lstat(path)
            except (OSError, ValueError):  # missing: os.stat fails alike
                st = None
            base, real_root, folder_inside = known
            if st is not None and stat.S_ISLNK(st.st_mode):
                try:
                    st = os.stat(path)
                except (OSError, ValueError):  # dangling
                    st = None
                return not self._inside(real_root)(self(path)), st
            if folder_inside and name not in ("", ".", ".."):
                return False, st  # one more name below a folder inside the root
            return not self._inside(real_root)(_join(base, name)), st
        except (OSError, RuntimeError, ValueError):
            return True, UNKNOWN

    def _inside(self, root: str) -> Under:
        under = self._under.get(root)
        if under is None:
            under = self._under[root] = Under(root)
        return under


class LocalFiles(RealPaths):
    """The local file system as a dataset's data source (discover.source has the remote one)."""

    remote = False

    def is_file(self, path: Path) -> bool:
        return path.is_file()

    def is_dir(self, path: Path) -> bool:
        return path.is_dir()

    def read_manifest(self, path: Path, keep_blank: bool = False):
        return read_manifest(path, keep_blank)

    def listdir(self, folder: Path) -> list[str]:
        return os.listdir(folder)


def _join(base: str, name: str) -> str:
    # os.path.join(base, name) for a real path (absolute, no trailing "/" but "/") and a name
    return f"{base}/{name}" if POSIX and base[-1:] != "/" else os.path.join(base, name)


def escapes(path: Path | str, root: Path | str, realpath: Callable[[str], str] = os.path.realpath) -> bool:
    """True when `path` lies outside `root`, lexically or through a symlink."""
    if not is_inside(path, root):
        return True
    try:
        return not is_inside(realpath(os.fspath(path)), realpath(os.fspath(root)))
    except (OSError, RuntimeError, ValueError):
        return True
