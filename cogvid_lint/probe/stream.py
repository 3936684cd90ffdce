"""The probe stage as a stream: the facts of each file, from the store while its stat key is
unchanged, else from the worker pool; pulled by its consumer, which may do other work
between two pulls. Fresh answers go back to the store when the stream closes.

The content stage (ContentStream) is the same over the same pool: the pixel features of
the frames each clip's trainer takes (probe/content.py), once the probe facts say which.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from cogvid_lint.probe import cache
from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.probe.pool import ProbePool
from cogvid_lint.probe.runner import LocalRunner, Pool, Runner
from cogvid_lint.probe.worker import RemoteJob, probe_fn_spec
from cogvid_lint.remote.access import RemoteSpec
from cogvid_lint.remote.urls import is_remote
from cogvid_lint.store import StatKey, Store

# Stored answers are handed over this many at a time, so that the consumer's other work
# interleaves with them as it does with fresh ones.
STORED_BATCH = 1024


class _PooledStream:
    """What the probe and content streams share: answers stored first (`stored`), then those
    a pool of workers gives for `todo`; `fresh` answers go back to the store on `close()`.
    Subclasses say what an answer is paired with (`_item`), which answers are kept (`_keep`:
    a timeout says as much about this run's load as about the clip) and how they are stored."""

    stored: list
    todo: list
    pool: Pool | None
    total: int
    # the files whose answers were reported, not stored (runner.py's `unstored`): a clean
    # verdict on them is not stored either
    unstored: set

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def working(self) -> bool:
        """Whether workers are busy (a consumer may then use its own CPU meanwhile)."""
        return self.pool is not None and not self.pool.finished

    @property
    def finished(self) -> bool:
        return not self.stored and not self.working

    def take(self, wait: bool = True) -> list:
        """The next answers: stored ones first, then those the workers have given; with
        `wait`, at least one unless the stream is finished."""
        if self.stored:
            batch, self.stored = self.stored[:STORED_BATCH], self.stored[STORED_BATCH:]
        elif self.pool is not None:
            batch = []
            unstored = self.pool.unstored
            for index, answer in self.pool.take(wait):
                todo = self.todo[index]
                batch.append((self._item(todo), answer))
                if index in unstored:
                    self.unstored.add(self._key(todo).path)
                elif self._keep(answer):
                    self.fresh.append((self._key(todo), answer))
        else:
            batch = []
        self.answered += len(batch)
        return batch

    def __iter__(self):
        while not self.finished:
            yield from self.take()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if self.fresh:
            fresh, self.fresh = self.fresh, []
            self._save(fresh)

    def _item(self, todo):
        return todo

    def _key(self, todo) -> StatKey:
        return todo

    def _keep(self, answer) -> bool:
        return "timed out" not in (getattr(answer, "error", None) or "")

    def _save(self, fresh: list) -> None:
        raise NotImplementedError


class ProbeStream(_PooledStream):
    """(path, VideoInfo) for each of `keys` (unique paths), pulled with `take()`. `remote`:
    how the workers reach the object stores of remote clips (remote.urls paths).

    `pool`: the workers to probe with; one started early (ProbePool(start=True)) is used as
    is, else `runner` (default: this machine's, runner.py) makes one when a file needs
    probing. The stream owns it: `close()` stops it and writes the fresh answers to the
    store (a timed-out probe is not stored: a timeout says as much about this run's load as
    about the clip)."""

    def __init__(self, keys: Sequence[StatKey], store: Store, *, jobs: int = 0, timeout: float | None = None,
                 pool: ProbePool | None = None, spec: str | None = None, remote: RemoteSpec | None = None,
                 runner: Runner | None = None):
        self.spec = spec or (pool.spec if pool is not None else probe_fn_spec())
        self.store = store
        self.version = cache.probe_version(self.spec) if store.usable else None
        known = cache.lookup(store, self.version, keys) if self.version is not None else {}
        self.total = len(keys)
        self.stored = list(known.items())
        self.todo = [key for key in keys if key.path not in known]
        self.fresh: list[tuple[StatKey, VideoInfo]] = []
        self.unstored = set()
        self.pool = pool
        if self.todo:
            if self.pool is None:
                self.pool = (runner or LocalRunner()).pool(jobs, timeout, self.spec, version=PROBE_VERSION_FN)
            elif timeout is not None:
                self.pool.timeout = timeout  # type: ignore[union-attr]  # a ProbePool started early
            # a clip in an object store is a job of (path, listed size, how to reach the store)
            reach = remote or RemoteSpec()
            self.pool.submit([RemoteJob(key.path, key.size, reach) if is_remote(key.path) else key.path
                              for key in self.todo])
        elif self.pool is not None:  # started early for nothing: every answer was stored
            self.pool.close()
            self.pool = None
        self.answered = 0

    @property
    def probing(self) -> bool:
        return self.working

    def _item(self, key: StatKey) -> str:
        return key.path

    def _save(self, fresh: list) -> None:
        if self.version is not None:
            cache.put(self.store, self.version, fresh)


# What says which code answered (runner.py's `version`), called with the stage's function spec
PROBE_VERSION_FN = "cogvid_lint.probe.cache:probe_version"
CONTENT_VERSION_FN = "cogvid_lint.probe.stream:content_code"

CONTENT_FN = "cogvid_lint.probe.content:content"
# Tests swap the content stage for a stand-in that hangs or aborts on a marked file, as
# COGVID_LINT_PROBE_FN does for the probe.
CONTENT_FN_ENV = "COGVID_LINT_CONTENT_FN"


class ContentJob(NamedTuple):
    """One decode: the clip's file, the frames its trainer takes, how decord turns it, and
    (for an HTML report) the thumbnail strip to make of the same frames (ThumbJob.strip),
    and how much of those frames the selected rules read (probe/content.py TIERS)."""

    key: StatKey
    indices: tuple[int, ...]
    rotation: int = 0
    strip: tuple | None = None  # (chosen indices, tile width, tile height)
    tier: str = "full"


class ContentStream(_PooledStream):
    """(job, ContentFeatures) for each of `jobs`, pulled with `take()`, as ProbeStream does:
    from the store while the clip's stat key, the content code and the sampled frames are
    those a row was stored under (content.job_version), and its tier is the job's or a
    fuller one, else decoded by a pool of workers (one job a chunk: a decode takes a good
    part of a second). Fresh answers go to the store when the stream closes, under the
    tier they cover (a keyframes job may have needed the full decode); a timed-out decode
    is not stored."""

    def __init__(self, jobs: Sequence[ContentJob], store: Store, *, workers: int = 0,
                 timeout: float | None = None, spec: str | None = None, runner: Runner | None = None):
        import os

        from cogvid_lint.probe import content

        self.spec = spec or os.environ.get(CONTENT_FN_ENV) or CONTENT_FN
        self.store = store
        self.jobs = list(jobs)
        self.total = len(self.jobs)
        self.code = content_code(self.spec)
        self.indices = {job.key.path: job.indices for job in self.jobs}
        answering = {job.key.path: content.answering_versions(self.code, job.indices, job.tier) for job in self.jobs}
        known: dict[str, object] = {}
        if store.usable and self.jobs:
            found = store.lookup(content.KIND, answering, [job.key for job in self.jobs])
            for path, text in found.items():
                item = content.decode(_loads(text))
                if item is not None and item.path == path and \
                        content.job_version(self.code, self.indices[path], item.tier) in answering[path]:
                    known[path] = item
            store.undecodable(content.KIND, len(found) - len(known))
        self.stored = [(job, known[job.key.path]) for job in self.jobs if job.key.path in known]
        self.todo = [job for job in self.jobs if job.key.path not in known]
        self.fresh: list[tuple[StatKey, object]] = []
        self.unstored = set()
        self.failures: list[tuple[str, str]] = []  # (path, why) of clips whose frames did not decode
        self.pool: Pool | None = None
        # Strips made by this decode (for the report): stored as the thumbnail stage's are;
        # a strip already stored is not asked for again.
        from cogvid_lint.probe import thumbs

        code = thumbs.thumbs_version() if any(job.strip is not None for job in self.todo) else ""
        self.strip_versions = {job.key.path: thumbs.job_version(code, job.strip[0], job.strip[1:])
                               for job in self.todo if job.strip is not None}
        have = set(store.lookup(thumbs.KIND, self.strip_versions, [job.key for job in self.todo
                                                                   if job.strip is not None])) \
            if store.usable and self.strip_versions else set()
        self.strips: list[tuple[StatKey, object]] = []
        if self.todo:
            # one job a chunk: a decode takes a good part of a second
            self.pool = (runner or LocalRunner()).pool(workers, timeout, self.spec, chunk=1,
                                                       version=CONTENT_VERSION_FN)
            self.pool.submit([(job.key.path, job.indices, job.rotation, None,
                               job.strip if job.key.path not in have else None, job.tier) for job in self.todo])
        self.answered = 0

    @property
    def decoding(self) -> bool:
        return self.working

    def _key(self, job: ContentJob) -> StatKey:
        return job.key

    def take(self, wait: bool = True) -> list[tuple[ContentJob, object]]:
        batch = [(job, self._split(job, item)) for job, item in super().take(wait)]
        self.failures += [(job.key.path, item.error) for job, item in batch if getattr(item, "error", None)]
        return batch

    def _split(self, job: ContentJob, item: object) -> object:
        """A decode that also made a strip answers (features, strip): the strip is kept
        for the store; the features go on."""
        if _with_strip(item):
            self.strips.append((job.key, item[1]))
        return _features_of(item)

    def _keep(self, answer) -> bool:
        return super()._keep(_features_of(answer))

    def _save(self, fresh: list) -> None:
        from cogvid_lint.probe import content, thumbs

        if self.store.usable:
            good = [(key, _features_of(item)) for key, item in fresh]
            good = [(key, item) for key, item in good if isinstance(item, content.ContentFeatures)]
            versions = {key.path: content.job_version(self.code, self.indices[key.path], item.tier)
                        for key, item in good}
            self.store.put(content.KIND, versions, ((key, content.encode(item)) for key, item in good))
            made = [(key, item) for key, item in self.strips if isinstance(item, thumbs.ThumbStrip)
                    and key.path in self.strip_versions and key.path not in self.unstored and "timed out" not in (item.error or "")]
            self.store.put(thumbs.KIND, self.strip_versions, ((key, thumbs.encode(item)) for key, item in made))
        self.strips = []


def _with_strip(answer: object) -> bool:
    """A content answer that carries the report's strip too: (features, strip)."""
    return type(answer) is tuple and len(answer) == 2


def _features_of(answer: object) -> object:
    return answer[0] if _with_strip(answer) else answer


def content_code(spec: str) -> str:
    """The version of the code a content job's answer comes from: the content stage's
    sources, and the function when it is not the real one (tests' stand-ins)."""
    from cogvid_lint.probe import content

    return content.content_version() + (spec if spec != CONTENT_FN else "")


def _loads(text: str) -> object:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return None


THUMBS_FN = "cogvid_lint.probe.thumbs:strip"
# Tests swap the thumbnail decode for one that logs the clips it decodes.
THUMBS_FN_ENV = "COGVID_LINT_THUMBS_FN"


class ThumbJob(NamedTuple):
    """One strip for the report: the clip's file, the frames shown (training order), how
    decord turns it, the tile size."""

    key: StatKey
    chosen: tuple[int, ...]
    rotation: int
    tile: tuple[int, int]


class ThumbStream(_PooledStream):
    """(job, ThumbStrip) for each of `jobs`: from the store (made by an earlier run's
    thumbnail decode or content stage) while the clip's stat key, the code, the frames and
    the tile size hold, else decoded by a pool of workers. `decoded` counts the clips sent
    to the workers (0 on a warm run). Fresh strips go to the store on close."""

    def __init__(self, jobs: Sequence[ThumbJob], store: Store, *, workers: int = 0,
                 timeout: float | None = None, spec: str | None = None):
        import os

        from cogvid_lint.probe import thumbs

        self.spec = spec or os.environ.get(THUMBS_FN_ENV) or THUMBS_FN
        self.store = store
        self.jobs = list(jobs)
        self.total = len(self.jobs)
        code = thumbs.thumbs_version()
        self.versions = {job.key.path: thumbs.job_version(code, job.chosen, job.tile) for job in self.jobs}
        known: dict[str, object] = {}
        if store.usable and self.jobs:
            found = store.lookup(thumbs.KIND, self.versions, [job.key for job in self.jobs])
            for path, text in found.items():
                item = thumbs.decode(text)
                if item is not None and item.path == path:
                    known[path] = item
            store.undecodable(thumbs.KIND, len(found) - len(known))
        self.stored = [(job, known[job.key.path]) for job in self.jobs if job.key.path in known]
        self.todo = [job for job in self.jobs if job.key.path not in known]
        self.decoded = len(self.todo)
        self.fresh: list[tuple[StatKey, object]] = []
        self.unstored = set()
        # on this machine whatever the engine: strips are made for the clips with findings
        # alone, a report's worth, not a dataset's
        self.pool: ProbePool | None = None
        if self.todo:
            self.pool = ProbePool(workers, timeout, self.spec, chunk=1)
            self.pool.submit([(job.key.path, job.chosen, job.rotation, *job.tile) for job in self.todo])
        self.answered = 0

    def _key(self, job: ThumbJob) -> StatKey:
        return job.key

    def _save(self, fresh: list) -> None:
        from cogvid_lint.probe import thumbs

        if self.store.usable:
            good = [(key, item) for key, item in fresh if isinstance(item, thumbs.ThumbStrip)]
            self.store.put(thumbs.KIND, self.versions, ((key, thumbs.encode(item)) for key, item in good))
