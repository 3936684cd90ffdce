"""The probe step: fill `clip.info` for every clip an enabled video rule will look at.

One `stat` per clip gives both "is it there" and the cache key; cached answers come from
one read transaction, the rest from the worker pool, and go back in one write.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from cogvid_lint import run_memo
from cogvid_lint.discover.project import Clip, Project
from cogvid_lint.gcpause import gc_paused
from cogvid_lint.probe.cache import DB_NAME, StatKey, cache_dir, probe_version, with_cache
from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.probe.pool import DEFAULT_TIMEOUT, available_cpus, prestart, probe_many
from cogvid_lint.probe.worker import probe_fn_spec
from cogvid_lint.settings import Settings

# Rough cost of one cold probe (PyAV header + packet count), to decide whether a progress
# bar is worth drawing: only for probes expected to outlast PROGRESS_AFTER_S.
EXPECTED_PROBE_S = 0.004
PROGRESS_AFTER_S = 2.0
POSIX = os.name == "posix"


@gc_paused()  # a StatKey per clip (not around the probing: in-process or forked, decoders make garbage)
def probe_targets(project: Project) -> list[tuple[Clip, StatKey]]:
    """Clips that are listed, inside their data root, and present (missing ones get CVL003)."""
    found = []
    isabs, abspath = os.path.isabs, os.path.abspath
    for ds in project.datasets:
        for clip in ds.clips:
            if clip.escapes_root:
                continue
            st = clip.stat  # taken by discovery: no second stat
            if st is None:  # missing, dangling link, NUL in the name
                continue
            path = clip.fspath  # normpath'd or pathlib's: abspath() would change it only by a ".."
            if ".." in path or not (path[:1] == "/" if POSIX else isabs(path)):
                path = abspath(path)
            found.append((clip, StatKey(path, st.st_size, st.st_mtime_ns, st.st_ino)))
    return found


def expect_probes(settings: Settings) -> None:
    """Called before discovery: when the clips will surely be probed (no probe cache to
    answer: --no-cache, or none written yet) by two workers or more, start them now, so that
    they get ready while discovery runs (see pool.prestart). Not for one job, which keeps to
    one CPU's worth of work at a time."""
    jobs = int(settings.option("jobs", 0)) or available_cpus()
    if jobs < 2:
        return
    if settings.option("no_cache") or not (cache_dir(settings) / DB_NAME).exists():
        prestart(jobs)


def probe_project(project: Project, settings: Settings, progress: bool = False,
                  meanwhile: Callable[[], bool] | None = None,
                  on_probed: Callable[[list[Clip]], None] | None = None) -> None:
    """`progress`: the caller's output is for people (a rich bar may go to stderr).
    `meanwhile`: other work, a unit per call (False: none for now), that the parent may do
    while more than one worker probes (see pool.probe_many).
    `on_probed(clips)`: called as soon as a file's answer, cached or probed, is in
    `clip.info`, with every clip that names the file (a file listed twice is probed once)."""
    targets = probe_targets(project)
    if not targets:
        return
    clips_of: dict[str, list[Clip]] = {}
    for clip, key in targets:
        clips_of.setdefault(key.path, []).append(clip)

    def answered(path: str, info: VideoInfo) -> None:
        clips = clips_of[path]
        for clip in clips:
            clip.info = info
        if on_probed:
            on_probed(clips)

    spec = probe_fn_spec()
    version = None if settings.option("no_cache") else probe_version(spec)
    unique = list({key.path: key for _, key in targets}.values())  # a clip listed twice is probed once
    known = with_cache(settings, version, lambda cache: cache.lookup(unique))
    if known is None:  # no cache, or it cannot be used (warned once): don't try to store either
        known, version = {}, None
    for path, info in known.items():
        answered(path, info)
    todo = [key for key in unique if key.path not in known]
    if not todo:
        return
    jobs = int(settings.option("jobs", 0)) or available_cpus()
    timeout = float(settings.option("probe_timeout", DEFAULT_TIMEOUT))
    with _progress_bar(len(todo), jobs, progress) as advance:
        def on_result(index: int, info: VideoInfo) -> None:
            answered(todo[index].path, info)
            if advance:
                advance()

        infos = probe_many([key.path for key in todo], jobs=jobs, timeout=timeout, spec=spec, on_result=on_result,
                           meanwhile=meanwhile)
    _remember(settings, version, todo, infos)


@gc_paused()  # a row per clip, on a heap of every clip's objects: nothing for the collector
def _remember(settings: Settings, version: str | None, todo: list[StatKey], infos: list[VideoInfo]) -> None:
    # A timeout says as much about this run (load, --probe-timeout) as about the clip:
    # probe it again next time rather than remember it.
    timed_out = [n for n, info in enumerate(infos) if (info.error or "").startswith("probe timed out")]
    if timed_out:  # nor remember the whole run's report
        run_memo.spoil("a probe timed out")
    if version is not None:
        skip = set(timed_out)
        kept = [(key, info) for n, (key, info) in enumerate(zip(todo, infos)) if n not in skip]
        with_cache(settings, version, lambda cache: cache.store(kept))


@contextmanager
def _progress_bar(total: int, jobs: int, wanted: bool) -> Iterator[Callable[[], None] | None]:
    """A rich bar on stderr when a person is watching and the wait is long enough to notice."""
    if not wanted or total * EXPECTED_PROBE_S / max(jobs, 1) < PROGRESS_AFTER_S or not sys.stderr.isatty():
        yield None
        return
    run_memo.spoil("a progress bar")  # drawn on stderr: nothing to print again
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # auto_refresh=False: no refresher thread, so forking workers stays safe.
    with Progress(TextColumn("probing clips"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True, auto_refresh=False) as bar:
        task = bar.add_task("probe", total=total)
        step = max(1, total // 200)
        count = 0

        def advance() -> None:
            nonlocal count
            count += 1
            if count % step == 0 or count == total:
                bar.update(task, completed=count, refresh=True)

        yield advance
