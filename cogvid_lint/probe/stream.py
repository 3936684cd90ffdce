"""The probe stage as a stream: the facts of each file, from the store while its stat key is
unchanged, else from the worker pool; pulled by its consumer, which may do other work
between two pulls. Fresh answers go back to the store when the stream closes.
"""

from __future__ import annotations

from collections.abc import Sequence

from cogvid_lint.probe import cache
from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.probe.pool import ProbePool
from cogvid_lint.probe.worker import probe_fn_spec
from cogvid_lint.store import StatKey, Store

# Stored answers are handed over this many at a time, so that the consumer's other work
# interleaves with them as it does with fresh ones.
STORED_BATCH = 1024


class ProbeStream:
    """(path, VideoInfo) for each of `keys` (unique paths), pulled with `take()`.

    `pool`: the workers to probe with; one started early (ProbePool(start=True)) is used as
    is, else one is made when a file needs probing. The stream owns it: `close()` stops it
    and writes the fresh answers to the store (a timed-out probe is not stored: a timeout
    says as much about this run's load as about the clip)."""

    def __init__(self, keys: Sequence[StatKey], store: Store, *, jobs: int = 0, timeout: float | None = None,
                 pool: ProbePool | None = None, spec: str | None = None):
        self.spec = spec or (pool.spec if pool is not None else probe_fn_spec())
        self.store = store
        self.version = cache.probe_version(self.spec) if store.usable else None
        known = cache.lookup(store, self.version, keys) if self.version is not None else {}
        self.total = len(keys)
        self.stored = list(known.items())
        self.todo = [key for key in keys if key.path not in known]
        self.fresh: list[tuple[StatKey, VideoInfo]] = []
        self.pool = pool
        if self.todo:
            if self.pool is None:
                self.pool = ProbePool(jobs, timeout, self.spec)
            elif timeout is not None:
                self.pool.timeout = timeout
            self.pool.submit([key.path for key in self.todo])
        elif self.pool is not None:  # started early for nothing: every answer was stored
            self.pool.close()
            self.pool = None
        self.answered = 0

    def __enter__(self) -> ProbeStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def probing(self) -> bool:
        """Whether workers are probing (a consumer may then use its own CPU meanwhile)."""
        return self.pool is not None and not self.pool.finished

    @property
    def finished(self) -> bool:
        return not self.stored and not self.probing

    def take(self, wait: bool = True) -> list[tuple[str, VideoInfo]]:
        """The next answers: stored ones first, then those the workers have given; with
        `wait`, at least one unless the stream is finished."""
        if self.stored:
            batch, self.stored = self.stored[:STORED_BATCH], self.stored[STORED_BATCH:]
        elif self.pool is not None:
            batch = []
            for index, info in self.pool.take(wait):
                key = self.todo[index]
                batch.append((key.path, info))
                if not (info.error or "").startswith("probe timed out"):
                    self.fresh.append((key, info))
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
        if self.fresh and self.version is not None:
            fresh, self.fresh = self.fresh, []
            cache.put(self.store, self.version, fresh)
