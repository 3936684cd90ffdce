"""The probe step: fill `clip.info` for every clip an enabled video rule will look at."""

from __future__ import annotations

import os

from cogvid_lint.discover.project import Clip, Project
from cogvid_lint.settings import Settings


def probe_targets(project: Project) -> list[Clip]:
    """Clips that are listed, inside their data root, and present (missing ones get CVL003)."""
    return [clip for ds in project.datasets for clip in ds.clips
            if not clip.escapes_root and os.path.lexists(clip.path) and os.path.exists(clip.path)]


def probe_project(project: Project, settings: Settings) -> None:
    from cogvid_lint.probe.pyav import probe

    for clip in probe_targets(project):
        clip.info = probe(clip.path)
