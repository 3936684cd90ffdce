"""Applies `RewriteMedia` operations: each clip re-encoded once, verified, then swapped in.

All plans for one clip (a crop-resize from CVL105, a re-time from CVL107 or CVL108) merge
into one `Job`, so a clip is decoded and encoded once. For each clip, in this order:

1. refuse a clip that is a symlink, leads outside its data root, changed since it was
   checked, or would not fit on the disk (temp file + backup);
2. journal `start`, encode to a hidden temp file beside the clip (`.cogvid-lint-tmp-*.part`:
   no layout lists it), fsync;
3. re-probe it (frame count, size, rate, no rotation flag) and decode it to the last frame;
   journal `verified` with its hash;
4. hard-link the original into `.cogvid-lint/backup/<run-id>/<relative path>`;
5. `os.replace` the temp file over the clip, fsync the folder; journal `replaced`.

Test hook: `COGVID_LINT_TEST_KILL_AT=<step>:<n>` makes the process SIGKILL itself the n-th
time it reaches `<step>` (`encode`: while writing the n-th clip's temp file, past half its
frames; `verified`, `backed-up`, `replaced`: after those steps; `clip`: after a clip is
complete). tests/test_media_sigkill.py uses it to stop a run at exact points; it is read
only here and does nothing when unset.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from cogvid_lint.findings import Diagnostic, RewriteMedia
from cogvid_lint.fix import backup
from cogvid_lint.fix.media_plan import Rewrite, merge
from cogvid_lint.fix.transcode import Job, muxer_for
from cogvid_lint.fsutil import fsync_dir

KILL_HOOK = "COGVID_LINT_TEST_KILL_AT"
# Room asked for the temp file: 2 bits a pixel, several times what x264 at crf 18 writes.
TEMP_BYTES_PER_PIXEL = 0.25


def refusal(path: Path, root: Path) -> str | None:
    """Why the clip must not be rewritten in place, or None."""
    try:
        path.relative_to(root)
    except ValueError:
        return f"outside its data root {root}"
    if path.is_symlink():
        return "a symlink (refusing to replace a link or write where it points)"
    real, real_root = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    try:
        real.relative_to(real_root)
    except ValueError:
        return f"a symlinked folder leads outside {root}"
    if not path.is_file():
        return "not a regular file"
    if muxer_for(path) is None:
        return f"unknown container type {path.suffix!r}"
    return None


def verify(temp: Path, job: Job, info) -> str | None:
    """Why the re-encoded file is not what the job asked for, or None."""
    from cogvid_lint.fix.transcode import decoded_frames
    from cogvid_lint.probe.pyav import probe

    out = probe(temp)
    if out.error:
        return f"the re-encoded clip does not read back ({out.error})"
    size = job.size or (info.width, info.height)
    if (out.width, out.height) != tuple(size) or out.rotation:
        return f"the re-encoded clip is {out.width}x{out.height} rotated {out.rotation}°, not {size[0]}x{size[1]}"
    if out.frames != job.frames:
        return f"the re-encoded clip has {out.frames} frames, not {job.frames}"
    rate = float(job.fps) if job.fps else info.fps
    if rate and (not out.fps or abs(out.fps - rate) > 0.01 * rate):
        return f"the re-encoded clip plays at {out.fps} fps, not {rate:g}"
    decoded = decoded_frames(temp)
    if decoded != job.frames:
        return f"the re-encoded clip decodes {decoded} of {job.frames} frames"
    return None


# Why a rewrite would leave its clip worse than it finds it, or None (fix.judge.RewriteJudge)
Judge = Callable[[Rewrite], "str | None"]


class MediaApplier:
    def __init__(self, judge: Judge | None = None) -> None:
        self.judge = judge
        self.refused: list[str] = []  # rewrites the judge turned down, as notes
        self.run_id: str | None = None
        self.journals: dict[Path, backup.Journal] = {}  # data root → this run's journal there
        self.replaced: Counter = Counter()  # data root → clips rewritten
        self.done: set[Path] = set()  # never rewrite a clip twice in one run
        self._kills: Counter = Counter()

    def describe(self, ops: Sequence[tuple[RewriteMedia, Diagnostic]], relpath: Callable) -> list[str]:
        lines = []
        for planned in merge(ops):
            problem = refusal(planned.path, planned.root)
            if problem:
                lines.append(f"# will not rewrite {relpath(planned.path)}: {problem}")
                continue
            rewrite, why = self._judged(planned)
            if why:
                lines.append(f"# will not {why[0]} {relpath(planned.path)}: {why[1]}")
            if rewrite is not None:
                lines.append(f"rewrite {relpath(rewrite.path)}: {rewrite.steps()}")
        return lines

    def _judged(self, rewrite: Rewrite) -> tuple[Rewrite | None, tuple[str, str] | None]:
        """(what to apply of the rewrite — all of it, one part, or None —, (what is not
        applied, why) or None). The whole rewrite first; when it would make the clip worse,
        the crop alone, then the re-time alone."""
        if self.judge is None:
            return rewrite, None
        why = self.judge(rewrite)
        if why is None:
            return rewrite, None
        for part, rest in rewrite.parts():
            if self.judge(part) is None:
                return part, (rest.what(), self.judge(rest) or why)
        return None, (rewrite.what() or "rewrite", why)

    def apply(self, ops: Sequence[tuple[RewriteMedia, Diagnostic]]) -> set[int]:
        todo = []
        for planned in merge(ops):
            if planned.path in self.done:
                continue
            self.done.add(planned.path)
            rewrite, why = self._judged(planned)
            if why:
                self.refused.append(f"Not applied: the {why[0]} of {backup.shown(planned.path)}: {why[1]}.")
            if rewrite is not None:
                todo.append(rewrite)
        applied: set[int] = set()
        with _progress(len(todo)) as advance:
            for rewrite in todo:
                problem = self._rewrite(rewrite)
                if problem is None:
                    applied.update(rewrite.op_ids)
                else:
                    print(f"cogvid-lint: error: {backup.shown(rewrite.path)}: not rewritten: {problem}",
                          file=sys.stderr)
                advance()
        return applied

    @property
    def notes(self) -> list[str]:
        return self.refused + [f"Rewrote {count} clip{'s' if count != 1 else ''}: originals moved to "
                f"{backup.shown(self.journals[root].folder)}/ (`cogvid-lint undo {backup.shown(root)}` puts them back)."
                for root, count in self.replaced.items()]

    def close(self) -> None:
        from cogvid_lint.fix.recovery import prune_run

        for journal in self.journals.values():
            journal.release()
            prune_run(journal)

    def _journal(self, root: Path) -> backup.Journal:
        if root not in self.journals:
            self.run_id = self.run_id or backup.new_run_id()
            journal = backup.Journal(backup.make_run_folder(root, self.run_id))
            journal.hold()
            self.journals[root] = journal
        return self.journals[root]

    def _rewrite(self, rewrite: Rewrite) -> str | None:
        from cogvid_lint.probe.pyav import probe

        path, root = rewrite.path, rewrite.root
        problem = refusal(path, root)
        if problem:
            return problem
        info = probe(path)
        job = rewrite.job(info)
        if isinstance(job, str):
            return job
        try:
            journal = self._journal(root)
        except OSError as exc:
            return f"cannot create the backup folder: {exc.strerror or exc}"
        width, height = job.size or (info.width, info.height)
        problem = backup.space_problem(path, journal.folder, int(job.frames * width * height
                                                                 * TEMP_BYTES_PER_PIXEL) + (1 << 20))
        if problem:
            return problem
        try:
            return self._swap(rewrite, job, info, journal)
        except Exception as exc:  # noqa: BLE001  av raises many kinds; the clip is left as it was
            return f"re-encoding failed: {type(exc).__name__}: {exc}"

    def _swap(self, rewrite: Rewrite, job: Job, info, journal: backup.Journal) -> str | None:
        from cogvid_lint.fix.transcode import transcode

        path, root = rewrite.path, rewrite.root
        rel = path.relative_to(root).as_posix()
        temp = backup.temp_path(path, self.run_id)
        journal.append(rel, "start", temp=temp.relative_to(root).as_posix(), original=backup.file_digest(path))
        try:
            transcode(path, temp, job, on_frame=self._mid_write_hook(temp, job.frames))
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
            problem = verify(temp, job, info)
        except BaseException:
            _discard(temp)
            journal.append(rel, "abandoned")
            raise
        if problem:
            _discard(temp)
            journal.append(rel, "abandoned")
            return problem
        os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
        journal.append(rel, "verified", output=backup.file_digest(temp))
        self._hook("verified")
        try:
            backup.place_backup(path, journal.backup_of(rel))
            self._hook("backed-up")
            os.replace(temp, path)
            fsync_dir(path.parent)
        except OSError as exc:
            from cogvid_lint.fix.recovery import settle_clip

            settle_clip(root, journal, rel, finish=False)  # the original stays; temp and link go
            return f"cannot back up and replace it: {exc.strerror or exc}"
        self._hook("replaced")
        journal.append(rel, "replaced")
        self.replaced[root] += 1
        self._hook("clip")
        return None

    def _mid_write_hook(self, temp: Path, frames: int) -> Callable[[int], None] | None:
        """The `encode` step of the n-th clip: past half its frames, once packets have reached
        the temp file (else at its last frame, before the encoder is flushed)."""
        if not os.environ.get(KILL_HOOK, "").startswith("encode:"):
            return None
        self._kills["encode-clips"] += 1
        if self._kills["encode-clips"] != int(os.environ[KILL_HOOK].partition(":")[2] or 1):
            return None

        def on_frame(count: int) -> None:
            if count >= frames // 2 and (count >= frames or (temp.exists() and temp.stat().st_size > 0)):
                os.kill(os.getpid(), signal.SIGKILL)

        return on_frame

    def _hook(self, step: str) -> None:
        name, _, count = os.environ.get(KILL_HOOK, "").partition(":")
        if name == step:
            self._kills[step] += 1
            if self._kills[step] == int(count or 1):
                os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """Clips done / total and the time left, on stderr, only when a person watches it."""
    if total == 0 or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("re-encoding clips"), BarColumn(), MofNCompleteColumn(), TextColumn("ETA"),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("re-encode", total=total)
        yield lambda: bar.advance(task)


def _discard(temp: Path) -> None:
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass
