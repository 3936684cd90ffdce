"""The one file hasher: every caller that hashes a file's content reads it here.

Callers differ only in the algorithm they record (the content digests of duplicate-clip and
the baseline: blake2b-128; latent-cache stamps: blake2b-512; media-fix journals: sha256),
because those records outlive a run and must keep meaning what they meant when written.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from cogvid_lint.store import StatKey, Store

BLOCK = 1 << 20  # clips can be large: read in blocks, never whole
CONTENT = "blake2b-128"  # what the store's `digests` table keeps, by this name


class Digest(NamedTuple):
    size: int
    hexdigest: str


def _new(algorithm: str):
    if algorithm == "blake2b-128":
        return hashlib.blake2b(digest_size=16)
    if algorithm == "blake2b-512":
        return hashlib.blake2b()
    return hashlib.new(algorithm)


def digest_file(path: str | os.PathLike, algorithm: str = CONTENT) -> Digest:
    """The file's size and digest; raises OSError when it cannot be read."""
    with open(path, "rb") as handle:
        return digest_stream(handle, algorithm)


def digest_stream(handle, algorithm: str = CONTENT) -> Digest:
    """As digest_file, of a binary file object read to its end (an object in a store)."""
    digest, size = _new(algorithm), 0
    while block := handle.read(BLOCK):
        digest.update(block)
        size += len(block)
    return Digest(size, digest.hexdigest())


def content_digest(path: str | os.PathLike) -> str | None:
    """`CONTENT` hex digest of the file, None when it cannot be read (picklable: hashed in
    forked processes too)."""
    try:
        return digest_file(path).hexdigest
    except OSError:
        return None



class DigestJob:
    """Content digests of some files, from the store while a file's stat key is unchanged,
    else hashed here: a step at a time (`step`, between two looks at probe workers) or all
    at once (`run`, in forked processes when there are many). `result` maps each path to
    its digest (None: unreadable) once `done`; `close()` stores the fresh ones."""

    KIND = "digests"
    # A run of many files to hash with no probe workers beside it spreads over processes.
    PARALLEL_FROM = 256

    def __init__(self, store: Store, files: Iterable[tuple[str, os.stat_result]]):
        self.store = store
        keys = []
        self.result: dict[str, str | None] = {}
        for path, st in files:
            etag = getattr(st, "etag", None)  # an object in a store (remote.access.RemoteStat)
            if etag is not None:
                # the store's own digest, from the listing: an ETag is the MD5 of the content for
                # objects uploaded in one part (a multipart ETag differs with the part size, so
                # two such copies may go unnoticed; never a false duplicate)
                self.result[path] = f"etag:{etag}" if etag else None
            else:
                keys.append(StatKey.of(path, st))
        self.result.update(store.lookup(self.KIND, CONTENT, keys))
        self.todo: deque[StatKey] = deque(key for key in keys if key.path not in self.result)
        self.fresh: list[tuple[StatKey, str]] = []

    @property
    def done(self) -> bool:
        return not self.todo

    def step(self, seconds: float) -> None:
        """Hash files for about `seconds` (at least one)."""
        clock = time.monotonic
        until = clock() + seconds
        while self.todo:
            key = self.todo.popleft()
            self._answer(key, content_digest(key.path))
            if clock() >= until:
                break

    def run(self, processes: int) -> None:
        """Hash every file left, in `processes` forked processes when there are many."""
        processes = min(processes, len(self.todo) // self.PARALLEL_FROM)
        if processes <= 1:
            self.step(float("inf"))
            return
        import multiprocessing

        keys = list(self.todo)
        self.todo.clear()
        with multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork").Pool(processes) as pool:
            for key, digest in zip(keys, pool.map(content_digest, [k.path for k in keys], chunksize=64)):
                self._answer(key, digest)

    def _answer(self, key: StatKey, digest: str | None) -> None:
        self.result[key.path] = digest
        if digest is not None:
            self.fresh.append((key, digest))

    def close(self) -> None:
        fresh, self.fresh = self.fresh, []
        self.store.put(self.KIND, CONTENT, fresh)
