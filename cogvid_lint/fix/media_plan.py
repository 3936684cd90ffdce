"""Media fix plans: center-crop-resize (CVL105) and re-time (CVL107, CVL108), and their merge.

Pure arithmetic (no media library): a plan is carried in the finding's fix, shown by
`--diff`, and executed by the media fixer, which merges every plan for one clip into one
`Job` (one decode, one encode).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from cogvid_lint import defaults
from cogvid_lint.discover.project import Clip
from cogvid_lint.findings import Applicability, Diagnostic, Fix, RewriteMedia
from cogvid_lint.fix.transcode import Job, muxer_for
from cogvid_lint.models import Resolution
from cogvid_lint.probe.info import VideoInfo

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


def crop_resize_plan(width: int, height: int, target_w: int, target_h: int
                     ) -> tuple[tuple[int, int, int, int], tuple[int, int], bool]:
    """(crop window, size written, whether the training size would need an upscale) of the
    center-crop-resize of a width×height display picture: what `crop_resize_fix` plans, and
    what `inspect --show` draws as the fixed frame."""
    x, y, crop_w, crop_h = crop_window(width, height, target_w, target_h)
    upscale = crop_w < target_w or crop_h < target_h
    return (x, y, crop_w, crop_h), ((crop_w, crop_h) if upscale else (target_w, target_h)), upscale


def crop_resize_fix(clip: Clip, resolution: Resolution, crf: int = DEFAULT_CRF) -> Fix:
    """Center-crop to the training aspect, then scale down to the training size — never up.

    A clip smaller than the training size is cropped and kept at the crop's size: the
    trainer's own resize upscales it without distortion once the aspect matches, so an
    upscale written to disk would add no detail, cost a larger re-encode, and hide from
    CVL106 (upscaled-video) that the clip is smaller than what trains. The file itself stays
    the fact CVL106 reads: no fix history is needed to lint it the same everywhere."""
    info = clip.info
    (x, y, crop_w, crop_h), size, upscale = crop_resize_plan(info.width, info.height,
                                                             resolution.width, resolution.height)
    size = list(size)
    plan = {
        "kind": "crop-resize",
        **_source(clip),
        "crop": [x, y, crop_w, crop_h],
        "resize": size,
        "crf": crf,
    }
    if upscale:
        plan["not_upscaled"] = [resolution.width, resolution.height]
    steps = f"{info.width}x{info.height}"
    if info.rotation:
        steps = f"{info.coded_width}x{info.coded_height} rotated {info.rotation}° → {steps}"
    if upscale:
        title = (f"Center-crop to the training aspect: {steps} → crop {crop_w}x{crop_h}, not upscaled to "
                 f"{resolution.width}x{resolution.height} (re-encodes the clip; audio is dropped)")
    else:
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
    crop_ids: list[int] = field(default_factory=list)  # id() of the operations each part settles
    retime_ids: list[int] = field(default_factory=list)

    @property
    def op_ids(self) -> list[int]:
        return self.crop_ids + self.retime_ids

    def add(self, op: RewriteMedia) -> None:
        plan = dict(op.plan)
        if plan.get("kind") == "crop-resize":
            self.crop_ids.append(id(op))
            self.crop = self.crop or plan
        elif plan.get("kind") == "retime":
            self.retime_ids.append(id(op))
            if self.retime is None or plan.get("priority", 0) > self.retime.get("priority", 0):
                self.retime = plan
        else:
            self.crop_ids.append(id(op))  # a plan this version does not know: job() refuses it

    def parts(self) -> list[tuple[Rewrite, Rewrite]]:
        """(one part, the other): the crop alone and the re-time alone, when both are planned
        (else none) — what is left to try when the whole rewrite would make the clip worse."""
        if self.crop is None or self.retime is None:
            return []
        crop = Rewrite(self.path, self.root, crop=self.crop, crop_ids=list(self.crop_ids))
        retime = Rewrite(self.path, self.root, retime=self.retime, retime_ids=list(self.retime_ids))
        return [(crop, retime), (retime, crop)]

    def what(self) -> str:
        return " and ".join(name for name, plan in (("crop", self.crop), ("re-time", self.retime)) if plan)

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
        if crop and crop.get("not_upscaled"):
            target = crop["not_upscaled"]
            parts.append(f"crop {crop['crop'][2]}x{crop['crop'][3]} (not upscaled to {target[0]}x{target[1]})")
        elif crop:
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


def predicted_info(job: Job, info: VideoInfo) -> VideoInfo:
    """What a probe will say of the clip once `job` has rewritten it (what `verify` then
    checks): the job's size, frames and rate, no rotation flag; a re-time is constant-rate,
    a crop alone keeps every timestamp."""
    width, height = job.size or (info.width, info.height)
    after = replace(info, error=None, frames=job.frames, header_frames=job.frames, width=width, height=height,
                    coded_width=width, coded_height=height, rotation=0, has_audio=False, codec="h264",
                    pix_fmt="yuv420p")
    if job.fps:
        fps = float(job.fps)
        after = replace(after, fps=fps, variable_frame_rate=False, min_frame_duration_s=1 / fps,
                        max_frame_duration_s=1 / fps, duration_s=job.frames / fps)
    return after


def worse(before: Sequence[Diagnostic], after: Sequence[Diagnostic]) -> str | None:
    """Why a rewrite would make the clip worse, or None: a finding it would add (a rule that
    did not fire before) is more severe than the worst one it removes."""
    had = {d.code for d in before}
    now = {d.code for d in after}
    added = [d for d in after if d.code not in had]
    removed = [d for d in before if d.code not in now]
    if not added:
        return None
    worst_added = max(added, key=lambda d: (d.severity.rank, d.code))
    worst_removed = max(removed, key=lambda d: (d.severity.rank, d.code)) if removed else None
    if worst_removed is not None and worst_added.severity.rank <= worst_removed.severity.rank:
        return None
    gone = (f"worse than the {worst_removed.code} {worst_removed.name} ({worst_removed.severity.value}) it fixes"
            if worst_removed is not None else "and fixes nothing")
    return f"it would add {worst_added.code} {worst_added.name} ({worst_added.severity.value}: " \
           f"{worst_added.message}), {gone}"
