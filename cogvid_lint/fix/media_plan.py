"""Media fix plans: center-crop-resize (CVL105) and re-time (CVL107, CVL108), and their merge.

Pure arithmetic (no media library): a plan is carried in the finding's fix, shown by
`--diff`, and executed by the media fixer, which merges every plan for one clip into one
`Job` (one decode, one encode).
"""

from __future__ import annotations

import itertools
import math
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


def even_inward(low: float, high: float) -> tuple[int, int]:
    """[low, high) rounded inward to even edges (yuv420p needs even offsets and sizes)."""
    return math.ceil(low / 2 - 1e-9) * 2, math.floor(high / 2 + 1e-9) * 2


def content_box(bars: tuple[int, int, int, int], reduced: tuple[int, int], size: tuple[int, int]
                ) -> tuple[int, int, int, int] | None:
    """The (x, y, w, h) picture inside the bars, on the clip's `size` display frame: the bar
    widths (top, bottom, left, right) measured on the `reduced` (width, height) analysis
    frame scaled up, rounded inward to even pixels so no bar row is kept. None when nothing
    is left or nothing is cut."""
    top, bottom, left, right = bars
    (rw, rh), (width, height) = reduced, size
    if rw <= 0 or rh <= 0 or width <= 0 or height <= 0:
        return None
    x0, x1 = even_inward(left * width / rw, width - right * width / rw)
    y0, y1 = even_inward(top * height / rh, height - bottom * height / rh)
    if x1 - x0 < 2 or y1 - y0 < 2 or (x1 - x0, y1 - y0) == (width, height):
        return None
    return x0, y0, x1 - x0, y1 - y0


def bars_fix(clip: Clip, box: tuple[int, int, int, int], target: tuple[int, int] | None,
             crf: int = DEFAULT_CRF) -> Fix:
    """Crop the picture out of its bars; with `target` (a trainer that stretches every clip
    to that size), then center-crop-resize the picture to it in the same re-encode — else
    cutting the bars off would change the aspect and make a CVL105 stretch."""
    info = clip.info
    plan = {"kind": "crop-bars", **_source(clip), "box": list(box), "crf": crf}
    if target is not None:
        plan["target"] = list(target)
    then = f", then center-crop-resize to {target[0]}x{target[1]}" if target is not None else ""
    title = (f"Crop the black bars: {info.width}x{info.height} → {box[2]}x{box[3]}{then} "
             "(re-encodes the clip; audio is dropped)")
    return Fix(title, Applicability.UNSAFE, (RewriteMedia(clip.path, clip.dataset.root, plan),))


def trim_fix(clip: Clip, first: int, last: int, why: str, crf: int = DEFAULT_CRF) -> Fix:
    """Keep source frames first..last (inclusive) only: a frozen or black tail, or all but
    one shot, cut off."""
    info = clip.info
    plan = {"kind": "trim", **_source(clip), "frames_before": info.frames, "first": first, "last": last, "crf": crf}
    title = (f"Trim to frames {first}-{last} ({why}): {info.frames} → {last - first + 1} frames "
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
    bars: dict | None = None  # the picture inside black bars, cropped before the aspect crop
    trim: dict | None = None  # the frames kept: every trim planned, intersected
    bars_ids: list[int] = field(default_factory=list)
    trim_ids: list[int] = field(default_factory=list)
    # (part, finding) the plans fix: the judge credits them as removed
    fixes: list[tuple[str, Diagnostic]] = field(default_factory=list)

    PARTS = ("bars", "crop", "retime", "trim")

    @property
    def op_ids(self) -> list[int]:
        return self.crop_ids + self.retime_ids + self.bars_ids + self.trim_ids

    @property
    def settles(self) -> list[Diagnostic]:
        return [diagnostic for _, diagnostic in self.fixes]

    def add(self, op: RewriteMedia, diagnostic=None) -> None:
        plan = dict(op.plan)
        part = {"crop-bars": "bars", "trim": "trim", "crop-resize": "crop", "retime": "retime"}.get(plan.get("kind"))
        if part is not None and isinstance(diagnostic, Diagnostic):
            self.fixes.append((part, diagnostic))
        if plan.get("kind") == "crop-bars":
            self.bars_ids.append(id(op))
            self.bars = self.bars or plan
        elif plan.get("kind") == "trim":
            self.trim_ids.append(id(op))
            if self.trim is None:
                self.trim = plan
            else:  # both cuts: the frames every trim keeps
                self.trim = {**self.trim, "first": max(self.trim["first"], plan["first"]),
                             "last": min(self.trim["last"], plan["last"])}
        elif plan.get("kind") == "crop-resize":
            self.crop_ids.append(id(op))
            self.crop = self.crop or plan
        elif plan.get("kind") == "retime":
            self.retime_ids.append(id(op))
            if self.retime is None or plan.get("priority", 0) > self.retime.get("priority", 0):
                self.retime = plan
        else:
            self.crop_ids.append(id(op))  # a plan this version does not know: job() refuses it

    def _only(self, parts: Sequence[str]) -> Rewrite:
        """The rewrite of these parts alone (bars, crop, retime, trim)."""
        out = Rewrite(self.path, self.root)
        for name in parts:
            setattr(out, name, getattr(self, name))
            setattr(out, f"{name}_ids", list(getattr(self, f"{name}_ids")))
        out.fixes = [(part, d) for part, d in self.fixes if part in parts]
        return out

    def parts(self) -> list[tuple[Rewrite, Rewrite]]:
        """(some parts, the rest): every proper subset of the planned parts, the largest first
        (in the order bars, crop, re-time, trim: the crop alone before the re-time alone) —
        what is left to try when the whole rewrite would make the clip worse."""
        planned = [name for name in self.PARTS if getattr(self, name) is not None]
        out = []
        for size in range(len(planned) - 1, 0, -1):
            for chosen in itertools.combinations(planned, size):
                out.append((self._only(chosen), self._only([n for n in planned if n not in chosen])))
        return out

    def what(self) -> str:
        return " and ".join(name for name, plan in (("bar crop", self.bars), ("crop", self.crop),
                                                    ("re-time", self.retime), ("trim", self.trim)) if plan)

    def _plans(self) -> list[dict]:
        return [plan for plan in (self.bars, self.crop, self.retime, self.trim) if plan]

    def _window(self) -> tuple[tuple[int, int, int, int] | None, tuple[int, int] | None, dict | None]:
        """(crop window, output size, the aspect plan's target when not upscaled): the bars'
        box first, then the aspect crop inside it (CVL105's, or the bars plan's own target)."""
        crop, bars = self.crop, self.bars
        if bars is None:
            return (tuple(crop["crop"]), tuple(crop["resize"]), crop.get("not_upscaled")) if crop else (None, None, None)
        bx, by, bw, bh = bars["box"]
        target = (crop.get("not_upscaled") or crop["resize"]) if crop else bars.get("target")
        if target is None:
            return (bx, by, bw, bh), (bw, bh), None
        (x, y, w, h), size, upscale = crop_resize_plan(bw, bh, int(target[0]), int(target[1]))
        return (bx + x, by + y, w, h), tuple(size), (list(target) if upscale else None)

    def steps(self) -> str:
        """`1280x720 → crop 1080x720 → resize 720x480` (for --diff)."""
        crop, retime = self.crop, self.retime
        plans = self._plans()
        first = plans[0] if plans else {}
        width, height = first.get("source", (0, 0))
        rotation = first.get("rotation", 0)
        parts = []
        if rotation:
            coded = (height, width) if rotation in (90, 270) else (width, height)
            parts.append(f"{coded[0]}x{coded[1]} rotated {rotation}°")
        parts.append(f"{width}x{height}")
        if self.trim:
            parts.append(f"frames {self.trim['first']}-{self.trim['last']} "
                         f"({self.trim['last'] - self.trim['first'] + 1} of {self.trim['frames_before']})")
        if self.bars:
            box = self.bars["box"]
            parts.append(f"crop the bars {box[2]}x{box[3]}")
            window, size, not_upscaled = self._window()
            if window is not None and (window[2], window[3]) != (box[2], box[3]):
                parts.append(f"crop {window[2]}x{window[3]}")
            if not_upscaled:
                parts[-1] += f" (not upscaled to {not_upscaled[0]}x{not_upscaled[1]})"
            elif size is not None and tuple(size) != (window[2], window[3]):
                parts.append(f"resize {size[0]}x{size[1]}")
        elif crop and crop.get("not_upscaled"):
            target = crop["not_upscaled"]
            parts.append(f"crop {crop['crop'][2]}x{crop['crop'][3]} (not upscaled to {target[0]}x{target[1]})")
        elif crop:
            parts += [f"crop {crop['crop'][2]}x{crop['crop'][3]}", f"resize {crop['resize'][0]}x{crop['resize'][1]}"]
        if retime:
            parts.append(f"{retime['source_fps']:g} fps → {retime['fps']:g} fps ({self._retimed_frames()} frames)")
        return " → ".join(parts)

    def _kept(self) -> int | None:
        """Source frames a trim keeps (None: no trim)."""
        return self.trim["last"] - self.trim["first"] + 1 if self.trim else None

    def _retimed_frames(self) -> int:
        retime, kept = self.retime, self._kept()
        if kept is None or not retime.get("source_fps"):
            return int(retime["frames"])
        return max(1, round(kept * retime["fps"] / retime["source_fps"]))

    def job(self, info) -> Job | str:
        """The job for the clip as it is now, or why the plans no longer fit it."""
        if info.error:
            return f"it does not read: {info.error}"
        plans = self._plans()
        for plan in plans:
            if (list(plan.get("source", ())) != [info.width, info.height]
                    or plan.get("rotation", 0) != info.rotation):
                return "it changed since it was checked (run again)"
        crop, retime, trim = self.crop, self.retime, self.trim
        if not plans:
            return "no plan this version of cogvid-lint knows"
        first, last = 0, None
        if trim is not None:
            if trim.get("frames_before") != info.frames:
                return "it changed since it was checked (run again)"
            first, last = int(trim["first"]), int(trim["last"])
            if not 0 <= first <= last < info.frames:
                return f"the trims planned leave no frame (frames {first}-{last})"
        window, size, _ = self._window()
        kept = self._kept() or info.frames
        return Job(rotation=info.rotation, crop=window, size=size,
                   fps=Fraction(retime["fps"]).limit_denominator(1001000) if retime else None,
                   frames=self._retimed_frames() if retime else kept,
                   crf=int(plans[0].get("crf", DEFAULT_CRF)), muxer=muxer_for(self.path),
                   first_frame=first, last_frame=last)


def merge(ops: Sequence[tuple[RewriteMedia, object]]) -> list[Rewrite]:
    """One `Rewrite` per clip, in the order the clips were first named."""
    rewrites: dict[Path, Rewrite] = {}
    for op, diagnostic in ops:
        path = Path(os.path.normpath(op.path))
        rewrites.setdefault(path, Rewrite(path, Path(os.path.normpath(op.root)))).add(op, diagnostic)
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
    elif (job.first_frame > 0 or job.last_frame is not None) and info.fps:
        after = replace(after, duration_s=job.frames / info.fps)  # a trim keeps the rate
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
