"""Helpers shared by the check modules: how a finding about a clip or a list line is placed."""

from __future__ import annotations

from typing import Any, Mapping

from cogvid_lint.discover.project import Clip, ManifestLine
from cogvid_lint.findings import Finding, Fix, Location
from cogvid_lint.wording import every_text, last_frames_text, rate_text, turned_text  # noqa: F401 (the checks' words)


def clip_finding(clip: Clip, args: Mapping[str, Any] | None = None, fix: Fix | None = None) -> Finding:
    """A finding whose path is the clip, anchored to the list line that names it."""
    anchor = Location(clip.entry.file, clip.entry.line) if clip.entry is not None else None
    return Finding(Location(clip.path), dict(args or {}), fix=fix, anchor=anchor)


def manifest_finding(entry: ManifestLine, args: Mapping[str, Any] | None = None) -> Finding:
    return Finding(Location(entry.file, entry.line), dict(args or {}))
