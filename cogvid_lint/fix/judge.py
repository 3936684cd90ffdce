"""A media fix is planned against the rules before it is applied: never make a clip worse.

The rewrite's output is known before any pixel is encoded — its size, frames and rate are
the plan (`media_plan.predicted_info`) — so the video rules can be run on those facts as
they are run on a probed clip. A rewrite that would add a finding more severe than the
worst it removes (a 2 s clip re-timed to 16 frames: a CVL107 warning fixed, a CVL102 error
made) is not applied, and the run says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from cogvid_lint.discover.project import Clip, Project
from cogvid_lint.findings import Diagnostic
from cogvid_lint.fix.media_plan import Rewrite, predicted_info, worse
from cogvid_lint.probe.info import VideoInfo


class RewriteJudge:
    """`judge(rewrite)`: why the rewrite would leave its clip worse than it finds it, or None.

    `project()`: the last lint pass's project (its clips carry their probe facts);
    `findings(clip, info)`: the (filtered) findings of the rules that judge, on `clip` were
    its facts `info` — both given by the command, which knows the engine and the settings."""

    def __init__(self, project: Callable[[], Project | None],
                 findings: Callable[[Clip, VideoInfo], Sequence[Diagnostic]]):
        self._project = project
        self._findings = findings
        self._indexed: Project | None = None
        self._clips: dict[Path, Clip] = {}

    def __call__(self, rewrite: Rewrite) -> str | None:
        clip = self._clip(rewrite.path)
        info = clip.info if clip is not None else None
        if info is None or info.error is not None:
            return None  # nothing to plan against: the applier refuses a clip it cannot read
        job = rewrite.job(info)
        if isinstance(job, str):
            return None  # the plan no longer fits the clip: the applier refuses it, saying why
        before = list(self._findings(clip, info))
        # the findings the rewrite is planned for count as removed, though the judging rules
        # (the video rules, on probe facts) may not be among their rules (a CVL5 pixel rule)
        had = {d.code for d in before}
        before += [d for d in rewrite.settles if d.code not in had]
        return worse(before, self._findings(clip, predicted_info(job, info)))

    def _clip(self, path: Path) -> Clip | None:
        project = self._project()
        if project is None:
            return None
        if project is not self._indexed:  # each pass of a fix run discovers the clips anew
            self._clips = {}
            for dataset in project.datasets:
                for clip in dataset.clips:
                    self._clips.setdefault(Path(os.path.normpath(clip.fspath)), clip)
            self._indexed = project
        return self._clips.get(Path(os.path.normpath(path)))
