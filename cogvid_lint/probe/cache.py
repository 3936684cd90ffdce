"""The probe cache: `.cogvid_lint_cache/probes.sqlite` remembers what each clip holds.

A row answers for a clip while the file's (size, mtime_ns, inode) and the probe version
are those it was stored under, so a warm run stats each clip and reads nothing else.
Failures are cached too: an unreadable clip stays unreadable until it changes. The same
file remembers the content hashes of the duplicate-clip rule. Storage, locking and
corruption handling: cache_db.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cogvid_lint.probe.cache_db import DB_NAME, CacheDB, StatKey, clean
from cogvid_lint.gcpause import gc_paused
from cogvid_lint.probe.info import VideoInfo

if TYPE_CHECKING:
    from cogvid_lint.settings import Settings

__all__ = ["CACHE_DIR_NAME", "DB_NAME", "ProbeCache", "StatKey", "cache_dir", "cached_digests", "clean",
           "open_cache", "probe_version"]

T = TypeVar("T")
CACHE_DIR_NAME = ".cogvid_lint_cache"
_FIELDS = tuple(f.name for f in fields(VideoInfo))


def cache_dir(settings: Settings) -> Path:
    """`--cache-dir` / config `cache-dir`, else `.cogvid_lint_cache/` at the project root."""
    chosen = settings.option("cache_dir")
    return Path(chosen).expanduser().resolve() if chosen else settings.root / CACHE_DIR_NAME


def probe_version(probe_fn_spec: str) -> str:
    """Changes whenever a probe could answer differently: the probe's sources, the
    VideoInfo layout, PyAV's version, or a different probe function (tests' stand-ins)."""
    import importlib.util

    digest = hashlib.sha256(f"{probe_fn_spec}:{_FIELDS}".encode())
    here = Path(__file__).parent
    sources = [here / "pyav.py", here / "mp4box.py", here / "pixfmt.py", here / "info.py"]
    spec = importlib.util.find_spec("av")  # locates PyAV without importing it (~0.1 s)
    if spec is not None and spec.origin:
        sources.append(Path(spec.origin).parent / "about.py")
    for source in sources:
        try:
            digest.update(source.read_bytes())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()[:16]


class ProbeCache(CacheDB):
    """VideoInfos by StatKey, for one probe version."""

    def __init__(self, folder: Path, version: str):
        super().__init__(folder)
        self.version = version

    @gc_paused()  # a VideoInfo per clip, kept for the whole run
    def lookup(self, keys: Sequence[StatKey]) -> dict[str, VideoInfo]:
        """Cached probes of the clips whose key still matches, by path; one read transaction."""
        found = self.lookup_text("probes", self.version, keys)
        try:
            values = json.loads("[" + ",".join(found.values()) + "]")  # one parse: 10x faster than one per row
            return {path: _info(row) for path, row in zip(found, values)}
        except (ValueError, TypeError) as exc:
            self._failed(exc, "read")
            return {}

    def store(self, entries: Iterable[tuple[StatKey, VideoInfo]]) -> None:
        self.store_text("probes", self.version, ((key, json.dumps([getattr(info, name) for name in _FIELDS],
                                                                  separators=(",", ":"))) for key, info in entries))


def open_cache(folder: Path, version: str) -> ProbeCache | None:
    """The cache in `folder` (created if need be), or None when it cannot be used."""
    cache = ProbeCache(folder, version)
    return cache if cache.open() else None


def cached_digests(settings: Settings, files: Sequence[tuple[str, os.stat_result]],
                   digest: Callable[[str], str | None], kind: str) -> dict[str, str | None]:
    """`digest(path)` for each (path, its os.stat), remembered under the file's stat key and
    `kind` (the name of what `digest` computes): the duplicate-clip rule hashes every clip
    whose size another clip shares, which on a warm run must not mean reading them again."""
    keys = [StatKey.of(path, st) for path, st in files]
    version = None if settings.option("no_cache") else ""  # digests are versioned by `kind`
    known: dict[str, str | None] = with_cache(settings, version, lambda c: c.lookup_text("digests", kind, keys)) or {}
    # the connection is closed meanwhile: _digest_all may fork (SQLite forbids carrying one across)
    missing = [key for key in keys if key.path not in known]
    fresh = list(zip(missing, _digest_all(digest, [key.path for key in missing], settings.option("jobs"))))
    if fresh:
        with_cache(settings, version, lambda c: c.store_text("digests", kind, [(k, v) for k, v in fresh if v is not None]))
    known.update((key.path, value) for key, value in fresh)
    return known


def with_cache(settings: Settings, version: str | None, use: Callable[[ProbeCache], T]) -> T | None:
    """use(cache) with the cache open only meanwhile (no SQLite connection may be open when
    a pool forks); None with no cache (`version` None: --no-cache) or one that cannot be used."""
    cache = open_cache(cache_dir(settings), version) if version is not None else None
    if cache is None:
        return None
    try:
        return use(cache)
    finally:
        cache.close()


# Hashing time between two looks at the probe workers (a worker holds ~10 ms of clips)
TEND_EVERY_S = 0.002


def _digest_all(digest: Callable[[str], str | None], paths: list[str], jobs: int | None) -> list[str | None]:
    """`digest` of each path, in order. While probe workers run (the rule runs meanwhile),
    here, keeping them fed between files: a pool of hashers forked beside them fought them
    for the same CPUs while the workers waited for chunks (10,000 clips: the parent blocked
    0.48 s, against 0.18 s for all the hashes here). Else many in forked processes (default:
    one per CPU), so a run without probes does not hash serially. Threads do not help:
    hashing small clips is mostly Python."""
    from cogvid_lint.probe.pool import available_cpus, probing, tend
    from cogvid_lint.probe.worker import mp_context

    processes = min(jobs or available_cpus(), len(paths) // 256)
    if processes <= 1 or probing():
        found = []
        clock = time.monotonic
        due = clock()
        for path in paths:
            if clock() >= due:
                tend()
                due = clock() + TEND_EVERY_S
            found.append(digest(path))
        return found
    with mp_context().Pool(processes) as pool:
        return pool.map(digest, paths, chunksize=64)


def _info(values: list) -> VideoInfo:
    # The dataclass __init__ sets 19 frozen fields one object.__setattr__ at a time: filling
    # __dict__ directly halves the cost of a warm run's 10,000 VideoInfos (same objects:
    # _FIELDS is part of the probe version, so a row always has every field, in order).
    info = object.__new__(VideoInfo)
    info.__dict__.update(zip(_FIELDS, values))
    return info
