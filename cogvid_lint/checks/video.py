"""Video rules: what the trainer will really see of each clip (CVL1xx)."""

from __future__ import annotations

from typing import Iterator

from cogvid_lint.checks.common import clip_finding, every_text, last_frames_text, rate_text, turned_text
from cogvid_lint.discover.project import Clip
from cogvid_lint.findings import Finding
from cogvid_lint.registry import RuleContext, check
from cogvid_lint.settings import Options
from cogvid_lint.trainers import Resize, Sample


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


def _sample(clip: Clip) -> Sample | None:
    """What the dataset's trainer takes of the clip (None: unreadable, or no training size)."""
    info = clip.info
    if info is None or info.error is not None or info.frames <= 0:
        return None
    dataset = clip.dataset
    if dataset.profile.target_frames(dataset.settings) is None:
        return None
    return dataset.sample(info.frames, info.fps)


@check("video.trainer_crash", args=("trainer", "error"))
def trainer_crash(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    sample, resize = _sample(clip), _resize(clip)
    crash = (sample.crash if sample is not None else None) or (resize.crash if resize is not None else None)
    if crash:
        yield clip_finding(clip, {"trainer": clip.dataset.profile.title, "error": crash})


@check("video.padded_short", args=("frames", "target", "padded", "percent", "padding"))
def padded_short_video(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    sample = _sample(clip)
    if sample is not None and sample.padded > 0 and sample.crash is None:
        yield clip_finding(clip, {"frames": sample.source, "target": sample.target, "padded": sample.padded,
                                  "percent": round(100 * sample.padded / sample.target), "padding": sample.padding})


@check("video.dropped_frames", args=("frames", "target", "stride", "unseen", "seconds", "sampling"))
def dropped_frames(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    sample = _sample(clip)
    if sample is None or sample.unseen_tail <= 0 or sample.crash is not None:
        return
    fps = clip.info.fps
    seconds = f"{sample.unseen_tail / fps:.2f} s" if fps else "unknown seconds"
    yield clip_finding(clip, {"frames": sample.source, "target": sample.target, "stride": _number(sample.stride),
                              "unseen": last_frames_text(sample.unseen_tail), "seconds": seconds,
                              "sampling": sample.what})


def _number(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}" if float(value).is_integer() else f"{value:.3g}"


def _resize(clip: Clip) -> Resize | None:
    info = clip.info
    if info is None or info.error is not None or info.width <= 0 or info.height <= 0:
        return None
    return clip.dataset.resize(info.width, info.height, info.frames)


def _options(ctx: RuleContext) -> Options:
    return ctx.settings.options if ctx.settings is not None else Options()


@check("video.aspect_mismatch",
       args=("width", "height", "aspect", "target_width", "target_height", "target_aspect", "rotated"))
def aspect_mismatch(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    resize = _resize(clip)
    if resize is None or resize.mode != "stretch":  # a trainer that crops keeps the aspect
        return
    info = clip.info
    aspect = info.width / info.height
    target = resize.width / resize.height
    if abs(aspect - target) / target > ctx.params["tolerance"]:
        from cogvid_lint.fix.media_plan import crop_resize_fix
        from cogvid_lint.models import Resolution

        rotated = f" (displayed {turned_text(info.rotation)})" if info.rotation else ""
        frames = clip.dataset.profile.target_frames(clip.dataset.settings) or 1
        yield clip_finding(clip, {"width": info.width, "height": info.height, "aspect": f"{aspect:.3f}",
                                  "target_width": resize.width, "target_height": resize.height,
                                  "target_aspect": f"{target:.3f}", "rotated": rotated},
                           fix=crop_resize_fix(clip, Resolution(frames, resize.height, resize.width),
                                               crf=_options(ctx).fix_crf))


@check("video.crop_loses_frame", args=("trainer", "how", "width", "height", "target_width", "target_height", "lost"))
def crop_loses_frame(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    resize = _resize(clip)
    if resize is None or resize.mode == "stretch" or resize.lost <= ctx.params["max_lost"]:
        return
    info = clip.info
    how = "center-crops" if resize.mode == "crop-only" else "scales and center-crops"
    yield clip_finding(clip, {"trainer": clip.dataset.profile.title, "how": how, "width": info.width,
                              "height": info.height, "target_width": resize.width, "target_height": resize.height,
                              "lost": round(100 * resize.lost)})


@check("video.upscaled", args=("width", "height", "target_width", "target_height", "factor"))
def upscaled_video(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    resize = _resize(clip)
    if resize is not None and resize.upscale > 1:
        info = clip.info
        yield clip_finding(clip, {"width": info.width, "height": info.height, "target_width": resize.width,
                                  "target_height": resize.height, "factor": f"{resize.upscale:.2f}"})


@check("video.speed_mismatch", args=("fps", "stride", "every", "effective", "model_fps", "ratio", "motion", "sampled"))
def speed_mismatch(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
    sample = _sample(clip)
    spec = clip.dataset.settings.model_spec
    if sample is None or spec is None or not sample.effective_fps or sample.crash is not None:
        return
    effective = sample.effective_fps
    ratio = effective / spec.fps
    factor = ctx.params["factor"]
    if ratio > factor or ratio < 1 / factor:
        # More source frames a second than the model's rate, shown at that rate: each second
        # of the clip lasts `ratio` seconds in training, slow motion; fewer, fast motion.
        motion = "slow" if ratio > 1 else "fast"
        stride = sample.stride
        regular = stride is not None and float(stride).is_integer()
        every = every_text(int(stride)) if regular else f"every {_number(stride)} frames"
        sampled = f"sampled {every}" if regular else f"spread over the whole clip ({every})"
        yield clip_finding(clip, {"fps": rate_text(clip.info.fps), "stride": _number(stride), "every": every,
                                  "effective": rate_text(effective), "model_fps": spec.fps, "ratio": f"{ratio:.2f}",
                                  "motion": motion, "sampled": sampled},
                           fix=_speed_fix(clip, ctx, spec.fps))


def _speed_fix(clip: Clip, ctx: RuleContext, model_fps: int):
    """Resample to the model's rate (with `fix-speed: true`) when that settles it: under 2F
    frames at that rate the trainer samples at stride 1. A longer clip would be sampled at a
    stride again (its whole length squeezed into F frames): no fix, it needs trimming."""
    if not _options(ctx).fix_speed or clip.dataset.profile.name != "finetune":
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
