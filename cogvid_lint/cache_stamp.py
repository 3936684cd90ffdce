"""`cogvid-lint cache stamp`: remember what each cached clip was when its cache was made.

mtime alone is fooled both ways: `cp -p`, `rsync -a` and `tar` keep an old mtime on a new
clip (false fresh) and `git checkout` makes every clip look new (false stale). The stamp
(`<data_root>/cache/cogvid-lint-stamp.json`) records, for every clip with a cache entry, its
size, mtime_ns and blake2b content hash, and the mtime_ns of each entry it covers. A later
run judges an entry the stamp covers by content: the clip is hashed only when its size or
mtime differ from the stamp, so a warm run reads no clip. Entries the stamp does not cover
(written after it, or in another model/resolution folder) fall back to timestamps.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from cogvid_lint.cache_layout import CacheFile, latent_folder, stamp_path, stat_file
from cogvid_lint.discover.project import Clip, Dataset
from cogvid_lint.errors import STRICT, type_adapter
from cogvid_lint.hashing import digest_file

STAMP_VERSION = 1
# Plain dataclasses that pydantic validates when a stamp is read (unknown keys refused);
# the validated stamp is remembered (cogvid_lint.remembered) until the file changes.


@dataclass(frozen=True, kw_only=True)
class ClipRecord:
    __pydantic_config__ = STRICT
    size: int
    mtime_ns: int
    blake2b: str
    entries: dict[str, int]  # cache entry (key as in `file_key`) -> its mtime_ns when stamped


@dataclass(frozen=True, kw_only=True)
class Stamp:
    __pydantic_config__ = STRICT
    version: Literal[1]
    model: str
    resolution: str
    clips: dict[str, ClipRecord]


class StampError(Exception):
    """The stamp file exists but cannot be used (reported as a corrupt cache file)."""


def file_key(path: Path, data_root: Path) -> str:
    """How the stamp names a file: relative to the data root when inside it, `/` separators."""
    try:
        return path.relative_to(data_root).as_posix()
    except ValueError:
        return path.as_posix()


def file_digest(path: Path) -> str:
    """What a stamp records of a clip (blake2b-512: stamps written before keep meaning it)."""
    return digest_file(path, "blake2b-512").hexdigest


def load_stamp(data_root: Path, files=None) -> Stamp | None:
    """The stamp of the cache under `data_root`; `files`: a remote data root's source (the
    stamp is one small GET, none while the store holds it as listed)."""
    from cogvid_lint.remembered import remembered

    path = stamp_path(data_root)
    if files is not None:
        if not files.is_file(path):
            return None
        try:
            data = files.read_bytes(path)
        except OSError as exc:
            raise StampError(f"cannot read the cache stamp: {exc}") from None
        return _parse_stamp(data)
    if not path.exists():
        return None
    return remembered("cache-stamp", [__file__, path], lambda: _read_stamp(path))


def _read_stamp(path: Path) -> Stamp | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StampError(f"cannot read the cache stamp: {exc.strerror or exc}") from None
    return _parse_stamp(data)


def _parse_stamp(data: bytes) -> Stamp:
    from pydantic import ValidationError

    try:
        return type_adapter(Stamp).validate_python(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StampError(f"the cache stamp is not JSON ({exc.__class__.__name__})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise StampError(f"the cache stamp is invalid at {where!r}: {first['msg']}") from None


@dataclass(frozen=True)
class Verdict:
    """Why an entry no longer matches its clip: `kind` is "stale" (timestamps) or "changed" (stamp)."""

    kind: str
    clip: Clip
    detail: str


class EntryJudge:
    """Decides, per cache entry, whether it still matches the clip(s) with its stem.

    One per dataset and run (memoised on the project): clip stats and hashes are shared by
    the stale-latent, stale-first-frame and cache-content-changed checks.
    """

    def __init__(self, dataset: Dataset, stamp: Stamp | None, files=None):
        self.dataset, self.stamp, self.files = dataset, stamp, files
        self._same: dict[Path, bool | None] = {}
        self._verdicts: dict[Path, Verdict | None] = {}

    @cached_property
    def by_stem(self) -> dict[str, list[Clip]]:
        """Listed at the first entry judged: a dataset without a cache never needs it."""
        by_stem: dict[str, list[Clip]] = {}
        for clip in self.dataset.clips:  # clips outside the root too: the trainer caches them by stem alike
            by_stem.setdefault(clip.stem, []).append(clip)
        return by_stem

    def judge(self, entry: CacheFile) -> Verdict | None:
        if entry.path not in self._verdicts:  # three rules ask about each latent
            verdicts = (self._judge_one(entry, clip) for clip in self.by_stem.get(entry.stem, ()))
            self._verdicts[entry.path] = next((v for v in verdicts if v is not None), None)
        return self._verdicts[entry.path]

    def _judge_one(self, entry: CacheFile, clip: Clip) -> Verdict | None:
        st = clip.stat  # taken once a run, by discovery
        if st is None:
            return None  # a missing clip is missing-media, not a stale cache
        record = self._record(clip)
        if record is not None and record.entries.get(file_key(entry.path, self.dataset.root)) == entry.mtime_ns:
            same = self._content_same(clip, st, record)
            if same is False:
                older = " although its mtime is older than the entry" if st.st_mtime_ns <= entry.mtime_ns else ""
                return Verdict("changed", clip, f"its content hash differs from the stamp{older}")
            if same is True:
                return None  # content unchanged: a newer mtime (git checkout, touch) is not staleness
        if entry.mtime_ns < st.st_mtime_ns:
            return Verdict("stale", clip, _age(st.st_mtime_ns - entry.mtime_ns))
        return None

    def _record(self, clip: Clip) -> ClipRecord | None:
        if self.stamp is None:
            return None
        return self.stamp.clips.get(file_key(clip.path, self.dataset.root))

    def _content_same(self, clip: Clip, st: os.stat_result, record: ClipRecord) -> bool | None:
        if st.st_size == record.size and st.st_mtime_ns == record.mtime_ns:
            return True  # unchanged since the stamp: no need to read the clip
        if clip.path not in self._same:
            try:
                digest = file_digest(clip.path) if self.files is None else self.files.digest(clip.path, "blake2b-512")
                self._same[clip.path] = digest == record.blake2b
            except OSError:
                self._same[clip.path] = None
        return self._same[clip.path]


def _age(ns: int) -> str:
    seconds = ns / 1e9
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


@dataclass
class StampSummary:
    clips: int = 0
    entries: int = 0
    skipped_stale: int = 0  # entries older than their clip: not vouched for


def stamp_entries(clip: Clip, folder: Path, first_frames: Path | None) -> list[CacheFile]:
    """The clip's entries the stamp vouches for: its latent in `folder` and its first frame."""
    wanted = [folder / (clip.stem + ".safetensors")]
    if first_frames is not None:
        wanted.append(first_frames / (clip.stem + ".png"))
    return [entry for path in wanted if (entry := stat_file(path)) is not None]


def build_stamp(dataset: Dataset) -> tuple[Stamp, StampSummary] | None:
    """A stamp of every listed clip that has an entry for the dataset's model and resolution.

    An entry older than its clip is left out: the precompute reuses stale entries, so a stamp
    taken after it must not vouch for them (stale-latent keeps reporting them).
    """
    from cogvid_lint.cache_layout import first_frames_dir

    settings = dataset.settings
    resolution = settings.resolution
    if resolution is None:
        return None
    folder = latent_folder(dataset.root, settings.model, resolution)
    first_frames = first_frames_dir(dataset) if dataset.clips else None
    summary = StampSummary()
    clips: dict[str, ClipRecord] = {}
    for clip in dataset.clips:
        key = file_key(clip.path, dataset.root)
        if key in clips:
            continue
        st = clip.stat
        if st is None:
            continue  # missing-media reports it
        entries = {}
        for entry in stamp_entries(clip, folder, first_frames):
            if entry.mtime_ns < st.st_mtime_ns:
                summary.skipped_stale += 1
            else:
                entries[file_key(entry.path, dataset.root)] = entry.mtime_ns
        if not entries:
            continue
        try:
            digest = file_digest(clip.path)
        except OSError:
            continue  # unreadable now: left to timestamps (and to unreadable-video)
        clips[key] = ClipRecord(size=st.st_size, mtime_ns=st.st_mtime_ns, blake2b=digest, entries=entries)
        summary.entries += len(entries)
    summary.clips = len(clips)
    return Stamp(version=STAMP_VERSION, model=settings.model, resolution=str(resolution), clips=clips), summary


def write_stamp(stamp: Stamp, data_root: Path) -> Path:
    from cogvid_lint.fsutil import atomic_write_text

    path = stamp_path(data_root)
    atomic_write_text(path, json.dumps(asdict(stamp), indent=1, sort_keys=True) + "\n")
    return path
