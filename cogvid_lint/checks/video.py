"""Video rules: what the trainer will really see of each clip (CVL1xx)."""

from __future__ import annotations

from typing import Iterator

from cogvid_lint.checks.common import clip_finding, every_text, last_frames_text, rate_text, turned_text
from cogvid_lint.discover.project import Clip
from cogvid_lint.findings import Finding
from cogvid_lint.registry import RuleContext, check
from cogvid_lint.sampling import sample_plan
from cogvid_lint.settings import Options


@check("video.unreadable", args=("reason",))
def unreadable_video(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    if clip.info.error is not None:
        yield clip_finding(clip, {"reason": clip.info.error})


# Each rule below runs once per clip (a re-lint of 100,000 clips: 1.3 M calls), so they read
# `clip.info` once into a local and take the dataset's resolution and model from the Dataset,
# which looks them up once.

@check("video.too_few_frames", args=("frames",))
def too_few_frames(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    info = clip.info
    if info is not None and info.error is None and info.frames < ctx.params["min_frames"]:
        yield clip_finding(clip, {"frames": info.frames})


def _plan(clip: Clip):
    info = clip.info
    if info is None or info.error is not None or info.frames <= 0:
        return None
    resolution = clip.dataset.settings.resolution
    return None if resolution is None else sample_plan(info.frames, resolution.frames, info.fps)


@check("video.padded_short", args=("frames", "target", "padded", "percent"))
def padded_short_video(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    plan = _plan(clip)
    if plan is not None and plan.padded_frames > 0:
        yield clip_finding(clip, {"frames": plan.source_frames, "target": plan.target_frames,
                                  "padded": plan.padded_frames,
                                  "percent": round(100 * plan.padded_frames / plan.target_frames)})


@check("video.dropped_frames", args=("frames", "target", "stride", "every", "unseen", "seconds"))
def dropped_frames(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    plan = _plan(clip)
    if plan is None or plan.tail_frames <= 0:
        return
    seconds = f"{plan.tail_seconds:.2f} s" if plan.tail_seconds is not None else "unknown seconds"
    yield clip_finding(clip, {"frames": plan.source_frames, "target": plan.target_frames, "stride": plan.stride,
                              "every": every_text(plan.stride), "unseen": last_frames_text(plan.tail_frames),
                              "seconds": seconds})


def _display_aspect(clip: Clip) -> float | None:
    info = clip.info
    if info is None or info.error is not None or info.width <= 0 or info.height <= 0:
        return None
    return info.width / info.height


def _options(ctx: RuleContext) -> Options:
    return ctx.settings.options if ctx.settings is not None else Options()


@check("video.aspect_mismatch",
       args=("width", "height", "aspect", "target_width", "target_height", "target_aspect", "rotated"))
def aspect_mismatch(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    aspect = _display_aspect(clip)
    resolution = clip.dataset.settings.resolution
    if aspect is None or resolution is None:
        return
    target = resolution.width / resolution.height
    if abs(aspect - target) / target > ctx.params["tolerance"]:
        from cogvid_lint.fix.media_plan import crop_resize_fix

        info = clip.info
        rotated = f" (displayed {turned_text(info.rotation)})" if info.rotation else ""
        yield clip_finding(clip, {"width": info.width, "height": info.height, "aspect": f"{aspect:.3f}",
                                  "target_width": resolution.width, "target_height": resolution.height,
                                  "target_aspect": f"{target:.3f}", "rotated": rotated},
                           fix=crop_resize_fix(clip, resolution, crf=_options(ctx).fix_crf))


@check("video.upscaled", args=("width", "height", "target_width", "target_height", "factor"))
def upscaled_video(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    info = clip.info
    if info is None or info.error is not None or info.width <= 0:
        return
    resolution = clip.dataset.settings.resolution
    if resolution is None:
        return
    if info.width < resolution.width or info.height < resolution.height:
        factor = max(resolution.width / info.width, resolution.height / max(info.height, 1))
        yield clip_finding(clip, {"width": info.width, "height": info.height, "target_width": resolution.width,
                                  "target_height": resolution.height, "factor": f"{factor:.2f}"})


@check("video.speed_mismatch", args=("fps", "stride", "every", "effective", "model_fps", "ratio", "motion"))
def speed_mismatch(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    plan = _plan(clip)
    spec = clip.dataset.settings.model_spec
    if plan is None or spec is None or not clip.info.fps:
        return
    effective = clip.info.fps / plan.stride
    ratio = effective / spec.fps
    factor = ctx.params["factor"]
    if ratio > factor or ratio < 1 / factor:
        motion = "fast" if ratio > 1 else "slow"
        yield clip_finding(clip, {"fps": rate_text(clip.info.fps), "stride": plan.stride,
                                  "every": every_text(plan.stride), "effective": rate_text(effective),
                                  "model_fps": spec.fps, "ratio": f"{ratio:.2f}", "motion": motion},
                           fix=_speed_fix(clip, ctx, spec.fps))


def _speed_fix(clip: Clip, ctx: RuleContext, model_fps: int):
    """Resample to the model's rate (with `fix-speed: true`) when that settles it: under 2F
    frames at that rate the trainer samples at stride 1. A longer clip would be sampled at a
    stride again (its whole length squeezed into F frames): no fix, it needs trimming."""
    if not _options(ctx).fix_speed:
        return None
    from cogvid_lint.fix.media_plan import SPEED_PRIORITY, retime_fix, retimed_frames

    target = clip.dataset.settings.resolution.frames
    frames = retimed_frames(clip, model_fps)
    if frames >= 2 * target:
        return None
    why = "the model's rate" + (f"; the trainer pads it to {target} frames" if frames < target else "")
    return retime_fix(clip, model_fps, why, SPEED_PRIORITY, crf=_options(ctx).fix_crf)


@check("video.variable_frame_rate", args=("min_ms", "max_ms"))
def variable_frame_rate(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    info = clip.info
    if info is not None and info.error is None and info.variable_frame_rate:
        low = f"{info.min_frame_duration_s * 1000:.1f}" if info.min_frame_duration_s else "?"
        high = f"{info.max_frame_duration_s * 1000:.1f}" if info.max_frame_duration_s else "?"
        yield clip_finding(clip, {"min_ms": low, "max_ms": high}, fix=_constant_rate_fix(clip, ctx))


def _constant_rate_fix(clip: Clip, ctx: RuleContext):
    """With `fix-speed: true`: re-time to the whole rate nearest the clip's average."""
    if not _options(ctx).fix_speed or not clip.info.fps:
        return None
    from cogvid_lint.fix.media_plan import CONSTANT_RATE_PRIORITY, retime_fix

    return retime_fix(clip, max(1, round(clip.info.fps)), "constant rate", CONSTANT_RATE_PRIORITY,
                      crf=_options(ctx).fix_crf)


@check("video.missing_fps")
def missing_fps(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    info = clip.info
    if info is not None and info.error is None and not info.fps:
        yield clip_finding(clip)


@check("video.header_mismatch", args=("header_frames", "frames"))
def frame_count_header_mismatch(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    info = clip.info
    if info is not None and info.error is None and info.header_frames > info.frames:
        yield clip_finding(clip, {"header_frames": info.header_frames, "frames": info.frames})
