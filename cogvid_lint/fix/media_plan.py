"""Media fix plans: center-crop-resize (CVL105) and re-time (CVL107, CVL108), and their merge.

Pure arithmetic (no media library): a plan is carried in the finding's fix, shown by
`--diff`, and executed by the media fixer, which merges every plan for one clip into one
`Job` (one decode, one encode).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from cogvid_lint import defaults
from cogvid_lint.discover.project import Clip
from cogvid_lint.findings import Applicability, Fix, RewriteMedia
from cogvid_lint.fix.transcode import Job, muxer_for
from cogvid_lint.models import Resolution

DEFAULT_CRF = defaults.CRF
# A re-time to the model's rate is constant too, so it also settles a variable frame rate.
SPEED_PRIORITY, CONSTANT_RATE_PRIORITY = 2, 1


def crop_window(width: int, height: int, target_w: int, target_h: int) -> tuple[int, int, int, int]:
    """The centred (x, y, w, h) window of a width×height picture with the target's aspect.

    Scaling by max(W/w, H/h) makes the picture cover the target; the window is the target
    size divided by that scale, rounded to even sizes (yuv420p needs them)."""
    scale = max(target_w / width, target_h / height)
    crop_w = min(width, max(2, int(round(target_w / scale / 2)) * 2))
    crop_h = min(height, max(2, int(round(target_h / scale / 2)) * 2))
    return (width - crop_w) // 2, (height - crop_h) // 2, crop_w, crop_h


def _source(clip: Clip) -> dict:
    """What the plan was made for: the fixer refuses a clip that no longer matches."""
    return {"source": [clip.info.width, clip.info.height], "rotation": clip.info.rotation}


def crop_resize_fix(clip: Clip, resolution: Resolution, crf: int = DEFAULT_CRF) -> Fix:
    info = clip.info
    x, y, crop_w, crop_h = crop_window(info.width, info.height, resolution.width, resolution.height)
    plan = {
        "kind": "crop-resize",
        **_source(clip),
        "crop": [x, y, crop_w, crop_h],
        "resize": [resolution.width, resolution.height],
        "crf": crf,
    }
    steps = f"{info.width}x{info.height}"
    if info.rotation:
        steps = f"{info.coded_width}x{info.coded_height} rotated {info.rotation}° → {steps}"
    title = (f"Center-crop-resize: {steps} → crop {crop_w}x{crop_h} → resize "
             f"{resolution.width}x{resolution.height} (re-encodes the clip; audio is dropped)")
    return Fix(title, Applicability.UNSAFE, (RewriteMedia(clip.path, clip.dataset.root, plan),))


def retimed_frames(clip: Clip, fps: float) -> int:
    """Frames of the clip re-timed to `fps` over the same duration."""
    return max(1, round(clip.info.frames * fps / clip.info.fps))


def retime_fix(clip: Clip, fps: int, why: str, priority: int, crf: int = DEFAULT_CRF) -> Fix:
    """Re-time to a constant `fps` by timestamp: the frame on screen at each k / fps is kept."""
    info = clip.info
    frames = retimed_frames(clip, fps)
    plan = {"kind": "retime", **_source(clip), "fps": fps, "source_fps": round(info.fps, 3),
            "frames": frames, "priority": priority, "crf": crf}
    title = (f"Re-time to a constant {fps} fps ({why}): {info.frames} → {frames} frames "
             "(re-encodes the clip; audio is dropped)")
    return Fix(title, Applicability.UNSAFE, (RewriteMedia(clip.path, clip.dataset.root, plan),))


@dataclass
class Rewrite:
    """Every plan for one clip, merged."""

    path: Path
    root: Path
    crop: dict | None = None
    retime: dict | None = None
    op_ids: list[int] = field(default_factory=list)

    def add(self, op: RewriteMedia) -> None:
        self.op_ids.append(id(op))
        plan = dict(op.plan)
        if plan.get("kind") == "crop-resize":
            self.crop = self.crop or plan
        elif plan.get("kind") == "retime":
            if self.retime is None or plan.get("priority", 0) > self.retime.get("priority", 0):
                self.retime = plan

    def steps(self) -> str:
        """`1280x720 → crop 1080x720 → resize 720x480` (for --diff)."""
        crop, retime = self.crop, self.retime
        first = crop or retime or {}
        width, height = first.get("source", (0, 0))
        rotation = first.get("rotation", 0)
        parts = []
        if rotation:
            coded = (height, width) if rotation in (90, 270) else (width, height)
            parts.append(f"{coded[0]}x{coded[1]} rotated {rotation}°")
        parts.append(f"{width}x{height}")
        if crop:
            parts += [f"crop {crop['crop'][2]}x{crop['crop'][3]}", f"resize {crop['resize'][0]}x{crop['resize'][1]}"]
        if retime:
            parts.append(f"{retime['source_fps']:g} fps → {retime['fps']:g} fps ({retime['frames']} frames)")
        return " → ".join(parts)

    def job(self, info) -> Job | str:
        """The job for the clip as it is now, or why the plans no longer fit it."""
        if info.error:
            return f"it does not read: {info.error}"
        for plan in (self.crop, self.retime):
            if plan and (list(plan.get("source", ())) != [info.width, info.height]
                         or plan.get("rotation", 0) != info.rotation):
                return "it changed since it was checked (run again)"
        crop, retime = self.crop, self.retime
        if crop is None and retime is None:
            return "no plan this version of cogvid-lint knows"
        return Job(rotation=info.rotation,
                   crop=tuple(crop["crop"]) if crop else None,
                   size=tuple(crop["resize"]) if crop else None,
                   fps=Fraction(retime["fps"]).limit_denominator(1001000) if retime else None,
                   frames=int(retime["frames"]) if retime else info.frames,
                   crf=int((crop or retime).get("crf", DEFAULT_CRF)), muxer=muxer_for(self.path))


def merge(ops: Sequence[tuple[RewriteMedia, object]]) -> list[Rewrite]:
    """One `Rewrite` per clip, in the order the clips were first named."""
    rewrites: dict[Path, Rewrite] = {}
    for op, _ in ops:
        path = Path(os.path.normpath(op.path))
        rewrites.setdefault(path, Rewrite(path, Path(os.path.normpath(op.root)))).add(op)
    return list(rewrites.values())
