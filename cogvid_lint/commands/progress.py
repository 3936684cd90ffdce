"""A rich progress bar on stderr while clips are probed or decoded, when a person is watching
and the wait is long enough to notice (a decode always is)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from cogvid_lint.probe.stream import ContentStream, ProbeStream

# Rough cost of one cold probe (PyAV header + packet count): a bar only for probing expected
# to outlast PROGRESS_AFTER_S.
EXPECTED_PROBE_S = 0.004
PROGRESS_AFTER_S = 2.0


class ProgressBar:
    def __init__(self, bar=None, task=None, total: int = 0):
        self._bar, self._task, self.total = bar, task, total
        self._step = max(1, total // 200)
        self._shown = 0

    def show(self, done: int) -> None:
        if self._bar is not None and (done - self._shown >= self._step or (done == self.total and done != self._shown)):
            self._shown = done
            self._bar.update(self._task, completed=done, refresh=True)

    @classmethod
    @contextmanager
    def maybe(cls, probes: ProbeStream, jobs: int, wanted: bool) -> Iterator[ProgressBar]:
        """A bar when `wanted` (the output is for people), stderr is a terminal, and the
        clips left to probe are many enough; else one that shows nothing."""
        todo = len(probes.todo)
        if not wanted or todo * EXPECTED_PROBE_S / max(jobs, 1) < PROGRESS_AFTER_S or not sys.stderr.isatty():
            yield cls()
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        # auto_refresh=False: no refresher thread, so forking workers stays safe.
        with Progress(TextColumn("probing clips"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=Console(stderr=True), transient=True, auto_refresh=False) as bar:
            task = bar.add_task("probe", total=probes.total)
            yield cls(bar, task, probes.total)

    @classmethod
    @contextmanager
    def decoding(cls, stream: ContentStream, wanted: bool) -> Iterator[ProgressBar]:
        """While the content stage decodes clips (any run that decodes one): clips/s and ETA.
        Stored features (a re-run) decode nothing and draw no bar."""
        if not wanted or not stream.todo or not sys.stderr.isatty():
            yield cls()
            return
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                                   TimeRemainingColumn)
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:.1f} clips/s" if speed else "- clips/s", style="progress.data.speed")

        with Progress(TextColumn("decoding sampled frames"), BarColumn(), MofNCompleteColumn(), Rate(),
                      TimeRemainingColumn(), console=Console(stderr=True), transient=True,
                      auto_refresh=False) as bar:
            task = bar.add_task("content", total=stream.total)
            yield cls(bar, task, stream.total)
